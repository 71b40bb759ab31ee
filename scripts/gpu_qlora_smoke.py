#!/usr/bin/env python3
"""QLoRA smoke test on a GPU with the tiny random chat model: nf4 loading, generation, training, reload.

Needs only torch, transformers, peft, accelerate and (on a GPU) bitsandbytes: no pydantic,
no LangChain, no network. It builds the tests' tiny model (tests/fixtures/tiny_model.py),
loads it in 4-bit nf4 with bfloat16 compute, checks that its Linear layers became
bitsandbytes ``Linear4bit``, generates a few tokens, trains a LoRA adapter for a few steps
with ``finetune.training.train_lora`` (the code `advisor finetune train` runs), reloads the
adapter on a fresh 4-bit model and generates again. Prints one JSON summary; exits 1 when
a check fails. ``--cpu`` runs the same steps on the CPU without 4-bit (float32).

    python3 scripts/gpu_qlora_smoke.py [--cpu] [--steps 10] [--out DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SYSTEM = "You are the assistant of a bank advisor. Write only from the findings. Never invent numbers."
EXAMPLES = [
    ("What does the customer spend on groceries?", "The customer spends EUR 1,234.56 a month on groceries."),
    ("How high is credit utilisation?", "Credit utilisation is 78.0% and the debt-to-income ratio is 32.5%."),
    ("Which offer fits?", "Recommended offer: a travel credit card at band B, 20.9% APR."),
    ("Which disclosures apply?", "Disclosures you must give: the APR, the representative example and the fees."),
    ("How can the customer save?",
     "Savings plan: save EUR 250.00 each month by cancelling a duplicate subscription."),
    ("Anything suspicious?", "Suspicious transaction T-0000123 of EUR 2,300.00 abroad at 03:12, a new merchant."),
]


def _load_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _conversations() -> list[list[dict[str, str]]]:
    return [[{"role": "system", "content": SYSTEM}, {"role": "user", "content": question},
             {"role": "assistant", "content": answer}] for question, answer in EXAMPLES]


def _generate(model, tokenizer, prompt_ids: list[int], new_tokens: int) -> str:
    import torch

    inputs = torch.tensor([prompt_ids], device=model.device)
    with torch.inference_mode():
        output = model.generate(input_ids=inputs, attention_mask=torch.ones_like(inputs),
                                max_new_tokens=new_tokens, do_sample=False,
                                pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    return tokenizer.decode(output[0, len(prompt_ids):], skip_special_tokens=True)


def _linear_layers(model) -> dict[str, int]:
    """How many Linear layers are 4-bit (bitsandbytes), and how many are not (besides lm_head)."""
    import torch

    counts = {"linear4bit": 0, "other_linear": 0}
    try:
        from bitsandbytes.nn import Linear4bit
    except ImportError:
        Linear4bit = None
    for name, module in model.named_modules():
        if Linear4bit is not None and isinstance(module, Linear4bit):
            counts["linear4bit"] += 1
        elif isinstance(module, torch.nn.Linear) and not name.endswith("lm_head"):
            counts["other_linear"] += 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="run on the CPU in float32, without 4-bit")
    parser.add_argument("--steps", type=int, default=10, help="QLoRA optimiser steps")
    parser.add_argument("--out", type=Path, default=None, help="folder for the JSON summary and the adapter")
    arguments = parser.parse_args()
    if arguments.cpu:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.path.insert(0, str(REPO_ROOT))

    import peft
    import torch
    import transformers
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from finetune.training import (
        LoraTrainingConfig,
        load_tokenizer,
        prompt_token_ids,
        train_lora,
        training_load_kwargs,
    )

    tiny_model = _load_module("tiny_model", REPO_ROOT / "tests" / "fixtures" / "tiny_model.py")
    cuda = torch.cuda.is_available()
    quantise = cuda and not arguments.cpu
    started = time.perf_counter()
    summary: dict[str, object] = {
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__,
                     "transformers": transformers.__version__, "peft": peft.__version__},
        "load_in_4bit": quantise,
    }
    if quantise:
        import bitsandbytes

        summary["versions"]["bitsandbytes"] = bitsandbytes.__version__
    checks: dict[str, bool] = {}
    work = Path(tempfile.mkdtemp(prefix="qlora-smoke-"))
    out = arguments.out or work
    out.mkdir(parents=True, exist_ok=True)

    model_dir = tiny_model.build_tiny_chat_model(work / "tiny-model")
    tokenizer = load_tokenizer(str(model_dir))
    prompt = prompt_token_ids(tokenizer, _conversations()[2][:-1])
    if cuda:
        torch.cuda.reset_peak_memory_stats()

    base = AutoModelForCausalLM.from_pretrained(model_dir, **training_load_kwargs(quantise, cuda))
    layers = _linear_layers(base)
    summary["base_linear_layers"] = layers
    summary["base_dtype"] = str(next(p for p in base.parameters() if p.is_floating_point()).dtype)
    if quantise:
        checks["linear_layers_are_4bit"] = layers["linear4bit"] > 0 and layers["other_linear"] == 0
        compute = {str(m.compute_dtype) for m in base.modules() if hasattr(m, "compute_dtype") and m.compute_dtype}
        summary["compute_dtypes"] = sorted(compute)
        checks["compute_dtype_is_bfloat16"] = compute == {"torch.bfloat16"}
    summary["base_generation"] = _generate(base, tokenizer, prompt, 8)
    checks["base_generates"] = isinstance(summary["base_generation"], str)
    del base

    config = LoraTrainingConfig(base_model=str(model_dir), rank=8, alpha=16, learning_rate=5e-3,
                                max_steps=arguments.steps, max_length=512, batch_size=2, grad_accumulation=1,
                                load_in_4bit=quantise, gradient_checkpointing=True)
    adapter_dir = out / "adapter"
    result = train_lora(config, _conversations(), adapter_dir)
    summary["training"] = result.as_dict()
    checks["trained_all_steps"] = result.steps == arguments.steps
    checks["loss_is_finite"] = bool(result.losses) and all(math.isfinite(loss) for loss in result.losses)
    checks["quantised_as_asked"] = (result.quantisation == "nf4") == quantise

    reloaded = AutoModelForCausalLM.from_pretrained(model_dir, **training_load_kwargs(quantise, cuda))
    tuned = PeftModel.from_pretrained(reloaded, str(adapter_dir))
    tuned.eval()
    lora_layers = sum(1 for name, _ in tuned.named_modules() if name.endswith("lora_A"))
    summary["reloaded_lora_layers"] = lora_layers
    summary["reloaded_linear_layers"] = _linear_layers(tuned)
    checks["adapter_reloads"] = lora_layers > 0
    summary["adapted_generation"] = _generate(tuned, tokenizer, prompt, 8)
    summary["generation_changed"] = summary["adapted_generation"] != summary["base_generation"]

    if cuda:
        summary["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    summary["checks"] = checks
    summary["passed"] = all(checks.values())
    text = json.dumps(summary, indent=2, default=str)
    (out / "gpu_qlora_smoke.json").write_text(text + "\n")
    print(text)
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
