"""The sentiment and intent specialist: mood, complaints, churn risk, goals, vulnerability."""

from __future__ import annotations

from langgraph.runtime import Runtime

from agents.common import as_of_date, specialist
from graph.context import AdvisorServices, services_from
from graph.state import AdvisorState
from tools.findings import SentimentFinding
from tools.sentiment import voice_for_customer


@specialist("sentiment", lambda reason: SentimentFinding(available=False, missing_reason=reason))
def sentiment_node(state: AdvisorState, runtime: Runtime[AdvisorServices]) -> dict:
    services = services_from(runtime)
    finding = voice_for_customer(services.store, state["customer_id"], as_of_date(state),
                                 services.sentiment_scorer, services.intent_classifier)
    return {"sentiment": finding}
