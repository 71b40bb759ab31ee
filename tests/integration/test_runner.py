"""The runner around the graph: token streaming, what the checkpoints keep, LangSmith tracing."""

from __future__ import annotations

import json
import logging
import re
import shutil
import sqlite3
from collections.abc import Generator

import pytest

from pydantic import SecretStr

from advisor.settings import Settings
from graph.llm.base import LLMBackend, LLMResult, StreamEnd, approximate_tokens

CARD = "4111 1111 1111 1111"
SPENDING_QUESTION = "How is the customer's spending trending and where could they save?"


@pytest.fixture(scope="module")
def runner_home(bank_dir, tmp_path_factory):
    """The session's bank ingested with its texts (the retriever searches them)."""
    from advisor import services
    from bank.ingest import Ingestor

    home = tmp_path_factory.mktemp("runner") / "home"
    settings = Settings(home=home, data_key=None)
    shutil.copytree(bank_dir, settings.data_dir)
    store = services.open_store(settings)
    report = Ingestor(store, services.open_chroma(settings), services.text_encoder(settings),
                      services.knowledge_base(settings)).run(settings.data_dir)
    assert report.error_count == 0
    store.close()
    return home


@pytest.fixture(scope="module")
def settings(runner_home) -> Settings:
    return Settings(home=runner_home, data_key=None)


@pytest.fixture(scope="module")
def runner(settings):
    from graph.runner import open_runner

    with open_runner(settings) as opened:
        yield opened


@pytest.fixture(scope="module")
def customer(runner):
    """A customer with a name (of parts long enough to search for), e-mail and phone on file."""
    store = runner.services.store
    for customer_id in store.customer_ids():
        found = store.customer(customer_id)
        if found.email and found.phone and all(len(part) >= 4 for part in found.full_name.split()):
            return found
    pytest.fail("no customer with full contact details in the bank")


class StreamingBackend(LLMBackend):
    """A model that streams a fixed reply word by word (one figure in it is in no finding)."""

    name = "streaming"

    def __init__(self, reply: str):
        super().__init__("streaming-model", prompt_token_budget=6000, timeout_s=5)
        self.reply = reply

    def count_tokens(self, messages) -> int:
        return sum(approximate_tokens(m["content"]) + 4 for m in messages)

    def _generate(self, messages, max_new_tokens, json_schema) -> LLMResult:
        return LLMResult(text=self.reply, prompt_tokens=self.count_tokens(messages), completion_tokens=1,
                         latency_ms=0.0, model=self.model)

    def _stream(self, messages, max_new_tokens) -> Generator[str, None, StreamEnd]:
        for word in self.reply.split(" "):
            yield word + " "
        return StreamEnd(prompt_tokens=self.count_tokens(messages), completion_tokens=len(self.reply.split(" ")))


# --- streaming --------------------------------------------------------------------------------


def test_offline_answer_streams_as_one_piece_and_the_result_is_unchanged(runner, customer):
    pieces: list[str] = []
    streamed = runner.ask(SPENDING_QUESTION, customer.customer_id, on_token=pieces.append)
    plain = runner.ask(SPENDING_QUESTION, customer.customer_id)
    assert streamed["critic"]["verdict"] == "approved"
    assert pieces == [streamed["answer"]] and streamed["answer_replaced_stream"] is False
    assert "answer_replaced_stream" not in plain
    volatile = {"trace_id", "timings_ms", "answer_replaced_stream"}
    assert {k: v for k, v in streamed.items() if k not in volatile} == \
        {k: v for k, v in plain.items() if k not in volatile}


def test_a_knowledge_question_streams_too(runner):
    pieces: list[str] = []
    result = runner.ask("What are the eligibility rules of the travel card?", on_token=pieces.append)
    assert result["customer_id"] is None and result["answer"]
    assert "".join(pieces) == result["answer"] and not result["answer_replaced_stream"]


