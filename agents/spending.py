"""The spending specialist: category trends, subscriptions, alerts, budget, anomalies, segment."""

from __future__ import annotations

from langgraph.runtime import Runtime

from agents.common import as_of_date, specialist
from graph.context import AdvisorServices, services_from
from graph.state import AdvisorState
from tools.findings import SpendingFinding
from tools.spending import spending_for_customer


@specialist("spending", lambda reason: SpendingFinding(available=False, missing_reason=reason))
def spending_node(state: AdvisorState, runtime: Runtime[AdvisorServices]) -> dict:
    services = services_from(runtime)
    finding = spending_for_customer(services.store, state["customer_id"], as_of_date(state), services.segmenter)
    return {"spending": finding}
