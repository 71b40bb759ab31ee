"""The embedded default: no language model; the offline composer writes every answer."""

from __future__ import annotations

from collections.abc import Generator, Sequence

from graph.llm.base import LLMBackend, LLMResult, LLMUnavailable, Message, StreamEnd, approximate_tokens

NO_MODEL = "the offline backend has no language model; answers are written by the offline composer"


class OfflineBackend(LLMBackend):
    name = "offline"

    def __init__(self, *, prompt_token_budget: int, timeout_s: float) -> None:
        super().__init__("offline-composer", prompt_token_budget=prompt_token_budget, timeout_s=timeout_s)

    @property
    def has_model(self) -> bool:
        return False

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(approximate_tokens(message["content"]) + 4 for message in messages)

    def _generate(self, messages: list[Message], max_new_tokens: int, json_schema: dict | None) -> LLMResult:
        raise LLMUnavailable(NO_MODEL)

    def _stream(self, messages: list[Message], max_new_tokens: int) -> Generator[str, None, StreamEnd]:
        raise LLMUnavailable(NO_MODEL)
        yield ""  # pragma: no cover - makes this a generator
