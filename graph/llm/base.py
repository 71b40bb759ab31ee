"""The backend interface every LLM backend implements, its results and its errors."""

from __future__ import annotations

import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import ClassVar

from pydantic import BaseModel

Message = dict[str, str]
"""A chat message: {"role": "system" | "user" | "assistant", "content": "..."}."""

ROLES = frozenset({"system", "user", "assistant"})


class LLMError(RuntimeError):
    """A backend could not produce a completion; callers fall back to the offline composer."""


class LLMUnavailable(LLMError):
    """No model to call: the offline backend, a model that failed to load, an unreachable server."""


class LLMTimeout(LLMError):
    """The call ran past the configured timeout."""


class PromptTooLong(LLMError):
    """The rendered prompt is over the prompt token budget."""


class LLMResult(BaseModel):
    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    finish_reason: str | None = None
    model: str


class BackendUsage(BaseModel):
    """Totals since the backend was created (one backend per process)."""

    calls: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0


class StreamEnd(BaseModel):
    """What a backend's internal stream reports once its last piece has been yielded."""

    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None = None


def approximate_tokens(text: str) -> int:
    """A conservative token estimate (about 3 characters a token) where no tokenizer is at hand."""
    return math.ceil(len(text) / 3)


def validate_messages(messages: Sequence[Message]) -> list[Message]:
    if not messages:
        raise ValueError("no messages to send")
    checked = []
    for message in messages:
        role, content = message.get("role"), message.get("content")
        if role not in ROLES or not isinstance(content, str):
            raise ValueError(f"bad chat message: {message!r}")
        checked.append({"role": role, "content": content})
    return checked


def json_instruction(json_schema: dict) -> str:
    import json

    return (
        "\n\nReply with only one JSON object, no other text, that validates against this JSON schema:\n"
        + json.dumps(json_schema, separators=(",", ":"))
    )


def with_json_instruction(messages: list[Message], json_schema: dict) -> list[Message]:
    """The messages with the schema appended to the last user message (for backends without native JSON mode)."""
    result = [dict(message) for message in messages]
    for message in reversed(result):
        if message["role"] == "user":
            message["content"] += json_instruction(json_schema)
            return result
    result.append({"role": "user", "content": json_instruction(json_schema).strip()})
    return result


class LLMBackend(ABC):
    """One chat model behind a small synchronous interface, shared by the whole process.

    Subclasses implement ``count_tokens``, ``_generate`` and ``_stream``; the public
    methods here check the budget, time the call and keep the usage counters.
    """

    name: ClassVar[str]

    def __init__(self, model: str, *, prompt_token_budget: int, timeout_s: float) -> None:
        self.model = model
        self.prompt_token_budget = prompt_token_budget
        self.timeout_s = timeout_s
        self._usage = BackendUsage()
        self._usage_lock = threading.Lock()

    # --- what subclasses provide -----------------------------------------------------
    @abstractmethod
    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Prompt tokens of these messages as this backend will send them."""

    @abstractmethod
    def _generate(self, messages: list[Message], max_new_tokens: int, json_schema: dict | None) -> LLMResult:
        ...

    @abstractmethod
    def _stream(self, messages: list[Message], max_new_tokens: int) -> Generator[str, None, StreamEnd]:
        ...

    # --- public interface --------------------------------------------------------------
    @property
    def has_model(self) -> bool:
        return True

    def warm_up(self) -> None:  # noqa: B027 - most backends have nothing to load
        """Load whatever the first call would load (a model's weights), so that call is not slow."""

    def fits(self, messages: Sequence[Message]) -> bool:
        return self.count_tokens(messages) <= self.prompt_token_budget

    def usage(self) -> BackendUsage:
        with self._usage_lock:
            return self._usage.model_copy()

    def generate(
        self,
        messages: Sequence[Message],
        max_new_tokens: int,
        json_schema: dict | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> LLMResult:
        """One completion. With ``on_token`` the text is streamed to it piece by piece as well."""
        checked = self._checked(messages)
        started = time.perf_counter()
        try:
            if on_token is None or json_schema is not None:
                result = self._generate(checked, max_new_tokens, json_schema)
            else:
                result = self._collect_stream(checked, max_new_tokens, on_token, started)
        except Exception:
            self._record_failure()
            raise
        result.latency_ms = round((time.perf_counter() - started) * 1000, 1)
        self._record(result)
        return result

    def stream(self, messages: Sequence[Message], max_new_tokens: int) -> Iterator[str]:
        """The completion as text pieces, for a UI that shows tokens as they come."""
        checked = self._checked(messages)
        started = time.perf_counter()
        pieces = self._stream(checked, max_new_tokens)
        text = []
        try:
            while True:
                try:
                    piece = next(pieces)
                except StopIteration as stop:
                    end: StreamEnd = stop.value
                    break
                text.append(piece)
                yield piece
        except Exception:
            self._record_failure()
            raise
        finally:
            pieces.close()
        self._record(self._result_from_stream("".join(text), end, started))

    # --- helpers -----------------------------------------------------------------------
    def _checked(self, messages: Sequence[Message]) -> list[Message]:
        checked = validate_messages(messages)
        tokens = self.count_tokens(checked)
        if tokens > self.prompt_token_budget:
            raise PromptTooLong(f"prompt has {tokens} tokens, over the budget of {self.prompt_token_budget}")
        return checked

    def _collect_stream(
        self, messages: list[Message], max_new_tokens: int, on_token: Callable[[str], None], started: float
    ) -> LLMResult:
        pieces = self._stream(messages, max_new_tokens)
        text = []
        try:
            while True:
                try:
                    piece = next(pieces)
                except StopIteration as stop:
                    return self._result_from_stream("".join(text), stop.value, started)
                text.append(piece)
                on_token(piece)
        finally:
            pieces.close()

    def _result_from_stream(self, text: str, end: StreamEnd, started: float) -> LLMResult:
        return LLMResult(
            text=text,
            prompt_tokens=end.prompt_tokens,
            completion_tokens=end.completion_tokens,
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
            finish_reason=end.finish_reason,
            model=self.model,
        )

    def _record(self, result: LLMResult) -> None:
        with self._usage_lock:
            self._usage.calls += 1
            self._usage.prompt_tokens += result.prompt_tokens
            self._usage.completion_tokens += result.completion_tokens
            self._usage.latency_ms += result.latency_ms

    def _record_failure(self) -> None:
        with self._usage_lock:
            self._usage.calls += 1
            self._usage.failures += 1

    def describe(self) -> dict[str, object]:
        return {"backend": self.name, "model": self.model, "prompt_token_budget": self.prompt_token_budget}
