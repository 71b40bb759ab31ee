"""Where the money goes: spend by category and month, trends, top merchants."""

from __future__ import annotations

import numpy as np

from tools.findings import CategorySpend, CategoryTrend, MerchantSpend
from tools.spending.ledger import Ledger, month_key

TOP_MOVERS = 5
TOP_MERCHANTS = 10


def spend_by_category(ledger: Ledger) -> list[CategorySpend]:
    """Monthly average (full months), last full month and share of window spend per category,
    largest first."""
    table = ledger.monthly_spend
    if not table.size:
        return []
    totals = table.sum(axis=0)
    grand_total = float(totals.sum())
    last = ledger.spend_in(np.array([ledger.last_full_month]))[0]
    averages = ledger.monthly_averages
    order = np.argsort(-totals, kind="stable")
    return [
        CategorySpend(
            category=str(ledger.spend_categories[j]),
            monthly_average=round(averages[str(ledger.spend_categories[j])], 2),
            last_month=round(float(last[j]), 2),
            share=round(float(totals[j]) / grand_total, 4) if grand_total > 0 else 0.0,
        )
        for j in order
        if totals[j] > 0
    ]


def monthly_by_category(ledger: Ledger) -> dict[str, dict[str, float]]:
    """month (YYYY-MM) -> category -> spend, every month of the window present, zero categories left out."""
    table = ledger.monthly_spend
    categories = [str(c) for c in ledger.spend_categories]
    return {
        month_key(int(month)): {c: round(float(v), 2) for c, v in zip(categories, table[i]) if v > 0}
        for i, month in enumerate(ledger.months_index)
    }


def _period_trends(categories: np.ndarray, current: np.ndarray, previous: np.ndarray,
                   period: str) -> list[CategoryTrend]:
    change = current - previous
    active = np.flatnonzero((current > 0) | (previous > 0))
    order = active[np.argsort(-np.abs(change[active]), kind="stable")]
    return [
        CategoryTrend(
            category=str(categories[j]),
            period=period,
            previous=round(float(previous[j]), 2),
            current=round(float(current[j]), 2),
            change_pct=round(100.0 * float(change[j]) / float(previous[j]), 1) if previous[j] > 0 else None,
        )
        for j in order[:TOP_MOVERS]
    ]


def category_trends(ledger: Ledger) -> list[CategoryTrend]:
    """The largest movers (by absolute change) month on month (last full month vs the one
    before) and quarter on quarter (last 3 full months vs the 3 before)."""
    table = ledger.spend_in(ledger.full_months)
    categories = ledger.spend_categories
    trends: list[CategoryTrend] = []
    if len(table) >= 2:
        trends += _period_trends(categories, table[-1], table[-2], "month_on_month")
    if len(table) >= 6:
        last_quarter, quarter_before = table[-3:].sum(axis=0), table[-6:-3].sum(axis=0)
        trends += _period_trends(categories, last_quarter, quarter_before, "quarter_on_quarter")
    return trends


def top_merchants(ledger: Ledger, limit: int = TOP_MERCHANTS) -> list[MerchantSpend]:
    rows = np.flatnonzero(ledger.is_spend & (ledger.merchant != ""))
    if not len(rows):
        return []
    names, position = np.unique(ledger.merchant[rows], return_inverse=True)
    totals = np.bincount(position, weights=ledger.spend[rows])
    counts = np.bincount(position)
    order = np.lexsort((names, -totals))[:limit]
    return [MerchantSpend(merchant=str(names[k]), total=round(float(totals[k]), 2), count=int(counts[k]))
            for k in order]
