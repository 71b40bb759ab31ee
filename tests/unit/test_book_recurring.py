"""Recurring payments found for a whole book at once equal ``detect_recurring`` customer by customer."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tools.book.findings import TRANSACTION_COLUMNS, _SortedTransactions
from tools.book.recurring import book_streams
from tools.spending.ledger import Ledger
from tools.spending.recurring import (
    detect_recurring,
    recurring_payments_of,
    subscriptions_monthly_cost,
    subscriptions_of,
)

AS_OF = date(2026, 3, 31)
START = datetime(2024, 1, 1, 9, 0)


def _charge(customer: str, when: datetime, amount: float, merchant: str, category: str = "subscriptions",
            account: str = "AC-1", channel: str = "direct_debit") -> dict:
    return {"transaction_id": f"T-{customer}-{merchant}-{account}-{when:%Y%m%d%H%M}-{amount}", "account_id": account,
            "customer_id": customer, "timestamp": when.isoformat(timespec="seconds"), "amount": amount,
            "merchant": merchant, "mcc": "", "category": category, "channel": channel, "city": "", "country": "IE"}


def _monthly(customer: str, first: datetime, months: int, amount: float, merchant: str, **kw) -> list[dict]:
    return [_charge(customer, first + timedelta(days=round(30.44 * m)), amount, merchant, **kw) for m in range(months)]


def _described(streams) -> tuple:
    return (
        [s.model_dump() for s in subscriptions_of(streams)],
        [s.model_dump() for s in recurring_payments_of(streams)],
        subscriptions_monthly_cost(streams),
        [(s.key, s.account, s.category, s.cadence.period, s.step_at, s.rows.tolist(), s.amounts.tolist(),
          s.duplicate, s.overlaps_with, s.in_person) for s in streams],
    )


def _assert_book_equals_per_customer(transactions: pd.DataFrame, as_of: date = AS_OF) -> int:
    """Every customer's streams from ``book_streams`` describe as ``detect_recurring`` of their own ledger."""
    frame = transactions.reindex(columns=TRANSACTION_COLUMNS)
    ledgers = _SortedTransactions.of(frame, as_of)
    found = book_streams(ledgers.starts, ledgers.ends, ledgers.columns, as_of)
    assert len(found) == len(ledgers.customers)
    streams = 0
    for k, customer in enumerate(ledgers.customers):
        own = Ledger.build(frame[frame["customer_id"].astype(str) == customer], as_of)
        expected = detect_recurring(own)
        assert _described(found[k]) == _described(expected), customer
        streams += len(expected)
    return streams


def _hand_made_book() -> pd.DataFrame:
    rows: list[dict] = []
    # A monthly plan with a price rise, and a music service in the same family overlap check.
    rows += _monthly("C-rise", START, 10, -10.99, "Netflix")
    rows += _monthly("C-rise", START + timedelta(days=round(30.44 * 10)), 17, -12.99, "Netflix")
    rows += _monthly("C-rise", START + timedelta(days=3), 27, -15.99, "Disney Plus")
    # An annual plan: two charges a year apart, and one a year later again.
    rows += [_charge("C-annual", START + timedelta(days=365 * y + 5), -99.0, "Amazon Prime") for y in range(3)]
    # A gap: a plan paused for four months, then resumed at the same price.
    rows += _monthly("C-gap", START, 6, -9.99, "Spotify")
    rows += _monthly("C-gap", START + timedelta(days=300), 18, -9.99, "Spotify")
    # Duplicates: one service from two accounts; one account paying two prices to one merchant.
    rows += _monthly("C-dup", START + timedelta(days=200), 20, -7.99, "Dropbox")
    rows += _monthly("C-dup", START + timedelta(days=400), 14, -7.99, "Dropbox", account="AC-2")
    rows += _monthly("C-dup", START + timedelta(days=100), 23, -4.99, "Google One")
    rows += _monthly("C-dup", START + timedelta(days=110), 23, -1.99, "Google One")
    # Bills whose amounts vary, rent and a loan: recurring payments, not subscriptions.
    rows += [_charge("C-bills", START + timedelta(days=round(30.44 * m) + 2), -(60 + 25 * (m % 4)), "Electric Ireland",
                     category="utilities") for m in range(27)]
    rows += _monthly("C-bills", START, 27, -1400.0, "Landlord", category="rent", channel="transfer")
    rows += _monthly("C-bills", START, 27, 3200.0, "Employer", category="income", channel="transfer")
    # Weekly shopping and a gym paid in person: habits, not commitments.
    rows += [_charge("C-shop", START + timedelta(days=7 * w), -(40 + (w * 7) % 23), "Tesco", category="groceries",
                     channel="card_present") for w in range(115)]
    rows += _monthly("C-shop", START, 27, -45.0, "Flyefit", category="fitness", channel="card_present")
    # Subscription services with one or two charges: a new monthly plan, a recent and an old single charge.
    rows += [_charge("C-new", datetime(2026, 2, 20, 8), -5.99, "Duolingo"),
             _charge("C-new", datetime(2026, 3, 21, 8), -5.99, "Duolingo"),
             _charge("C-new", datetime(2026, 3, 15, 8), -3.99, "Headspace"),
             _charge("C-new", datetime(2025, 6, 1, 8), -59.0, "Audible")]
    # Reference numbers in merchant names, a charge after as_of, and an unusable amount.
    rows += [_charge("C-ref", START + timedelta(days=round(30.44 * m)), -19.99, f"ICLOUD {1000 + m}")
             for m in range(27)]
    rows += [_charge("C-ref", datetime(2026, 4, 20), -19.99, "ICLOUD 9999"),
             _charge("C-ref", datetime(2026, 1, 2), float("nan"), "Spotify")]
    # Customers with no spending: income only; no transactions in the lookback.
    rows += _monthly("C-income", START, 27, 2500.0, "Employer", category="income", channel="transfer")
    rows += _monthly("C-old", datetime(2020, 1, 1), 12, -9.99, "Netflix")
    return pd.DataFrame(rows)


