"""Entry point for LangGraph Studio / `langgraph dev` (see langgraph.json)."""

from __future__ import annotations


def make_graph():
    from graph.build import build_graph

    return build_graph()
