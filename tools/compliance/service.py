"""LangChain tool wrappers of the compliance checks (built on request only)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from bank.knowledge import KnowledgeBase
from tools.compliance.check import check_compliance
from tools.compliance.draft import check_draft
from tools.findings import (
    ComplianceFinding,
    CreditFinding,
    ProductsFinding,
    SentimentFinding,
    SpendingFinding,
)
from tools.products.service import profile_from_store

if TYPE_CHECKING:
    from bank.store import BankStore


def as_langchain_tools(store: BankStore, kb: KnowledgeBase, as_of: date) -> list:
    from langchain_core.tools import StructuredTool

    def compliance_check(
        customer_id: str,
        spending: SpendingFinding | None = None,
        credit: CreditFinding | None = None,
        sentiment: SentimentFinding | None = None,
        products: ProductsFinding | None = None,
    ) -> dict:
        """Check a customer's recommendations and data use against the bank's policies: suitability,
        affordability, disclosures, consent, vulnerability and complaints."""
        profile = profile_from_store(store, customer_id, as_of)
        if profile is None:
            return ComplianceFinding(
                available=False, missing_reason=f"unknown customer {customer_id}", passed=False
            ).model_dump(mode="json")
        return check_compliance(profile, spending, credit, sentiment, products, kb).model_dump(mode="json")

    def draft_check(
        answer_text: str,
        compliance: ComplianceFinding,
        products: ProductsFinding | None = None,
        credit: CreditFinding | None = None,
    ) -> list[dict]:
        """Violations in a draft answer: prohibited claims, pressure selling, protected attributes,
        unsupported rates or figures and missing disclosures, each with its policy section."""
        return [v.model_dump(mode="json") for v in check_draft(answer_text, products, compliance, credit, kb)]

    return [
        StructuredTool.from_function(compliance_check, name="compliance_check"),
        StructuredTool.from_function(draft_check, name="draft_check"),
    ]
