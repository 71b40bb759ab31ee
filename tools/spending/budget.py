"""A budget and a savings plan built from the customer's own figures.

Rules:

* income: the monthly average of income credits over the window's full months; the
  hint (e.g. the recorded salary) is used only when no income is seen.
* essential vs discretionary: by category (``ledger.ESSENTIAL_CATEGORIES``), as
  monthly averages over the window's full months.
* actions, each with its monthly saving: cancel duplicate charges and one of each
  pair of overlapping subscriptions (the cheaper one), bring each overspent category
  back to its baseline (saving: the last ``RECENT_MONTHS`` months' average above the
  baseline, a habit rather than one month's peak), and trim the largest other
  discretionary categories by ``TRIM_SHARE`` (subscriptions are cancelled, not trimmed).
* target: ``TARGET_SHARE`` of income when the present surplus already covers it;
  otherwise the surplus plus the savings of the actions, capped at ``TARGET_SHARE`` of
  income and floored at zero, rounded down to EUR 5.
"""

from __future__ import annotations

import math

import numpy as np

from tools.findings import BudgetPlan, OverspendingAlert, Subscription
from tools.spending.ledger import ESSENTIAL_CATEGORIES, INCOME_CATEGORIES, SUBSCRIPTION_SERVICE_CATEGORIES, Ledger
from tools.spending.services import service_families

TARGET_SHARE = 0.20
TRIM_SHARE = 0.10
TRIM_CATEGORIES = 2
RECENT_MONTHS = 3
MIN_ACTION_EUR = 5.0


def _money(value: float) -> str:
    return f"EUR {value:,.2f}"


def observed_monthly_income(ledger: Ledger) -> float:
    """Average monthly income credits over the window's full months (all months when none is full)."""
    months = ledger.averaging_months
    if not len(months):
        return 0.0
    credits = ((ledger.amount > 0) & np.isin(ledger.category, list(INCOME_CATEGORIES))
               & np.isin(ledger.month, months))
    return float(ledger.amount[credits].sum()) / len(months)


def _recent_averages(ledger: Ledger) -> dict[str, float]:
    """Average monthly spend per category over the last ``RECENT_MONTHS`` full months."""
    months = ledger.averaging_months[-RECENT_MONTHS:]
    if not len(months):
        return {}
    means = ledger.spend_in(months).mean(axis=0)
    return {str(c): float(v) for c, v in zip(ledger.spend_categories, means)}


def _subscription_actions(subscriptions: list[Subscription]) -> list[tuple[str, float]]:
    actions: list[tuple[str, float]] = []
    by_merchant = {s.merchant: s for s in subscriptions}
    for sub in subscriptions:
        if sub.duplicate:
            actions.append((f"Stop the duplicate {sub.merchant} charge", _per_month(sub)))
    dropped: set[str] = set()
    for sub in sorted(subscriptions, key=_per_month):
        partners = [by_merchant[m] for m in sub.overlaps_with if m in by_merchant and m not in dropped]
        if sub.merchant in dropped or not partners:
            continue
        partner_families = {f for p in partners for f in service_families(p.merchant)}
        shared = sorted(set(service_families(sub.merchant)) & partner_families)
        kept = ", ".join(p.merchant for p in partners)
        family = " / ".join(f.replace("_", " ") for f in shared) or "same kind of service"
        actions.append((f"Cancel {sub.merchant} ({family}: overlaps with {kept})", _per_month(sub)))
        dropped.add(sub.merchant)
    return actions


def _per_month(subscription: Subscription) -> float:
    return subscription.amount if subscription.period == "monthly" else subscription.amount / 12


def budget_plan(ledger: Ledger, subscriptions: list[Subscription], alerts: list[OverspendingAlert],
                monthly_income_hint: float | None = None) -> BudgetPlan:
    income = observed_monthly_income(ledger)
    if income <= 0 and monthly_income_hint:
        income = float(monthly_income_hint)
    averages = ledger.monthly_averages
    essential = sum(v for c, v in averages.items() if c in ESSENTIAL_CATEGORIES)
    discretionary = sum(v for c, v in averages.items() if c not in ESSENTIAL_CATEGORIES)
    surplus = income - essential - discretionary

    actions = _subscription_actions(subscriptions)
    latest_alert: dict[str, OverspendingAlert] = {}
    for alert in alerts:
        if alert.category not in latest_alert or alert.month > latest_alert[alert.category].month:
            latest_alert[alert.category] = alert
    recent = _recent_averages(ledger)
    for category, alert in sorted(latest_alert.items()):
        saving = recent.get(category, 0.0) - alert.baseline
        actions.append((f"Bring {category} back to the usual {_money(alert.baseline)} a month (last "
                        f"{RECENT_MONTHS} months: {_money(recent.get(category, 0.0))} a month; "
                        f"{_money(alert.amount)} in {alert.month})", saving))
    trimmable = sorted(((v, c) for c, v in averages.items() if c not in ESSENTIAL_CATEGORIES
                        and c not in latest_alert and c not in SUBSCRIPTION_SERVICE_CATEGORIES), reverse=True)
    for average, category in trimmable[:TRIM_CATEGORIES]:
        actions.append((f"Trim {category} by {TRIM_SHARE:.0%} (from {_money(average)} a month)",
                        TRIM_SHARE * average))
    actions = [(text, saving) for text, saving in actions if saving >= MIN_ACTION_EUR]
    cuts = sum(saving for _, saving in actions)

    goal = TARGET_SHARE * income
    target = goal if surplus >= goal else min(goal, max(0.0, surplus) + cuts)
    target = 5.0 * math.floor(max(0.0, target) / 5.0)
    texts = [f"{text}: saves {_money(saving)} a month" for text, saving in actions]
    if target > 0:
        texts.append(f"Set up a standing order of {_money(target)} to savings on payday")
    return BudgetPlan(
        monthly_income=round(income, 2),
        monthly_essential_spend=round(essential, 2),
        monthly_discretionary_spend=round(discretionary, 2),
        monthly_savings_target=target,
        actions=texts,
    )
