"""The credit and default-risk specialist."""

from __future__ import annotations

from langgraph.runtime import Runtime

from agents.common import as_of_date, specialist
from graph.context import AdvisorServices, services_from
from graph.state import AdvisorState
from tools.credit import credit_for_customer
from tools.findings import CreditFinding


@specialist("credit", lambda reason: CreditFinding(available=False, missing_reason=reason))
def credit_node(state: AdvisorState, runtime: Runtime[AdvisorServices]) -> dict:
    services = services_from(runtime)
    finding = credit_for_customer(services.store, state["customer_id"], as_of_date(state), services.risk_model)
    return {"credit": finding}
