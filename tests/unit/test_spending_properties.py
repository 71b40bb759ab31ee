"""Property-based tests: random transaction frames never break the spending analysis."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tools.findings import SpendingFinding
from tools.spending import analyse_spending, book_category_shares, train_segmenter
from tools.spending.book import build_book_reference

START = datetime(2025, 1, 1)
MERCHANTS = ["Netflix", "Spotify", "Tesco", "Landlord", "ATM Lagos", "", None, "Employer", "Harvey Norman"]
CATEGORIES = ["groceries", "subscriptions", "rent", "income", "transfers", "card_payment", "travel", "Dining",
              " shopping ", "", None, "gambling"]
CHANNELS = ["card_present", "online", "direct_debit", "transfer", "atm", "", None]
COUNTRIES = ["IE", "ES", "NG", "", None]
COLUMNS = ["transaction_id", "account_id", "customer_id", "timestamp", "amount", "merchant", "category", "mcc",
           "channel", "city", "country"]

timestamps = st.one_of(
    st.integers(min_value=0, max_value=700 * 24 * 60).map(
        lambda minutes: (START + timedelta(minutes=minutes)).isoformat(timespec="seconds")),
    st.sampled_from(["not a date", "", None, "2026-02-30T10:00:00", "2025-06-01 12:00:00+02:00"]),
)
amounts = st.one_of(
    st.floats(min_value=-20_000, max_value=20_000, allow_nan=False, allow_infinity=False)
    .map(lambda x: round(x, 2)),
    st.sampled_from([-12.99, -10.99, -1500.0, 0.0, 3000.0]),
    st.just(float("nan")),
)
rows = st.fixed_dictionaries({
    "transaction_id": st.integers(min_value=1, max_value=10**7).map(lambda n: f"T-{n:08d}"),
    "account_id": st.sampled_from(["AC-1", "AC-2", None]),
    "customer_id": st.just("C-1"),
    "timestamp": timestamps,
    "amount": amounts,
    "merchant": st.sampled_from(MERCHANTS),
    "category": st.sampled_from(CATEGORIES),
    "mcc": st.sampled_from(["5411", "", None]),
    "channel": st.sampled_from(CHANNELS),
    "city": st.sampled_from(["Dublin", "Lagos", None]),
    "country": st.sampled_from(COUNTRIES),
})
as_of_dates = st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 1, 31))


def _regular_life() -> list[dict]:
    """A monthly subscription and salary, so that random rows mix with real structure."""
    out = []
    for month in range(20):
        day = START + timedelta(days=30.4 * month + 3)
        out.append({"transaction_id": f"S-{month}", "account_id": "AC-1", "customer_id": "C-1",
                    "timestamp": day.isoformat(timespec="seconds"), "amount": -12.99, "merchant": "Netflix",
                    "category": "subscriptions", "mcc": "4899", "channel": "online", "city": "", "country": "NL"})
        out.append({"transaction_id": f"I-{month}", "account_id": "AC-1", "customer_id": "C-1",
                    "timestamp": (day + timedelta(days=20)).isoformat(timespec="seconds"), "amount": 2500.0,
                    "merchant": "Employer", "category": "income", "mcc": "", "channel": "transfer", "city": "",
                    "country": "IE"})
    return out


@lru_cache(maxsize=1)
def _small_segmenter():
    book_rows = []
    rng = np.random.default_rng(0)
    for customer in range(12):
        for category in ("groceries", "travel", "dining", "shopping"):
            book_rows.append({"customer_id": f"B-{customer}", "amount": -float(rng.uniform(10, 500)),
                              "category": category, "merchant": f"Shop {category}", "mcc": "5999"})
    return train_segmenter(pd.DataFrame(book_rows), clusters=3)


def _check(finding: SpendingFinding) -> None:
    SpendingFinding.model_validate_json(finding.model_dump_json())
    if not finding.available:
        assert finding.missing_reason
        return
    if finding.by_category:
        assert abs(sum(c.share for c in finding.by_category) - 1.0) < 1e-2
    assert all(0.0 <= c.share <= 1.0 and c.monthly_average >= 0 for c in finding.by_category)
    assert all(v > 0 for month in finding.monthly_by_category.values() for v in month.values())
    assert all(s.charges >= 1 and s.amount > 0 and s.first_seen <= s.last_seen for s in finding.subscriptions)
    assert finding.subscriptions_monthly_cost >= 0
    assert all(0 < s.score <= 1 and s.kinds and len(s.kinds) == len(s.reasons) for s in finding.suspicious)
    assert all(a.amount > a.baseline > 0 for a in finding.overspending)
    budget = finding.budget
    assert budget is not None and budget.monthly_savings_target >= 0
    assert budget.monthly_savings_target <= max(0.2 * budget.monthly_income, 0.0) + 1e-6
    assert all(e.startswith("txn:") for e in finding.evidence)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rows, min_size=0, max_size=80), as_of_dates, st.booleans(),
       st.one_of(st.none(), st.floats(min_value=0, max_value=20_000)))
def test_random_frames_never_break_the_analysis(random_rows, as_of, with_structure, income_hint):
    frame = pd.DataFrame((_regular_life() if with_structure else []) + random_rows, columns=COLUMNS)
    _check(analyse_spending(frame, as_of, monthly_income_hint=income_hint))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rows, min_size=1, max_size=60), as_of_dates)
def test_random_frames_with_a_segmenter_and_book(random_rows, as_of):
    segmenter = _small_segmenter()
    frame = pd.DataFrame(_regular_life() + random_rows)
    finding = analyse_spending(frame, as_of, segmenter=segmenter)
    _check(finding)
    if finding.available and finding.by_category:
        assert finding.segment in segmenter.names


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["C-1", "C-2", "C-3", None]), amounts, st.sampled_from(CATEGORIES),
                          st.sampled_from(MERCHANTS)), min_size=0, max_size=60))
def test_book_shares_sum_to_one(values):
    frame = pd.DataFrame(values, columns=["customer_id", "amount", "category", "merchant"])
    shares = book_category_shares(frame)
    if not shares.empty:
        assert np.allclose(shares.sum(axis=1), 1.0)
        assert (shares.to_numpy() >= 0).all()
        assert not {"income", "transfers", "card_payment"} & set(shares.columns)
    reference = build_book_reference(frame)
    for profiles in reference.levels.values():
        assert (profiles.charges >= profiles.reach).all() and (profiles.reach >= 1).all()
        assert list(profiles.keys) == sorted(profiles.keys)
