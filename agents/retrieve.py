"""Retrieval of the policy and product documents (and the customer's own texts) a question needs."""

from __future__ import annotations

import time

from langgraph.runtime import Runtime

from graph.context import AdvisorServices, services_from
from graph.state import AdvisorState, Source


def retrieve_node(state: AdvisorState, runtime: Runtime[AdvisorServices]) -> dict:
    started = time.perf_counter()
    services = services_from(runtime)
    hits = services.retriever.search(state["question"], k=services.settings.retrieval_k,
                                     customer_id=state.get("customer_id"))
    sources = [Source(id=h.id, collection=h.collection, snippet=h.snippet, score=h.score) for h in hits]
    elapsed = (time.perf_counter() - started) * 1000
    return {"sources": sources, "timings_ms": {"retrieve": round(elapsed, 2)}, "nodes_run": ["retrieve"]}
