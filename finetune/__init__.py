"""Continuous learning for the zephyr backend: export approved answers from the audit trail,
train a LoRA adapter on them, and activate it only when the gated evaluation suites still pass.

``finetune.training`` imports only torch, transformers and peft (no pydantic, no LangChain),
so a bare GPU machine can run it; the other modules belong to the application.
"""
