"""The composer's model path and the backend base class, with a scripted in-process backend
(the real backends are exercised in tests/integration/test_backends_*.py)."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from advisor.settings import Settings
from agents.composer import compose, render_offline, revise
from graph.backend import LLMTimeout, LLMUnavailable, build_backend, first_json_object
from graph.llm.base import (
    LLMBackend,
    LLMResult,
    StreamEnd,
    approximate_tokens,
    validate_messages,
    with_json_instruction,
)
from tests.fixtures.findings import KNOWLEDGE_SOURCES, rich_findings

QUESTION = "What can I offer?"


class ScriptedBackend(LLMBackend):
    """Answers with a fixed text or raises a fixed error; counts tokens like the openai backend."""

    name = "scripted"

    def __init__(self, reply: str = "A grounded answer.", error: Exception | None = None, budget: int = 6000):
        super().__init__("scripted-model", prompt_token_budget=budget, timeout_s=5)
        self.reply, self.error, self.calls = reply, error, []

    def count_tokens(self, messages) -> int:
        return sum(approximate_tokens(m["content"]) + 4 for m in messages)

    def _generate(self, messages, max_new_tokens, json_schema) -> LLMResult:
        self.calls.append(messages)
        if self.error:
            raise self.error
        return LLMResult(text=self.reply, prompt_tokens=self.count_tokens(messages), completion_tokens=5,
                         latency_ms=0.0, finish_reason="stop", model=self.model)

    def _stream(self, messages, max_new_tokens) -> Generator[str, None, StreamEnd]:
        self.calls.append(messages)
        if self.error:
            raise self.error
        for word in self.reply.split(" "):
            yield word + " "
        return StreamEnd(prompt_tokens=self.count_tokens(messages), completion_tokens=len(self.reply.split(" ")))


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path, max_new_tokens=123)


def test_one_call_with_both_prompts_and_their_hashes(settings):
    backend = ScriptedBackend()
    composed = compose(QUESTION, rich_findings(), KNOWLEDGE_SOURCES, backend, settings)
    assert composed.written_by == "llm" and composed.answer_markdown == "A grounded answer."
    assert len(backend.calls) == 1 and [m["role"] for m in backend.calls[0]] == ["system", "user"]
    assert composed.llm_calls == 1 and composed.prompt_tokens == backend.count_tokens(backend.calls[0])
    assert composed.backend == "scripted" and composed.model == "scripted-model"
    assert set(composed.prompt_hashes) == {"composer_system", "composer_user"}


def test_streaming_passes_tokens_through(settings):
    backend = ScriptedBackend("one two three")
    seen: list[str] = []
    composed = compose(QUESTION, rich_findings(), [], backend, settings, on_token=seen.append)
    assert seen == ["one ", "two ", "three "] and composed.answer_markdown == "one two three"
    assert backend.usage().calls == 1 and backend.usage().completion_tokens == 3


@pytest.mark.parametrize("error, reason, note", [
    (LLMTimeout("no answer in 30 s"), "scripted backend failed: LLMTimeout: no answer in 30 s",
     "did not answer in time"),
    (LLMUnavailable("model missing"), "scripted backend failed: LLMUnavailable: model missing", "was unavailable"),
    (ValueError("bad output"), "scripted backend failed: ValueError: bad output", "was unavailable"),
])
def test_any_backend_failure_gives_the_offline_answer_and_says_why(settings, error, reason, note):
    findings = rich_findings()
    backend = ScriptedBackend(error=error)
    composed = compose(QUESTION, findings, KNOWLEDGE_SOURCES, backend, settings)
    assert composed.written_by == "offline" and composed.fallback_reason == reason
    assert composed.answer_markdown.startswith(render_offline(QUESTION, findings, KNOWLEDGE_SOURCES))
    assert composed.answer_markdown.endswith(f"the scripted model {note} (details in the trace)._")
    assert composed.llm_calls == 1 and backend.usage().failures == 1


def test_an_empty_reply_falls_back(settings):
    composed = compose(QUESTION, rich_findings(), [], ScriptedBackend("   "), settings)
    assert composed.written_by == "offline"
    assert composed.fallback_reason == "scripted backend returned an empty answer"


def test_a_budget_too_small_falls_back_without_calling(settings):
    backend = ScriptedBackend(budget=300)
    composed = compose(QUESTION, rich_findings(), KNOWLEDGE_SOURCES, backend, settings)
    assert composed.written_by == "offline" and composed.fallback_reason.startswith("prompt too long")
    assert backend.calls == [] and composed.llm_calls == 0


def test_the_offline_backend_never_calls_a_model(settings):
    offline = build_backend(settings)
    assert offline.name == "offline" and not offline.has_model
    with pytest.raises(LLMUnavailable):
        offline.generate([{"role": "user", "content": "hi"}], 10)
    composed = compose(QUESTION, rich_findings(), [], offline, settings)
    assert composed.written_by == "offline" and composed.fallback_reason is None and composed.llm_calls == 0


def test_revise_sends_the_draft_and_issues_once(settings):
    backend = ScriptedBackend("The corrected answer.")
    composed = revise(QUESTION, "Offer 3.9% APR", ["figure not found in any finding: 3.9%"], rich_findings(),
                      [], backend, settings)
    assert composed.answer_markdown == "The corrected answer." and composed.llm_calls == 1
    assert set(composed.prompt_hashes) == {"composer_system", "critic_revise"}
    assert "Offer 3.9% APR" in backend.calls[0][1]["content"]


def test_revise_falls_back_to_the_offline_answer(settings):
    findings = rich_findings()
    backend = ScriptedBackend(error=LLMTimeout("slow"))
    composed = revise(QUESTION, "draft", ["issue"], findings, [], backend, settings)
    assert composed.written_by == "offline" and "LLMTimeout" in composed.fallback_reason


def test_first_json_object_finds_json_in_prose():
    assert first_json_object('Sure! {"agents": ["credit"]} hope that helps') == {"agents": ["credit"]}
    assert first_json_object('```json\n{"a": {"b": 1}}\n```') == {"a": {"b": 1}}
    assert first_json_object("{not json} then {\"ok\": true}") == {"ok": True}
    assert first_json_object("no json here") is None


def test_json_instruction_goes_into_the_last_user_message():
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "route"}]
    changed = with_json_instruction(messages, {"type": "object"})
    assert messages[1]["content"] == "route", "the caller's messages are not changed"
    assert changed[1]["content"].startswith("route") and '{"type":"object"}' in changed[1]["content"]


def test_messages_are_validated():
    with pytest.raises(ValueError):
        validate_messages([])
    with pytest.raises(ValueError):
        validate_messages([{"role": "tool", "content": "x"}])
