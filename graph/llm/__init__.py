"""The LLM backends behind ``graph.backend.get_backend``: offline, zephyr (transformers) and
openai (any OpenAI-compatible server). Import them through ``graph.backend``."""
