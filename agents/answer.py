"""The composer node: the shared backend (or the offline composer) writes the answer."""

from __future__ import annotations

import time

from langgraph.config import get_config
from langgraph.runtime import Runtime

from agents.composer import compose
from graph.context import AdvisorServices, services_from
from graph.state import ANSWER_TOKEN, STREAM_TOKENS, AdvisorState, LLMUsage
from tools.findings import Findings


def findings_of(state: AdvisorState) -> Findings:
    return Findings(spending=state.get("spending"), credit=state.get("credit"), sentiment=state.get("sentiment"),
                    products=state.get("products"), compliance=state.get("compliance"))


def usage_of(composed) -> LLMUsage:
    return LLMUsage(backend=composed.backend, model=composed.model, calls=composed.llm_calls,
                    prompt_tokens=composed.prompt_tokens, completion_tokens=composed.completion_tokens,
                    fallback_reason=composed.fallback_reason)


def _token_writer(runtime: Runtime[AdvisorServices]):
    """Where the answer's pieces go while it is written: the run's custom stream, when the
    caller asked for tokens (``STREAM_TOKENS`` in the run's config), else nowhere."""
    if not get_config().get("configurable", {}).get(STREAM_TOKENS):
        return None
    writer = runtime.stream_writer
    return lambda piece: writer({ANSWER_TOKEN: piece})


def composer_node(state: AdvisorState, runtime: Runtime[AdvisorServices]) -> dict:
    started = time.perf_counter()
    services = services_from(runtime)
    write_token = _token_writer(runtime)
    streamed = False

    def on_token(piece: str) -> None:
        nonlocal streamed
        streamed = True
        write_token(piece)

    composed = compose(state["question"], findings_of(state), [s.model_dump() for s in state.get("sources", [])],
                       services.backend, services.settings, customer_id=state.get("customer_id"),
                       on_token=on_token if write_token else None)
    if write_token and not streamed:  # the offline composer wrote it: the whole answer is one piece
        write_token(composed.answer_markdown)
    elapsed = (time.perf_counter() - started) * 1000
    return {"draft": composed.answer_markdown, "answer": composed.answer_markdown, "llm": usage_of(composed),
            "prompt_hashes": composed.prompt_hashes, "timings_ms": {"composer": round(elapsed, 2)},
            "nodes_run": ["composer"]}
