"""The spending specialist's analysis of one customer: every sub-tool on one ledger."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import pandas as pd

from tools.findings import SpendingFinding
from tools.spending.alerts import overspending_alerts
from tools.spending.anomalies import suspicious_transactions
from tools.spending.budget import budget_plan
from tools.spending.categories import category_trends, monthly_by_category, spend_by_category, top_merchants
from tools.spending.ledger import Ledger
from tools.spending.recurring import (
    detect_recurring,
    recurring_payments_of,
    stream_rows,
    subscriptions_monthly_cost,
    subscriptions_of,
)

if TYPE_CHECKING:
    from bank.store import BankStore
    from tools.spending.book import BookReference
    from tools.spending.segments import Segmenter

MAX_EVIDENCE = 25


def customer_shares(ledger: Ledger) -> dict[str, float]:
    """The customer's share of window spend per category (sums to 1, or empty)."""
    totals = ledger.monthly_spend.sum(axis=0)
    total = float(totals.sum())
    if total <= 0:
        return {}
    return {str(c): float(v) / total for c, v in zip(ledger.spend_categories, totals) if v > 0}


def _main_evidence(finding: SpendingFinding) -> list[str]:
    evidence: list[str] = []
    for suspicious in finding.suspicious:
        evidence.append(f"txn:{suspicious.transaction_id}")
    for alert in finding.overspending:
        evidence += alert.evidence[:1]
    for subscription in finding.subscriptions:
        if subscription.duplicate or subscription.overlaps_with or subscription.price_rise_from is not None:
            evidence += subscription.evidence[-1:]
    return list(dict.fromkeys(evidence))[:MAX_EVIDENCE]


def analyse_spending(transactions: pd.DataFrame, as_of: date, monthly_income_hint: float | None = None,
                     segmenter: "Segmenter | None" = None, book: "BookReference | None" = None) -> SpendingFinding:
    """Spend by category, trends, merchants, subscriptions, overspending, budget, anomalies and
    segment over the 12 calendar months up to ``as_of``.

    ``segmenter`` adds the spending segment; the book's merchant profiles it carries (or
    ``book``) sharpen the suspicious-transaction tests (see ``anomalies``)."""
    ledger = Ledger.build(transactions, as_of)
    if book is None and segmenter is not None:
        book = segmenter.book
    tools_called = ["spend_by_category", "monthly_by_category", "category_trends", "top_merchants",
                    "detect_recurring", "overspending_alerts", "budget_plan", "suspicious_transactions"]
    if not ledger.in_window.any():
        return SpendingFinding(available=False, missing_reason=f"no transactions in the 12 months up to {as_of}",
                               window_start=ledger.start, window_end=as_of, tools_called=[])
    streams = detect_recurring(ledger)
    subscriptions = subscriptions_of(streams)
    alerts = overspending_alerts(ledger)
    by_category = spend_by_category(ledger)
    finding = SpendingFinding(
        months_covered=ledger.months_covered,
        window_start=ledger.start,
        window_end=as_of,
        monthly_spend=round(sum(ledger.monthly_averages.values()), 2),
        by_category=by_category,
        monthly_by_category=monthly_by_category(ledger),
        trends=category_trends(ledger),
        top_merchants=top_merchants(ledger),
        subscriptions=subscriptions,
        subscriptions_monthly_cost=subscriptions_monthly_cost(streams),
        recurring_payments=recurring_payments_of(streams),
        overspending=alerts,
        suspicious=suspicious_transactions(ledger, book=book, expected=stream_rows(streams)),
        tools_called=tools_called,
    )
    finding.budget = budget_plan(ledger, subscriptions, alerts, monthly_income_hint)
    finding.monthly_income = finding.budget.monthly_income
    if segmenter is not None:
        shares = customer_shares(ledger)
        if len(shares):
            finding.segment_id, finding.segment = segmenter.assign(shares)
            finding.segment_rewards = segmenter.rewards_for(finding.segment_id)
            finding.tools_called.append("assign_segment")
    finding.evidence = _main_evidence(finding)
    return finding


def spending_for_customer(store: "BankStore", customer_id: str, as_of: date,
                          segmenter: "Segmenter | None" = None) -> SpendingFinding:
    """``analyse_spending`` on the customer's transactions in the store, with the recorded
    income as the hint when no income credit is seen."""
    customer = store.customer(customer_id)
    if customer is None:
        return SpendingFinding(available=False, missing_reason=f"unknown customer {customer_id}")
    transactions = store.transactions(customer_id)
    if transactions.empty:
        return SpendingFinding(available=False, missing_reason=f"customer {customer_id} has no transactions")
    hint = customer.annual_income / 12.0 if customer.annual_income else None
    return analyse_spending(transactions, as_of, monthly_income_hint=hint, segmenter=segmenter)


def as_langchain_tools(store: "BankStore", as_of: date, segmenter: "Segmenter | None" = None) -> list:
    """LangChain tools over the store, for agents that call tools by name."""
    from langchain_core.tools import StructuredTool

    def spending_analysis(customer_id: str) -> dict:
        """Spending analysis of one customer: categories, trends, subscriptions, overspending,
        budget and savings plan, suspicious transactions and spending segment."""
        return spending_for_customer(store, customer_id, as_of, segmenter).model_dump(mode="json")

    return [StructuredTool.from_function(spending_analysis, name="spending_analysis")]