def test_model_tokens_stream_and_a_revised_answer_replaces_them(settings, customer):
    from graph.runner import open_runner

    reply = "The customer spends EUR 98,765.43 a month, mostly on groceries."
    with open_runner(settings, overrides={"backend": StreamingBackend(reply)}) as runner:
        pieces: list[str] = []
        result = runner.ask(SPENDING_QUESTION, customer.customer_id, on_token=pieces.append)
    assert len(pieces) == len(reply.split(" ")) and "".join(pieces).strip() == reply
    assert result["critic"]["verdict"] in {"revised", "blocked"}  # 98,765.43 is in no finding
    assert "98,765.43" not in result["answer"] and result["answer_replaced_stream"] is True


def test_the_zephyr_path_streams_the_tiny_model(tiny_chat_model, runner_home, customer):
    from graph.backend import reset_backends
    from graph.runner import open_runner

    settings = Settings(home=runner_home, data_key=None, llm_backend="zephyr", zephyr_model=str(tiny_chat_model),
                        load_in_4bit=False, max_new_tokens=24)
    reset_backends()
    try:
        with open_runner(settings) as runner:
            pieces: list[str] = []
            result = runner.ask(SPENDING_QUESTION, customer.customer_id, on_token=pieces.append)
    finally:
        reset_backends()
    assert result["llm"]["backend"] == "zephyr" and result["llm"]["fallback_reason"] is None
    assert len(pieces) > 1
    if result["answer_replaced_stream"]:
        assert result["critic"]["verdict"] in {"revised", "blocked"}
    else:
        assert "".join(pieces).strip() == result["answer"]


# --- privacy of the checkpoints --------------------------------------------------------------


