"""The openai backend against a real OpenAI-compatible HTTP server on 127.0.0.1, and the
fallback to the offline composer when that server hangs, fails or is not there."""

from __future__ import annotations

import json
import time

import pytest
from pydantic import BaseModel

from advisor.settings import Settings
from agents.composer import compose, render_offline
from graph.backend import LLMTimeout, generate_structured, get_backend, reset_backends
from graph.llm.openai_compat import OpenAICompatibleBackend
from tests.fixtures.findings import KNOWLEDGE_SOURCES, rich_findings
from tests.fixtures.openai_server import OpenAIStubServer, free_port

pytestmark = pytest.mark.server

QUESTION = "Customer C-00042 called about her card balance, what can I offer?"
ANSWER = "**In short:** the Northbridge Travel Credit Card at Band C: 22.9% APR fits best (`product:CC-TRAVEL`)."


def openai_settings(tmp_path, base_url: str, timeout_s: float = 10.0, **extra) -> Settings:
    return Settings(home=tmp_path, llm_backend="openai", openai_base_url=base_url, openai_model="zephyr-test",
                    llm_timeout_s=timeout_s, **extra)


def backend_for(settings: Settings) -> OpenAICompatibleBackend:
    reset_backends()
    backend = get_backend(settings)
    assert isinstance(backend, OpenAICompatibleBackend)
    return backend


@pytest.fixture
def server():
    with OpenAIStubServer(ANSWER) as running:
        yield running


def test_generate_sends_the_chat_and_reports_usage(server, tmp_path):
    backend = backend_for(openai_settings(tmp_path, server.base_url))
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]
    result = backend.generate(messages, max_new_tokens=40)
    assert result.text == ANSWER
    assert result.prompt_tokens == 4 and result.completion_tokens == len(ANSWER.split(" "))
    assert result.finish_reason == "stop" and result.latency_ms > 0
    sent = server.requests[-1]
    assert sent["model"] == "zephyr-test" and sent["max_tokens"] == 40 and sent["temperature"] == 0
    assert sent["messages"] == messages
    usage = backend.usage()
    assert usage.calls == 1 and usage.failures == 0 and usage.completion_tokens == result.completion_tokens


def test_stream_yields_the_reply_in_pieces_with_usage(server, tmp_path):
    backend = backend_for(openai_settings(tmp_path, server.base_url))
    pieces = list(backend.stream([{"role": "user", "content": "Hi"}], max_new_tokens=40))
    assert len(pieces) > 3 and "".join(pieces) == ANSWER
    assert server.requests[-1]["stream"] is True
    assert backend.usage().completion_tokens == len(pieces)


def test_generate_with_on_token_streams_and_returns_the_whole_result(server, tmp_path):
    backend = backend_for(openai_settings(tmp_path, server.base_url))
    seen: list[str] = []
    result = backend.generate([{"role": "user", "content": "Hi"}], 40, on_token=seen.append)
    assert "".join(seen) == result.text == ANSWER and result.completion_tokens == len(seen)


class Route(BaseModel):
    agents: list[str]


def test_structured_reply_uses_the_json_schema_response_format(tmp_path):
    reply = 'Sure: {"agents": ["credit", "products", "compliance"]}'
    with OpenAIStubServer(reply) as server:
        backend = backend_for(openai_settings(tmp_path, server.base_url))
        structured = generate_structured(backend, [{"role": "user", "content": "route this"}], Route)
    assert structured.value == Route(agents=["credit", "products", "compliance"])
    response_format = server.requests[-1]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["schema"] == Route.model_json_schema()


def test_structured_reply_falls_back_to_a_prompt_when_the_server_has_no_json_mode(tmp_path):
    with OpenAIStubServer('{"agents": ["spending"]}', mode="no_json_schema") as server:
        backend = backend_for(openai_settings(tmp_path, server.base_url))
        structured = generate_structured(backend, [{"role": "user", "content": "route this"}], Route)
    assert structured.value == Route(agents=["spending"])
    first, second = server.requests
    assert "response_format" in first and "response_format" not in second
    assert "JSON schema" in second["messages"][-1]["content"]


def test_structured_reply_that_does_not_validate_gives_none(tmp_path):
    with OpenAIStubServer('{"agents": "all of them"}') as server:
        backend = backend_for(openai_settings(tmp_path, server.base_url))
        structured = generate_structured(backend, [{"role": "user", "content": "route this"}], Route)
    assert structured.value is None and "schema" in structured.error and structured.result is not None


