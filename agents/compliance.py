"""The compliance checker: suitability, affordability, disclosures, consent, vulnerability."""

from __future__ import annotations

from langgraph.runtime import Runtime

from agents.common import specialist
from graph.context import AdvisorServices, services_from
from graph.state import AdvisorState
from tools.compliance import check_compliance
from tools.findings import ComplianceFinding, Violation


def _failed_closed(reason: str) -> ComplianceFinding:
    return ComplianceFinding(
        available=False, missing_reason=reason, passed=False,
        violations=[Violation(rule="compliance.unavailable", policy="POL-AI-USE", severity="block",
                              message="The compliance check could not run; no offer may be shown.")],
    )


@specialist("compliance", _failed_closed)
def compliance_node(state: AdvisorState, runtime: Runtime[AdvisorServices]) -> dict:
    finding = check_compliance(
        state["profile"], state.get("spending"), state.get("credit"), state.get("sentiment"),
        state.get("products"), services_from(runtime).knowledge,
    )
    return {"compliance": finding}
