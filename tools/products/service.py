"""The matcher over the data store, and its LangChain tool wrappers (built on request only)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from bank.knowledge import KnowledgeBase
from tools.findings import CreditFinding, CustomerProfile, ProductsFinding, SentimentFinding, SpendingFinding
from tools.products.features import holdings_from_accounts
from tools.products.feedback import FeedbackAdjustments
from tools.products.matcher import DEFAULT_TOP_K, match_products

if TYPE_CHECKING:
    from bank.store import BankStore


def profile_from_store(store: BankStore, customer_id: str, as_of: date) -> CustomerProfile | None:
    """The tools' view of a stored customer: no protected attribute but the age on ``as_of``."""
    customer = store.customer(customer_id)
    if customer is None:
        return None
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


def products_for_customer(
    store: BankStore,
    profile: CustomerProfile,
    spending: SpendingFinding | None,
    credit: CreditFinding | None,
    sentiment: SentimentFinding | None,
    kb: KnowledgeBase,
    as_of: date,
    feedback: FeedbackAdjustments | None = None,
    top_k: int = DEFAULT_TOP_K,
) -> ProductsFinding:
    """``match_products`` with the customer's holdings (cash, card APRs, held codes) read from the store."""
    holdings = holdings_from_accounts(store.accounts(profile.customer_id), kb)
    finding = match_products(
        profile, spending, credit, sentiment, kb, as_of, feedback=feedback, top_k=top_k, holdings=holdings
    )
    finding.tools_called = ["holdings_from_accounts", *finding.tools_called]
    return finding


def as_langchain_tools(
    store: BankStore, kb: KnowledgeBase, as_of: date, feedback: FeedbackAdjustments | None = None
) -> list:
    """LangChain tools over the store, for agents that call tools by name."""
    from langchain_core.tools import StructuredTool

    def product_matcher(
        customer_id: str,
        spending: SpendingFinding | None = None,
        credit: CreditFinding | None = None,
        sentiment: SentimentFinding | None = None,
    ) -> dict:
        """Eligible, affordable, suitable products for a customer, ranked by fit and priced by risk band,
        from the spending, credit and sentiment findings."""
        profile = profile_from_store(store, customer_id, as_of)
        if profile is None:
            return ProductsFinding(available=False, missing_reason=f"unknown customer {customer_id}").model_dump(
                mode="json"
            )
        return products_for_customer(store, profile, spending, credit, sentiment, kb, as_of, feedback).model_dump(
            mode="json"
        )

    return [StructuredTool.from_function(product_matcher, name="product_matcher")]
