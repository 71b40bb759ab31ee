"""Overspending alerts: a category's month well above the customer's own baseline.

The baseline of a month is the median of the customer's spend in that category over
the full months before it (zeros included, so a category bought in fewer than half of
the months has a zero baseline and a one-off purchase is not called overspending).
An alert needs at least ``MIN_BASELINE_MONTHS`` months of baseline, spend above the
baseline by more than ``MIN_EXCESS_RATIO`` and by more than ``MIN_EXCESS_EUR``; the
last ``ALERT_MONTHS`` full months are checked. Housing and debt service are left out:
they are contracts, not habits.
"""

from __future__ import annotations

import numpy as np

from tools.findings import OverspendingAlert
from tools.spending.ledger import HOUSING_AND_DEBT_CATEGORIES, Ledger, evidence_ids, month_key

ALERT_MONTHS = 3
MIN_BASELINE_MONTHS = 3
MIN_EXCESS_RATIO = 0.5
MIN_EXCESS_EUR = 50.0
EVIDENCE_PER_ALERT = 5


def overspending_alerts(ledger: Ledger) -> list[OverspendingAlert]:
    months = ledger.full_months
    table = ledger.spend_in(months)
    categories = ledger.spend_categories
    habitual = ~np.isin(categories, list(HOUSING_AND_DEBT_CATEGORIES))
    alerts: list[OverspendingAlert] = []
    for position in range(max(MIN_BASELINE_MONTHS, len(months) - ALERT_MONTHS), len(months)):
        baselines = np.median(table[:position], axis=0)
        current = table[position]
        excess = current - baselines
        flagged = habitual & (baselines > 0) & (excess > MIN_EXCESS_RATIO * baselines) & (excess > MIN_EXCESS_EUR)
        for j in np.flatnonzero(flagged):
            rows = np.flatnonzero(ledger.is_spend & (ledger.month == months[position])
                                  & (ledger.category == categories[j]))
            largest = rows[np.argsort(-ledger.spend[rows], kind="stable")]
            alerts.append(OverspendingAlert(
                category=str(categories[j]),
                month=month_key(int(months[position])),
                amount=round(float(current[j]), 2),
                baseline=round(float(baselines[j]), 2),
                excess_pct=round(100.0 * float(excess[j]) / float(baselines[j]), 1),
                evidence=evidence_ids(ledger.transaction_id[largest], EVIDENCE_PER_ALERT),
            ))
    return sorted(alerts, key=lambda a: (a.month, a.amount - a.baseline), reverse=True)
