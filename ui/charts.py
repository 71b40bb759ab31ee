"""Plotly figures of the findings: spending by category over months, credit utilisation.

The figures only draw numbers the findings already hold; they compute nothing new
apart from grouping the smallest categories into "other" so a chart stays readable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

MAX_CATEGORIES = 7
CHART_HEIGHT = 340
_LAYOUT = dict(template="plotly_white", height=CHART_HEIGHT, margin=dict(l=50, r=20, t=50, b=30),
               legend=dict(orientation="h", yanchor="top", y=-0.12, x=0))


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


def spending_by_month_figure(monthly_by_category: Mapping[str, Mapping[str, float]],
                             max_categories: int = MAX_CATEGORIES) -> go.Figure | None:
    """Stacked monthly bars, one colour per category (the largest ones; the rest as 'other')."""
    months = sorted(m for m, spend in monthly_by_category.items() if spend)
    if not months:
        return None
    totals: dict[str, float] = {}
    for month in months:
        for category, amount in monthly_by_category[month].items():
            totals[category] = totals.get(category, 0.0) + float(amount)
    ranked = sorted(totals, key=lambda c: (-totals[c], c))
    shown = ranked[:max_categories] if len(ranked) > max_categories + 1 else ranked
    rest = [c for c in ranked if c not in shown]
    figure = go.Figure()
    for category in shown:
        values = [float(monthly_by_category[m].get(category, 0.0)) for m in months]
        figure.add_bar(name=category, x=months, y=values,
                       hovertemplate="%{x} " + category + ": EUR %{y:,.2f}<extra></extra>")
    if rest:
        values = [sum(float(monthly_by_category[m].get(c, 0.0)) for c in rest) for m in months]
        figure.add_bar(name=f"other ({len(rest)})", x=months, y=values,
                       hovertemplate="%{x} other: EUR %{y:,.2f}<extra></extra>")
    figure.update_layout(title="Spending by category per month (EUR)", barmode="stack",
                         xaxis=dict(type="category", title=None), yaxis_title="EUR",
                         **{**_LAYOUT, "height": CHART_HEIGHT + 60})
    return figure


def utilisation_figure(accounts: Sequence[Any]) -> go.Figure | None:
    """Balance against limit per credit account, as a percentage of the limit."""
    rows = [a for a in accounts if (_field(a, "credit_limit") or 0) > 0]
    if not rows:
        return None
    labels = [f"{_field(a, 'product_code') or 'account'} · {_field(a, 'account_id')}" for a in rows]
    percent = [round(100 * float(_field(a, "utilisation")), 1) for a in rows]
    custom = [[float(_field(a, "balance")), float(_field(a, "credit_limit"))] for a in rows]
    figure = go.Figure(go.Bar(
        x=percent, y=labels, orientation="h", customdata=custom, text=[f"{p:.1f}%" for p in percent],
        textposition="auto", marker_color=["#c0392b" if p >= 75 else "#e67e22" if p >= 50 else "#2e86c1"
                                           for p in percent],
        hovertemplate="%{y}: EUR %{customdata[0]:,.2f} of EUR %{customdata[1]:,.2f} (%{x:.1f}%)<extra></extra>",
    ))
    figure.update_layout(title="Credit utilisation by account (% of limit)", xaxis=dict(range=[0, max(100, *percent)],
                         ticksuffix="%"), **{**_LAYOUT, "height": max(200, 90 + 45 * len(rows))})
    return figure