def _stored_bytes(path) -> bytes:
    """Every row of every table of a SQLite file (and its WAL), as bytes."""
    connection = sqlite3.connect(path)
    try:
        chunks = []
        for (table,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                chunks += [v if isinstance(v, bytes) else str(v).encode() for v in row]
    finally:
        connection.close()
    return b"\n".join(chunks)


def test_checkpoints_keep_no_identifier_typed_in_the_question(runner, settings, customer):
    question = (f"{customer.full_name} ({customer.email}, {customer.phone}) says card {CARD} was charged twice "
                f"by a subscription; how is {customer.full_name.split()[0]}'s spending?")
    result = runner.ask(question, customer.customer_id, thread_id="privacy-thread")
    assert "error" not in result and result["findings"]["spending"]["available"]
    stored = _stored_bytes(settings.checkpoint_url)
    assert b"privacy-thread" in stored
    for secret in (customer.full_name, customer.email, customer.phone, CARD, CARD.replace(" ", "")):
        assert secret.encode() not in stored, secret
    for part in customer.full_name.split():
        assert not re.search(rb"\b" + re.escape(part.encode()) + rb"\b", stored), part
    assert b"[EMAIL]" in stored and b"[CARD" in stored


def test_a_thread_keeps_its_customer_and_its_redacted_history(runner, customer):
    first = runner.ask(f"Is {customer.full_name} overspending?", customer.customer_id, thread_id="memory-thread")
    second = runner.ask("And what is the credit risk?", thread_id="memory-thread")
    assert second["customer_id"] == customer.customer_id == first["customer_id"]
    history = runner.graph.get_state({"configurable": {"thread_id": "memory-thread"}}).values["history"]
    assert [h["trace_id"] for h in history] == [first["trace_id"], second["trace_id"]]
    assert customer.full_name.split()[-1] not in history[0]["question"] and "[NAME]" in history[0]["question"]


def test_a_thread_reads_its_typed_findings_back_without_unregistered_types(runner, customer, caplog):
    with caplog.at_level(logging.WARNING):
        runner.ask("What can I offer?", customer.customer_id, thread_id="typed-thread")
        state = runner.graph.get_state({"configurable": {"thread_id": "typed-thread"}}).values
    assert type(state["spending"]).__name__ == "SpendingFinding"
    assert not [r for r in caplog.records if "unregistered type" in r.getMessage()
                or "Could not reconstruct" in r.getMessage()]


def test_undecodable_bytes_in_a_question_are_replaced_not_a_crash(runner, customer):
    question = "Is she overspending? " + b"\xff\xfe caf\xe9".decode("utf-8", "surrogateescape")
    result = runner.ask(question, customer.customer_id)
    assert "error" not in result and result["answer"]


def test_a_general_question_naming_a_customer_is_redacted_with_their_identifiers(runner, settings, customer):
    runner.ask(f"What would a customer like {customer.full_name} be offered?", thread_id="general-thread")
    stored = _stored_bytes(settings.checkpoint_url)
    assert b"general-thread" in stored and customer.full_name.encode() not in stored


# --- tracing ------------------------------------------------------------------------------------


def test_without_a_langsmith_key_nothing_is_traced(runner, customer, monkeypatch):
    import graph.tracing

    def no_client(*args, **kwargs):
        raise AssertionError("a LangSmith client was built with tracing off")

    monkeypatch.setattr(graph.tracing, "tracing_client", no_client)
    assert not runner.services.settings.tracing_enabled
    assert "error" not in runner.ask(SPENDING_QUESTION, customer.customer_id)


def test_traced_runs_carry_redacted_inputs_and_outputs(settings, customer, monkeypatch):
    from langsmith import Client

    import graph.tracing
    from graph.runner import open_runner

    captured: list[dict] = []

    class CapturingClient(Client):
        """A LangSmith client that keeps each run payload (after its hide hooks) instead of sending it."""

        def _create_run(self, run_create, **kwargs):
            captured.append(run_create)

        def _update_run(self, run_update, **kwargs):
            captured.append(run_update)

    def capturing_client(settings, redactor):
        return CapturingClient(api_url="http://127.0.0.1:9", api_key="lsv2-test", auto_batch_tracing=False,
                               hide_inputs=redactor, hide_outputs=redactor, hide_metadata=redactor)

    monkeypatch.setattr(graph.tracing, "tracing_client", capturing_client)
    traced_settings = settings.model_copy(update={"langsmith_api_key": SecretStr("lsv2-test")})
    assert traced_settings.tracing_enabled
    question = f"{customer.full_name} at {customer.email} asks what we can offer; card {CARD}."
    with open_runner(traced_settings) as runner:
        result = runner.ask(question, customer.customer_id)
    assert "error" not in result
    sent = json.dumps(captured, default=str)
    assert captured and "advisor-turn" in sent and customer.customer_id in sent
    for secret in (customer.full_name, customer.email, customer.phone, CARD, CARD.replace(" ", "")):
        assert secret not in sent, secret


def test_the_graph_offers_what_the_store_backed_matcher_offers_for_several_customers(runner):
    """The products agent reads the customer's holdings (cash, other lenders' balances) like the
    per-customer service and the book-wide NBO do, so all three give the same offers."""
    from datetime import date

    from tools.products.service import products_for_customer, profile_from_store

    from agents.products import customer_holdings

    store, services = runner.services.store, runner.services
    holdings = {c: customer_holdings(services, c) for c in store.customer_ids()}
    # Those whose offers depend on holdings: the most cash, and balances with other lenders.
    by_cash = sorted(holdings, key=lambda c: -(holdings[c].cash_savings or 0.0))[:4]
    transferring = [c for c in holdings if holdings[c].transferable_balance > 0][:4]
    for customer_id in dict.fromkeys(by_cash + transferring):
        result = runner.ask("What can I offer?", customer_id, thread_id=f"offers-{customer_id}")
        assert "error" not in result, result
        state = runner.graph.get_state({"configurable": {"thread_id": f"offers-{customer_id}"}}).values
        as_of = date.fromisoformat(state["as_of"])
        expected = products_for_customer(store, profile_from_store(store, customer_id, as_of), state.get("spending"),
                                         state.get("credit"), state.get("sentiment"), services.knowledge, as_of,
                                         feedback=services.feedback)
        assert [r["product_code"] for r in result["recommendations"]] == \
            [o.product_code for o in expected.recommendations], (customer_id, result["critic"],
                                                                 result["findings"].get("products"))
