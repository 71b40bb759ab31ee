"""The shared LLM backend: one instance per process, chosen by ``settings.llm_backend``.

``get_backend(settings)`` is the entry point; the implementations live in ``graph/llm/``.
Only that package imports transformers, bitsandbytes, peft or an OpenAI client, and
only inside the backend classes, when a model is first used.
"""

from __future__ import annotations

import threading

from advisor.settings import Settings
from graph.llm.base import (
    BackendUsage,
    LLMBackend,
    LLMError,
    LLMResult,
    LLMTimeout,
    LLMUnavailable,
    Message,
    PromptTooLong,
)
from graph.llm.structured import StructuredReply, first_json_object, generate_structured

__all__ = [
    "BackendUsage",
    "LLMBackend",
    "LLMError",
    "LLMResult",
    "LLMTimeout",
    "LLMUnavailable",
    "Message",
    "PromptTooLong",
    "StructuredReply",
    "build_backend",
    "first_json_object",
    "generate_structured",
    "get_backend",
    "reset_backends",
]


def build_backend(settings: Settings) -> LLMBackend:
    """A new backend for these settings (nothing is loaded until the first call)."""
    common = {"prompt_token_budget": settings.prompt_token_budget, "timeout_s": settings.llm_timeout_s}
    if settings.llm_backend == "zephyr":
        from finetune.adapters import configured_adapter
        from graph.llm.zephyr import ZephyrBackend

        return ZephyrBackend(
            settings.zephyr_model, adapter=configured_adapter(settings), load_in_4bit=settings.load_in_4bit, **common
        )
    if settings.llm_backend == "openai":
        from graph.llm.openai_compat import OpenAICompatibleBackend

        return OpenAICompatibleBackend(
            settings.openai_model,
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key.get_secret_value(),
            **common,
        )
    from graph.llm.offline import OfflineBackend

    return OfflineBackend(**common)


def _adapter_key(settings: Settings) -> str | None:
    """The adapter a zephyr backend would load: the configured one, else the activated one."""
    if settings.llm_backend != "zephyr":
        return None
    from finetune.adapters import configured_adapter

    adapter = configured_adapter(settings)
    return str(adapter) if adapter else None


def _backend_key(settings: Settings) -> tuple:
    """The settings that make two backends different."""
    return (
        settings.llm_backend,
        settings.zephyr_model,
        _adapter_key(settings),
        settings.load_in_4bit,
        settings.openai_base_url,
        settings.openai_model,
        settings.openai_api_key.get_secret_value(),
        settings.prompt_token_budget,
        settings.llm_timeout_s,
    )


_backends: dict[tuple, LLMBackend] = {}
_backends_lock = threading.Lock()


def get_backend(settings: Settings) -> LLMBackend:
    """The process-wide backend for these settings (built once per distinct configuration)."""
    key = _backend_key(settings)
    with _backends_lock:
        if key not in _backends:
            _backends[key] = build_backend(settings)
        return _backends[key]


def reset_backends() -> None:
    """Forget every cached backend (tests; a configuration reload)."""
    with _backends_lock:
        _backends.clear()
