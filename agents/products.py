"""The product matcher: eligible, affordable, suitable offers ranked by fit, priced by band."""

from __future__ import annotations

from langgraph.runtime import Runtime

from agents.common import as_of_date, specialist
from graph.context import AdvisorServices, services_from
from graph.state import AdvisorState
from tools.findings import ProductsFinding
from tools.products import Holdings, holdings_from_accounts, match_products


def customer_holdings(services: AdvisorServices, customer_id: str) -> Holdings:
    """What the customer holds (cash savings, balances with other lenders, card APRs), from the accounts."""
    return holdings_from_accounts(services.store.accounts(customer_id), services.knowledge)


@specialist("products", lambda reason: ProductsFinding(available=False, missing_reason=reason))
def products_node(state: AdvisorState, runtime: Runtime[AdvisorServices]) -> dict:
    services = services_from(runtime)
    finding = match_products(
        state["profile"], state.get("spending"), state.get("credit"), state.get("sentiment"),
        services.knowledge, as_of_date(state), held_product_codes=set(state.get("held_product_codes", [])),
        holdings=customer_holdings(services, state["customer_id"]), feedback=services.feedback,
    )
    return {"products": finding}