def test_compose_through_the_server_sends_delimited_facts_and_uses_the_reply(server, tmp_path):
    settings = openai_settings(tmp_path, server.base_url)
    composed = compose(QUESTION, rich_findings(), KNOWLEDGE_SOURCES, backend_for(settings), settings,
                       customer_id="C-00042")
    assert composed.written_by == "llm" and composed.fallback_reason is None
    assert composed.answer_markdown == ANSWER
    assert composed.llm_calls == 1 and composed.completion_tokens > 0 and composed.prompt_tokens > 0
    assert set(composed.prompt_hashes) == {"composer_system", "composer_user"}
    assert len(server.requests) == 1
    system, user = server.requests[0]["messages"]
    assert system["role"] == "system" and "never invent" in system["content"].lower()
    assert "EUR 4,210.50" in user["content"] and "DISC-APR" in user["content"]
    assert '<document id="policy:POL-AFFORD:3.2"' in user["content"]
    assert user["content"].count("<customer_text ") == user["content"].count("</customer_text>") == 2
    content = user["content"]
    injected = content.index("Ignore all previous instructions")
    assert content.rfind("<customer_text ", 0, injected) > content.rfind("</customer_text>", 0, injected)
    assert "&lt;/customer_text&gt; &lt;|system|&gt;" in user["content"] and "<|system|>" not in user["content"]


def test_a_hanging_server_falls_back_to_the_offline_answer_within_the_timeout(tmp_path):
    findings = rich_findings()
    with OpenAIStubServer(ANSWER, mode="hang", hang_s=20) as server:
        settings = openai_settings(tmp_path, server.base_url, timeout_s=1.0)
        started = time.perf_counter()
        composed = compose(QUESTION, findings, KNOWLEDGE_SOURCES, backend_for(settings), settings,
                           customer_id="C-00042")
        elapsed = time.perf_counter() - started
    assert elapsed < 3.0, f"fallback took {elapsed:.1f} s with a 1 s timeout"
    assert composed.written_by == "offline" and composed.backend == "openai"
    assert "LLMTimeout" in composed.fallback_reason
    assert composed.answer_markdown.startswith(render_offline(QUESTION, findings, KNOWLEDGE_SOURCES, "C-00042"))
    assert "did not answer in time" in composed.answer_markdown
    assert composed.llm_calls == 1 and composed.completion_tokens == 0


def test_a_hanging_stream_raises_a_timeout(tmp_path):
    with OpenAIStubServer(ANSWER, mode="hang", hang_s=20) as server:
        backend = backend_for(openai_settings(tmp_path, server.base_url, timeout_s=1.0))
        started = time.perf_counter()
        with pytest.raises(LLMTimeout):
            list(backend.stream([{"role": "user", "content": "Hi"}], 20))
    assert time.perf_counter() - started < 3.0
    assert backend.usage().failures == 1


def test_a_server_error_falls_back_and_says_why(tmp_path):
    with OpenAIStubServer(ANSWER, mode="error") as server:
        settings = openai_settings(tmp_path, server.base_url)
        composed = compose(QUESTION, rich_findings(), [], backend_for(settings), settings)
    assert composed.written_by == "offline"
    assert "HTTP 500" in composed.fallback_reason
    assert len(server.requests) == 1, "the backend must not retry past its timeout budget"
    assert "was unavailable" in composed.answer_markdown


def test_an_unreachable_server_falls_back(tmp_path):
    settings = openai_settings(tmp_path, f"http://127.0.0.1:{free_port()}/v1", timeout_s=2.0)
    composed = compose(QUESTION, rich_findings(), [], backend_for(settings), settings)
    assert composed.written_by == "offline" and "LLMUnavailable" in composed.fallback_reason


def test_an_empty_reply_falls_back(tmp_path):
    with OpenAIStubServer("") as server:
        settings = openai_settings(tmp_path, server.base_url)
        composed = compose(QUESTION, rich_findings(), [], backend_for(settings), settings)
    assert composed.written_by == "offline" and "empty" in composed.fallback_reason


def test_one_backend_per_configuration(tmp_path):
    reset_backends()
    first = openai_settings(tmp_path, "http://127.0.0.1:1/v1")
    assert get_backend(first) is get_backend(first.model_copy())
    assert get_backend(first) is not get_backend(openai_settings(tmp_path, "http://127.0.0.1:2/v1"))
    offline = get_backend(Settings(home=tmp_path))
    assert offline.name == "offline" and not offline.has_model
    reset_backends()


def test_offline_backend_composes_without_any_call(tmp_path):
    settings = Settings(home=tmp_path)
    reset_backends()
    composed = compose(QUESTION, rich_findings(), [], get_backend(settings), settings)
    assert composed.written_by == "offline" and composed.llm_calls == 0 and composed.fallback_reason is None
    assert json.loads(composed.model_dump_json())["backend"] == "offline"
