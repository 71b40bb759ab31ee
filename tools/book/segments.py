"""The book's spending segments: size, typical monthly spend, leading categories, rewards.

Every customer is placed in the segment of the nearest centre of the spending-segment
model, from their category shares over the 12 calendar months up to ``as_of`` (housing
and debt service left out and the shares renormalised over the model's categories, as
``Segmenter.assign`` does for one customer). Typical monthly spend is the median, over
the segment's customers, of their window spend divided by the months from their first
transaction in the window to ``as_of``'s month.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from tools.spending.ledger import HOUSING_AND_DEBT_CATEGORIES, NON_SPEND_CATEGORIES, month_number, window_start
from tools.spending.segments import Segmenter, book_category_shares

REPORT_COLUMNS = ("segment_id", "segment", "customers", "share_of_book", "typical_monthly_spend",
                  "top_categories", "rewards")
TOP_CATEGORIES = 3


def _window(transactions: pd.DataFrame, as_of: date) -> pd.DataFrame:
    stamps = pd.to_datetime(transactions["timestamp"], errors="coerce", format="ISO8601", utc=True)
    stamps = stamps.dt.tz_localize(None)
    start = pd.Timestamp(window_start(as_of))
    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    inside = (stamps >= start) & (stamps < end)
    return transactions[inside.to_numpy()].assign(_month=(stamps[inside].dt.year * 12
                                                          + stamps[inside].dt.month - 1).to_numpy())


def assign_segments(shares: pd.DataFrame, segmenter: Segmenter) -> pd.Series:
    """Nearest centre per row of a customer x category share frame (shares renormalised over the
    model's categories, as for one customer)."""
    values = shares.reindex(columns=segmenter.categories).fillna(0.0).clip(lower=0.0).to_numpy()
    totals = values.sum(axis=1, keepdims=True)
    vectors = np.sqrt(np.divide(values, totals, out=np.zeros_like(values), where=totals > 0))
    distances = ((vectors[:, None, :] - segmenter.centres[None, :, :]) ** 2).sum(axis=2)
    return pd.Series(distances.argmin(axis=1), index=shares.index, name="segment_id")


def segment_report(transactions: pd.DataFrame, segmenter: Segmenter, as_of: date) -> pd.DataFrame:
    """One row per segment of the model (``REPORT_COLUMNS``), largest first."""
    window = _window(transactions, as_of)
    shares = book_category_shares(window, exclude=HOUSING_AND_DEBT_CATEGORIES)
    segment = assign_segments(shares, segmenter)
    amount = pd.to_numeric(window["amount"], errors="coerce")
    category = window["category"].fillna("").astype(str).str.strip().str.lower()
    spend = (-amount).where((amount < 0) & ~category.isin(NON_SPEND_CATEGORIES), 0.0)
    by_customer = pd.DataFrame({"customer_id": window["customer_id"].to_numpy(), "spend": spend.to_numpy(),
                                "month": window["_month"].to_numpy()}).groupby("customer_id")
    months = month_number(as_of) - by_customer["month"].min() + 1
    monthly = (by_customer["spend"].sum() / months).reindex(segment.index)
    total = max(len(segment), 1)
    rows = []
    for k, name in enumerate(segmenter.names):
        members = segment.index[segment.to_numpy() == k]
        leaning = shares.loc[members].mean(axis=0).sort_values(ascending=False) if len(members) else pd.Series()
        top = [f"{c} {v:.0%}" for c, v in leaning.head(TOP_CATEGORIES).items() if v > 0]
        rows.append({
            "segment_id": k,
            "segment": name,
            "customers": len(members),
            "share_of_book": len(members) / total,
            "typical_monthly_spend": round(float(monthly.loc[members].median()), 2) if len(members) else 0.0,
            "top_categories": ", ".join(top),
            "rewards": "; ".join(segmenter.rewards_for(k)),
        })
    report = pd.DataFrame(rows, columns=list(REPORT_COLUMNS))
    return report.sort_values(["customers", "segment_id"], ascending=[False, True]).reset_index(drop=True)


def write_segment_chart(report: pd.DataFrame, path: Path) -> Path:
    """A Plotly chart of the segments: customers and typical monthly spend per segment.
    HTML embeds plotly.js (opens offline); PNG needs the kaleido package."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figure = make_subplots(rows=1, cols=2, subplot_titles=("Customers", "Typical monthly spend (EUR)"))
    hover = [f"{t}<br>{r}" for t, r in zip(report["top_categories"], report["rewards"], strict=True)]
    figure.add_trace(go.Bar(x=report["segment"], y=report["customers"], hovertext=hover, name="customers"), 1, 1)
    figure.add_trace(go.Bar(x=report["segment"], y=report["typical_monthly_spend"], hovertext=hover,
                            name="typical monthly spend"), 1, 2)
    figure.update_layout(title=f"Spending segments of the book ({int(report['customers'].sum()):,} customers)",
                         showlegend=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".png":
        figure.write_image(path)
    else:
        figure.write_html(path, include_plotlyjs=True, full_html=True)
    return path
