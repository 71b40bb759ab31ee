"""GPU smoke test of the zephyr backend's 4-bit path (graph/llm/zephyr.py) on a tiny local model.

Run on a CUDA machine with torch, transformers, peft, bitsandbytes and pydantic: it builds the
tiny random-weight chat model of the tests (no download), loads it through ``ZephyrBackend`` with
``load_in_4bit=True``, checks the linear layers are bitsandbytes ``Linear4bit`` computing in
bfloat16, generates and streams with and without a LoRA adapter, and prints a JSON summary.
Exit status 1 when a check fails. ``--model DIR`` points it at a real local Zephyr folder instead.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _tiny_model_module():
    spec = importlib.util.spec_from_file_location("tiny_model", REPO_ROOT / "tests" / "fixtures" / "tiny_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _linear_kinds(model) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for module in model.modules():
        name = type(module).__name__
        if "Linear" in name:
            kinds[name] = kinds.get(name, 0) + 1
    return kinds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=None, help="a local chat model folder (default: build the tiny one)")
    parser.add_argument("--out", type=Path, default=None, help="folder for the JSON summary")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO_ROOT))

    import torch

    from graph.llm.zephyr import ZephyrBackend

    work = Path(tempfile.mkdtemp(prefix="zephyr-smoke-"))
    tiny = _tiny_model_module()
    model_dir = args.model or tiny.build_tiny_chat_model(work / "model")
    adapter_dir = None if args.model else tiny.build_tiny_lora_adapter(model_dir, work / "adapter")
    messages = [
        {"role": "system", "content": "You are the assistant of a bank advisor. Write only from the findings."},
        {"role": "user", "content": "Findings: utilisation 78.0%, debt-to-income 32.5%. Summarise."},
    ]
    summary: dict[str, object] = {"cuda": torch.cuda.is_available(), "checks": {}}
    checks: dict[str, bool] = summary["checks"]  # type: ignore[assignment]
    if torch.cuda.is_available():
        summary["gpu"] = torch.cuda.get_device_name(0)
        torch.cuda.reset_peak_memory_stats()

    outputs = {}
    for label, adapter in (("base", None), ("adapter", adapter_dir)):
        if label == "adapter" and adapter is None:
            continue
        backend = ZephyrBackend(str(model_dir), adapter=adapter, load_in_4bit=True, prompt_token_budget=4000,
                                timeout_s=60.0)
        started = time.perf_counter()
        result = backend.generate(messages, max_new_tokens=24)
        generate_s = time.perf_counter() - started
        pieces = list(backend.stream(messages, max_new_tokens=24))
        model = backend.load()
        kinds = _linear_kinds(model)
        compute = {str(m.compute_dtype) for m in model.modules()
                   if type(m).__name__ == "Linear4bit" and type(m).__module__.startswith("bitsandbytes")}
        outputs[label] = result.text
        summary[label] = {
            "describe": backend.describe(),
            "linear_layers": kinds,
            "linear4bit_compute_dtypes": sorted(compute),
            "generate_s": round(generate_s, 3),
            "tokens": result.completion_tokens if hasattr(result, "completion_tokens") else None,
            "stream_pieces": len(pieces),
            "stream_equals_generate": "".join(pieces) == result.text,
        }
        checks[f"{label}_quantised_nf4"] = backend.quantisation == "nf4" and kinds.get("Linear4bit", 0) > 0
        checks[f"{label}_bfloat16_compute"] = compute == {"torch.bfloat16"}
        checks[f"{label}_on_cuda"] = str(backend.device).startswith("cuda")
        checks[f"{label}_generates"] = bool(result.text)
        checks[f"{label}_stream_equals_generate"] = "".join(pieces) == result.text
    if "adapter" in outputs:
        checks["adapter_changes_output"] = outputs["adapter"] != outputs["base"]
    if torch.cuda.is_available():
        summary["peak_gpu_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    summary["ok"] = all(checks.values())
    text = json.dumps(summary, indent=2, default=str)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "zephyr_smoke.json").write_text(text)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
