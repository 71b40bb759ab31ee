"""The guard: checks the question and the customer before any work is done."""

from __future__ import annotations

from datetime import date

from langgraph.runtime import Runtime

from bank.store import Customer

from graph.context import AdvisorServices, services_from
from langgraph.types import Overwrite

from graph.state import AdvisorState, LLMUsage
from tools.findings import CustomerProfile


class GuardError(ValueError):
    """A request the advisor must be told about rather than answered."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def check_request(question: str, customer_id: str | None, advisor_book: set[str] | None,
                  services: AdvisorServices) -> None:
    """Raise :class:`GuardError` for an empty or over-long question, an unknown customer
    or one outside the advisor's book; cheap enough to run before the graph starts."""
    if not question or not question.strip():
        raise GuardError("empty_question", "The question is empty.")
    limit = services.settings.max_question_chars
    if len(question) > limit:
        raise GuardError("question_too_long", f"The question has {len(question):,} characters; the limit is {limit:,}.")
    if customer_id is not None:
        if not services.store.customer_exists(customer_id):
            raise GuardError("unknown_customer", f"No customer with id {customer_id}.")
        if advisor_book is not None and customer_id not in advisor_book:
            raise GuardError("not_in_book", f"Customer {customer_id} is not in your book; ask their advisor.")


def profile_from_customer(customer: Customer, as_of: date) -> CustomerProfile:
    """The tools' view of a customer: protected attributes left behind, age kept for
    the legal minimum only."""
    return CustomerProfile(
        customer_id=customer.customer_id,
        annual_income=customer.annual_income,
        employment_status=customer.employment_status,
        tenure_months=customer.tenure_months,
        consent_marketing=customer.consent_marketing,
        consent_social=customer.consent_social,
        age=customer.age_on(as_of),
        advisor_id=customer.advisor_id,
    )


def profile_of(services: AdvisorServices, customer_id: str) -> tuple[CustomerProfile, list[str]]:
    customer = services.store.customer(customer_id)
    accounts = services.store.accounts(customer_id)
    open_accounts = accounts[accounts["status"].fillna("open").isin(["open", "delinquent"])]
    held = sorted({code for code in open_accounts["product_code"].dropna()})
    return profile_from_customer(customer, services.as_of), held


def guard_node(state: AdvisorState, runtime: Runtime[AdvisorServices]) -> dict:
    services = services_from(runtime)
    customer_id = state.get("customer_id")
    profile, held = (profile_of(services, customer_id) if customer_id else (None, []))
    return {
        "profile": profile,
        "held_product_codes": held,
        "as_of": services.as_of.isoformat(),
        "spending": None, "credit": None, "sentiment": None, "products": None, "compliance": None,
        "sources": [], "draft": "", "answer": "", "revisions": 0,
        "prompt_hashes": Overwrite({}), "timings_ms": Overwrite({}), "nodes_run": Overwrite(["guard"]),
        "llm": Overwrite(LLMUsage(backend=services.settings.llm_backend)),
    }
