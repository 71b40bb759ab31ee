"""Running one advisory turn: guard, graph, the answer JSON of DESIGN.md, the audit record."""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from agents.guard import GuardError, check_request
from bank.privacy import redact, redact_mapping
from graph.audit import AuditTrail
from graph.build import agents_to_run, build_graph
from graph.context import ALL_MODELS, EVERY_TURN, AdvisorServices
from graph.state import ANSWER_TOKEN, STREAM_TOKENS, AdvisorState
from graph.tracing import store_identifiers, traced
from prompts import prompt_hash

logger = logging.getLogger("advisor.runner")
LONE_SURROGATES = re.compile("[\ud800-\udfff]")
AGENT_ORDER = ("spending", "credit", "sentiment", "products", "compliance")


def error_result(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


class AdvisorRunner:
    """One compiled graph and its services; safe to call from several threads."""

    def __init__(self, services: AdvisorServices, checkpointer=None, audit: AuditTrail | None = None):
        self.services = services
        self.checkpointer = checkpointer
        self.audit = audit
        self.graph = build_graph(checkpointer)

    def ask(self, question: str, customer_id: str | None = None, thread_id: str | None = None,
            advisor_id: str | None = None, advisor_book: set[str] | None = None,
            on_node: Callable[[str, dict], None] | None = None,
            on_token: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Answer one question; returns the answer JSON or an error object.

        ``on_node(name, update)`` is called as each node finishes. ``on_token(text)`` is
        called with each piece of the answer while the composer writes it (a model
        backend's stream; the offline composer's answer comes as one piece). The critic
        may then revise or block that answer, and a model failing mid-stream gives the
        offline answer instead: the answer of record is always ``result["answer"]``, and
        when ``on_token`` is given the result carries ``answer_replaced_stream``, True
        when that answer is not the concatenation of the streamed pieces (a UI then
        shows ``result["answer"]`` in place of what it streamed).

        The question reaches the graph, and so the checkpoints, the trace and the model,
        with the customer's direct identifiers (and any card, e-mail, phone, IBAN,
        account number or postcode) redacted; the customer travels by pseudonymous id.
        """
        started = time.perf_counter()
        # Undecodable bytes reach Python as lone surrogates, which no tokenizer or JSON encoder accepts.
        question = LONE_SURROGATES.sub("\ufffd", question)
        trace_id = uuid.uuid4().hex
        thread_id = thread_id or trace_id
        config: dict[str, Any] = {"configurable": {"thread_id": thread_id, STREAM_TOKENS: on_token is not None},
                                  "run_name": "advisor-turn",
                                  "metadata": {"trace_id": trace_id, "advisor_id": advisor_id}}
        customer_id = customer_id or self._thread_customer(config)
        try:
            check_request(question, customer_id, advisor_book, self.services)
        except GuardError as error:
            return error_result(error.code, error.message)
        identifiers = self._identifiers(customer_id, question)
        safe_question = redact(question, identifiers)
        state_in: AdvisorState = {"question": safe_question, "customer_id": customer_id, "advisor_id": advisor_id,
                                  "trace_id": trace_id,
                                  "history": [{"question": safe_question, "trace_id": trace_id}]}
        modes = ["updates", "values", "custom"] if on_token is not None else ["updates", "values"]
        state = None
        streamed: list[str] = []
        with traced(self.services.settings, store_identifiers(self.services.store)):
            # A turn is checkpointed once, when it ends (the next turn and a re-asked question start
            # from there), rather than after every step of the graph.
            for mode, chunk in self.graph.stream(state_in, config=config, context=self.services, stream_mode=modes,
                                                 durability="exit"):
                if mode == "values":
                    state = chunk
                elif mode == "updates" and on_node is not None:
                    for node, update in chunk.items():
                        on_node(node, update)
                elif mode == "custom" and isinstance(chunk, dict) and ANSWER_TOKEN in chunk:
                    streamed.append(chunk[ANSWER_TOKEN])
                    on_token(chunk[ANSWER_TOKEN])
        result = self._result(state, trace_id, started)
        if on_token is not None:
            result["answer_replaced_stream"] = "".join(streamed).strip() != result["answer"].strip()
        if self.audit is not None:
            self._write_audit(result, state, safe_question, advisor_id, thread_id, identifiers)
        return result

    def _thread_customer(self, config) -> str | None:
        if self.checkpointer is None:
            return None
        snapshot = self.graph.get_state(config)
        return snapshot.values.get("customer_id") if snapshot and snapshot.values else None

    def _result(self, state: AdvisorState, trace_id: str, started: float) -> dict[str, Any]:
        ran = [a for a in AGENT_ORDER if a in state.get("nodes_run", [])]
        findings = {name: state[name].model_dump(mode="json") for name in AGENT_ORDER if state.get(name) is not None}
        products = state.get("products")
        compliance = state.get("compliance")
        critic = state.get("critic")
        timings = dict(state.get("timings_ms", {}))
        timings["total"] = round((time.perf_counter() - started) * 1000, 2)
        return {
            "trace_id": trace_id,
            "customer_id": state.get("customer_id"),
            "agents": ran,
            "routed": list(state["route"].agents),
            "findings": findings,
            "recommendations": [
                {"product_code": r.product_code, "name": r.name, "score": round(r.score, 4), "apr": r.apr,
                 "price_tier": r.price_tier, "reasons": r.reasons, "evidence": r.evidence}
                for r in (products.recommendations if products and (critic is None or critic.verdict != "blocked")
                          else [])
            ],
            "compliance": {
                "passed": compliance.passed if compliance else True,
                "violations": [v.model_dump(mode="json") for v in compliance.violations] if compliance else [],
                "disclosures": [d.text for d in compliance.disclosures] if compliance else [],
            },
            "critic": critic.model_dump(mode="json") if critic else None,
            "sources": [s.model_dump(mode="json") for s in state.get("sources", [])],
            "answer": state.get("answer", ""),
            "llm": state["llm"].model_dump(mode="json"),
            "timings_ms": timings,
        }

    def _write_audit(self, result: dict[str, Any], state: AdvisorState, question: str, advisor_id: str | None,
                     thread_id: str, identifiers: list[str]) -> None:
        payload = redact_mapping({
            "question": question,
            "thread_id": thread_id,
            "routed": result["routed"],
            "agents": result["agents"],
            "nodes_run": state.get("nodes_run", []),
            "findings": result["findings"],
            "recommendations": result["recommendations"],
            "compliance": result["compliance"],
            "critic": result["critic"],
            "sources": [s["id"] for s in result["sources"]],
            "answer": result["answer"],
            "llm": result["llm"],
            "prompt_hashes": {**state.get("prompt_hashes", {}), **_template_hashes()},
            "timings_ms": result["timings_ms"],
        }, identifiers)
        self.audit.append(result["trace_id"], "answer", payload, advisor_id=advisor_id,
                          customer_id=result["customer_id"], verdict=(result["critic"] or {}).get("verdict"))

    def _identifiers(self, customer_id: str | None, question: str = "") -> list[str]:
        """The identifiers to redact: the customer's own, and those of any customer the question names."""
        customer = self.services.store.customer(customer_id) if customer_id else None
        identifiers = list(customer.identifiers) if customer else []
        for named in self.services.store.customers_named_in(question):
            identifiers.extend(named.identifiers)
        return identifiers


def _template_hashes() -> dict[str, str]:
    return {name: prompt_hash(name) for name in ("composer_system", "composer_user")}


def checkpoint_types() -> list[type]:
    """The typed findings and state models a checkpoint holds: the only classes read back from it."""
    from pydantic import BaseModel

    import graph.llm.base
    import graph.state
    import tools.findings

    return sorted({value for module in (tools.findings, graph.state, graph.llm.base) for value in vars(module).values()
                   if isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel},
                  key=lambda kind: (kind.__module__, kind.__qualname__))


def checkpoint_serializer():
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    return JsonPlusSerializer(allowed_msgpack_modules=checkpoint_types())


@contextmanager
def open_checkpointer(url: str) -> Iterator[Any]:
    """A LangGraph checkpointer: a SQLite file by default, PostgreSQL by URL."""
    if url.startswith(("postgresql://", "postgres://")):
        from langgraph.checkpoint.postgres import PostgresSaver

        with PostgresSaver.from_conn_string(url) as saver:
            saver.serde = checkpoint_serializer()
            saver.setup()
            yield saver
        return
    import sqlite3
    from pathlib import Path

    from langgraph.checkpoint.sqlite import SqliteSaver

    Path(url).parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(url, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    try:
        yield SqliteSaver(connection, serde=checkpoint_serializer())
    finally:
        connection.close()


__all__ = ["ALL_MODELS", "EVERY_TURN", "AdvisorRunner", "agents_to_run", "error_result", "open_checkpointer",
           "open_runner"]


@contextmanager
def open_runner(settings, labels_dir=None, overrides: dict | None = None,
                warm_up: tuple[str, ...] = EVERY_TURN) -> Iterator[AdvisorRunner]:
    """Everything one process needs to answer questions, from the settings.

    The models in ``warm_up`` (by default the router with its sentence encoder, the
    retriever and the LLM backend, which every question uses) start loading in a
    background thread as the runner opens, so the first question does not load them
    from scratch and opening stays instant (a UI can log the advisor in meanwhile); a
    question that needs one still loading waits for it (``cached_property`` locks on
    Python 3.11). Pass ``ALL_MODELS`` for a long-lived server, ``()`` to load lazily.
    """
    from advisor import services as factory
    from graph.audit import open_audit_trail

    store = factory.open_store(settings)
    services = AdvisorServices(settings=settings, store=store, knowledge=factory.knowledge_base(settings),
                               labels_dir=labels_dir, overrides=overrides or {})
    audit = open_audit_trail(settings.audit_url)
    try:
        _warm_up_in_background(services, warm_up)
        with open_checkpointer(settings.checkpoint_url) as checkpointer:
            yield AdvisorRunner(services, checkpointer=checkpointer, audit=audit)
    finally:
        audit.close()
        store.close()


def _warm_up_in_background(services: AdvisorServices, names: tuple[str, ...]) -> threading.Thread | None:
    if not names:
        return None

    def warm() -> None:
        try:
            services.warm_up(names)
        except Exception:  # the first question that needs the model loads it again and reports the error
            logger.exception("warming up %s failed", ", ".join(names))

    thread = threading.Thread(target=warm, name="advisor-warm-up", daemon=True)
    thread.start()
    return thread
