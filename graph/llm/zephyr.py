"""Zephyr (or any chat model with a chat template) in this process, through transformers.

On a GPU with ``load_in_4bit`` the weights are quantised to 4-bit nf4 with bitsandbytes
and computed in bfloat16; without a GPU the model loads unquantised in float32. A LoRA
adapter folder (peft) is applied on top when configured. Generation is greedy, so the
same prompt gives the same answer (the audit trail can replay it), and stops after
``timeout_s`` (transformers' ``max_time``); a stopped generation is reported as a
timeout so the caller falls back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

from graph.llm.base import (
    LLMBackend,
    LLMResult,
    LLMTimeout,
    LLMUnavailable,
    Message,
    StreamEnd,
    with_json_instruction,
)

log = logging.getLogger(__name__)


def model_load_kwargs(load_in_4bit: bool, cuda_available: bool) -> dict[str, Any]:
    """The ``from_pretrained`` arguments for this machine: nf4 on a GPU, float32 on a CPU."""
    import torch

    if not cuda_available:
        if load_in_4bit:
            log.warning("load_in_4bit needs a CUDA GPU; loading the model unquantised in float32 on the CPU")
        return {"dtype": torch.float32}
    kwargs: dict[str, Any] = {"dtype": torch.bfloat16, "device_map": "auto"}
    if load_in_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
        )
    return kwargs


class ZephyrBackend(LLMBackend):
    name = "zephyr"

    def __init__(
        self,
        model: str,
        *,
        adapter: Path | None,
        load_in_4bit: bool,
        prompt_token_budget: int,
        timeout_s: float,
    ) -> None:
        super().__init__(model, prompt_token_budget=prompt_token_budget, timeout_s=timeout_s)
        self.adapter = adapter
        self.load_in_4bit = load_in_4bit
        self.load_seconds: float | None = None
        self.device: str | None = None
        self.quantisation: str | None = None
        self._tokenizer: Any = None
        self._model: Any = None
        self._load_error: LLMUnavailable | None = None
        self._load_lock = threading.Lock()
        self._generate_lock = threading.Lock()

    # --- loading -----------------------------------------------------------------------
    def _offline(self) -> bool:
        import huggingface_hub

        return huggingface_hub.is_offline_mode()

    def tokenizer(self) -> Any:
        with self._load_lock:
            if self._tokenizer is None:
                from transformers import AutoTokenizer

                try:
                    self._tokenizer = AutoTokenizer.from_pretrained(self.model, local_files_only=self._offline())
                except Exception as exc:  # any loader error means: no model here
                    raise LLMUnavailable(f"could not load the tokenizer of {self.model!r}: {exc}") from exc
                if self._tokenizer.chat_template is None:
                    raise LLMUnavailable(f"{self.model!r} has no chat template")
            return self._tokenizer

    def load(self) -> Any:
        """Load the model (once); the first failure is kept and raised again on every call."""
        tokenizer = self.tokenizer()
        with self._load_lock:
            if self._load_error is not None:
                raise self._load_error
            if self._model is None:
                try:
                    self._model = self._load_model()
                except Exception as exc:
                    self._load_error = LLMUnavailable(f"could not load model {self.model!r}: {exc}")
                    raise self._load_error from exc
                if tokenizer.pad_token_id is None:
                    tokenizer.pad_token = tokenizer.eos_token
            return self._model

    def _load_model(self) -> Any:
        import torch
        from transformers import AutoModelForCausalLM

        started = time.perf_counter()
        cuda = torch.cuda.is_available()
        kwargs = model_load_kwargs(self.load_in_4bit, cuda)
        model = AutoModelForCausalLM.from_pretrained(self.model, local_files_only=self._offline(), **kwargs)
        if self.adapter is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(self.adapter))
        model.eval()
        self.quantisation = "nf4" if "quantization_config" in kwargs else None
        self.device = str(model.device)
        self.load_seconds = round(time.perf_counter() - started, 2)
        log.info("loaded %s on %s in %.1f s (adapter: %s)", self.model, self.device, self.load_seconds,
                 self.adapter)
        return model

    # --- backend interface ---------------------------------------------------------------
    def warm_up(self) -> None:
        self.load()

    def count_tokens(self, messages: Sequence[Message]) -> int:
        encoded = self.tokenizer().apply_chat_template(
            list(messages),
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            sanitize_control_tokens=True,
        )
        return len(encoded["input_ids"])

    def _inputs(self, model: Any, messages: list[Message]) -> Any:
        encoded = self.tokenizer().apply_chat_template(
            messages,
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
            sanitize_control_tokens=True,
        )
        return encoded.to(model.device)

    def _generation_config(self, max_new_tokens: int) -> Any:
        from transformers import GenerationConfig

        tokenizer = self.tokenizer()
        return GenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=False,
            max_time=self.timeout_s,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )

    def _finish_reason(self, new_ids: Any, max_new_tokens: int, elapsed_s: float) -> str:
        eos = self.tokenizer().eos_token_id
        if len(new_ids) and int(new_ids[-1]) == eos:
            return "stop"
        if len(new_ids) >= max_new_tokens:
            return "length"
        if elapsed_s >= self.timeout_s:
            raise LLMTimeout(f"generation stopped after {self.timeout_s:g} s")
        return "stop"

    def _generate(self, messages: list[Message], max_new_tokens: int, json_schema: dict | None) -> LLMResult:
        import torch

        if json_schema is not None:
            messages = with_json_instruction(messages, json_schema)
        model = self.load()
        inputs = self._inputs(model, messages)
        prompt_length = inputs["input_ids"].shape[1]
        with self._generate_lock, torch.inference_mode():
            started = time.perf_counter()
            output = model.generate(**inputs, generation_config=self._generation_config(max_new_tokens))
            elapsed = time.perf_counter() - started
        new_ids = output[0, prompt_length:]
        finish = self._finish_reason(new_ids, max_new_tokens, elapsed)
        return LLMResult(
            text=self.tokenizer().decode(new_ids, skip_special_tokens=True).strip(),
            prompt_tokens=int(prompt_length),
            completion_tokens=int(len(new_ids)),
            latency_ms=round(elapsed * 1000, 1),
            finish_reason=finish,
            model=self.model,
        )

    def _stream(self, messages: list[Message], max_new_tokens: int) -> Generator[str, None, StreamEnd]:
        import queue

        import torch
        from transformers import TextIteratorStreamer

        model = self.load()
        inputs = self._inputs(model, messages)
        prompt_length = int(inputs["input_ids"].shape[1])
        streamer = TextIteratorStreamer(
            self.tokenizer(), skip_prompt=True, skip_special_tokens=True, timeout=self.timeout_s
        )
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                with self._generate_lock, torch.inference_mode():
                    outcome["output"] = model.generate(
                        **inputs, generation_config=self._generation_config(max_new_tokens), streamer=streamer
                    )
            except Exception as exc:  # reported to the consumer below
                outcome["error"] = exc
                streamer.end()

        started = time.perf_counter()
        worker = threading.Thread(target=run, name="zephyr-stream", daemon=True)
        worker.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
        except queue.Empty as exc:
            raise LLMTimeout(f"no token for {self.timeout_s:g} s") from exc
        worker.join(self.timeout_s)
        if worker.is_alive():
            raise LLMTimeout(f"generation still running after {self.timeout_s:g} s")
        if "error" in outcome:
            raise LLMUnavailable(f"generation failed: {outcome['error']}") from outcome["error"]
        new_ids = outcome["output"][0, prompt_length:]
        finish = self._finish_reason(new_ids, max_new_tokens, time.perf_counter() - started)
        return StreamEnd(prompt_tokens=prompt_length, completion_tokens=int(len(new_ids)), finish_reason=finish)

    def describe(self) -> dict[str, object]:
        return {
            **super().describe(),
            "adapter": str(self.adapter) if self.adapter else None,
            "device": self.device,
            "quantisation": self.quantisation,
            "load_seconds": self.load_seconds,
        }