def test_book_streams_equal_detect_recurring_on_hand_made_customers():
    assert _assert_book_equals_per_customer(_hand_made_book()) >= 10


def test_book_streams_report_rises_duplicates_and_annual_plans_as_the_specialist_does():
    ledgers = _SortedTransactions.of(_hand_made_book().reindex(columns=TRANSACTION_COLUMNS), AS_OF)
    found = dict(zip(ledgers.customers, book_streams(ledgers.starts, ledgers.ends, ledgers.columns, AS_OF),
                     strict=True))
    netflix = next(s for s in subscriptions_of(found["C-rise"]) if s.merchant == "Netflix")
    assert (netflix.period, netflix.amount, netflix.price_rise_from) == ("monthly", 12.99, 10.99)
    assert [s.period for s in subscriptions_of(found["C-annual"])] == ["annual"]
    assert any(s.duplicate for s in subscriptions_of(found["C-dup"]) if s.merchant == "Dropbox")
    assert found["C-income"] == [] and found["C-old"] == []


def test_book_without_transactions_has_no_streams():
    empty = pd.DataFrame(columns=TRANSACTION_COLUMNS)
    ledgers = _SortedTransactions.of(empty, AS_OF)
    assert book_streams(ledgers.starts, ledgers.ends, ledgers.columns, AS_OF) == []


MERCHANTS = ["Netflix", "Spotify", "Tesco", "Landlord", "Electric Ireland", "Amazon Prime", "", "Gym Plus"]
CATEGORIES = ["subscriptions", "groceries", "rent", "utilities", "income", "digital_subscriptions", "dining"]

plans = st.fixed_dictionaries({
    "customer": st.sampled_from(["C-1", "C-2", "C-3"]),
    "merchant": st.sampled_from(MERCHANTS),
    "category": st.sampled_from(CATEGORIES),
    "account": st.sampled_from(["AC-1", "AC-2"]),
    "channel": st.sampled_from(["direct_debit", "online", "card_present"]),
    "first_day": st.integers(min_value=0, max_value=800),
    "period": st.sampled_from([7, 28, 30, 31, 35, 40, 365, 366]),
    "jitter": st.lists(st.integers(min_value=-4, max_value=4), min_size=1, max_size=30),
    "amount": st.sampled_from([-4.99, -9.99, -10.49, -12.99, -99.0, -60.0, -1500.0, 20.0]),
    "steps": st.lists(st.sampled_from([1.0, 1.0, 1.0, 1.02, 1.2, 1.8, 2.5, 0.5]), min_size=1, max_size=30),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(plans, min_size=1, max_size=8))
def test_book_streams_equal_detect_recurring_on_random_books(generated):
    rows = []
    for plan in generated:
        day, amount = plan["first_day"], plan["amount"]
        for i, jitter in enumerate(plan["jitter"]):
            amount = round(amount * plan["steps"][i % len(plan["steps"])], 2)
            when = START + timedelta(days=day + i * plan["period"] + jitter)
            rows.append(_charge(plan["customer"], when, amount, plan["merchant"], category=plan["category"],
                                account=plan["account"], channel=plan["channel"]))
    frame = pd.DataFrame(rows).drop_duplicates("transaction_id")
    _assert_book_equals_per_customer(frame)
