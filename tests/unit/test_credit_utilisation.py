"""Utilisation, debt, debt-to-income and payment history on hand-made frames."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from tools.credit.assess import assess_credit
from tools.credit.utilisation import (
    account_utilisation,
    card_minimum_payment,
    credit_accounts,
    credit_summary,
    debt_to_income,
    payment_history,
    payments_as_of,
)
from tools.findings import CustomerProfile

AS_OF = date(2026, 10, 31)
ACCOUNT_COLUMNS = ["account_id", "customer_id", "type", "product_code", "opened_date", "credit_limit", "balance",
                   "apr", "monthly_payment", "status"]


def accounts_frame() -> pd.DataFrame:
    rows = [
        ("AC-1", "C-1", "credit_card", "CC-STD", "2020-01-01", 1000.0, 500.0, 22.9, None, "open"),
        ("AC-2", "C-1", "credit_card", "CC-TRAVEL", "2021-01-01", 3000.0, 2400.0, 19.9, None, "delinquent"),
        ("AC-3", "C-1", "personal_loan", "PL-STANDARD", "2022-01-01", None, 5000.0, 9.9, 200.0, "open"),
        ("AC-4", "C-1", "mortgage", "MTG-FIXED", "2019-01-01", None, 150000.0, 3.9, 900.0, "open"),
        ("AC-5", "C-1", "credit_card", "CC-STD", "2018-01-01", 2000.0, 0.0, 22.9, None, "closed"),
        ("AC-6", "C-1", "checking", "CHK-BASIC", "2015-01-01", None, 1200.0, None, None, "open"),
        ("AC-7", "C-1", "credit_card", "CC-BUILDER", "2024-01-01", 500.0, 10.0, 29.9, None, "open"),
        ("AC-8", "C-2", "checking", "CHK-BASIC", "2015-01-01", None, 300.0, None, None, "open"),
    ]
    return pd.DataFrame(rows, columns=ACCOUNT_COLUMNS)


def payments_frame() -> pd.DataFrame:
    rows = [
        ("AC-3", "C-1", "2025-10-15", 200.0, 200.0, "2025-11-24", 40),  # before the 12-month window
        ("AC-3", "C-1", "2026-01-15", 200.0, 200.0, "2026-01-14", 0),
        ("AC-3", "C-1", "2026-02-15", 200.0, 200.0, "2026-02-20", 5),
        ("AC-1", "C-1", "2026-03-10", 25.0, 25.0, "2026-04-14", 35),
        ("AC-1", "C-1", "2026-09-10", 25.0, 0.0, None, 51),  # still unpaid
        ("AC-2", "C-1", "2026-10-20", 72.0, 10.0, None, 11),  # partly paid, still open
        ("AC-2", "C-1", "2026-10-31", 72.0, 0.0, None, 0),  # due today: neither late nor missed
    ]
    return pd.DataFrame(rows, columns=["account_id", "customer_id", "due_date", "amount_due", "amount_paid",
                                       "paid_date", "days_late"])


def test_card_minimum_is_25_or_3_percent_and_never_above_the_balance():
    minimums = card_minimum_payment(pd.Series([0.0, 10.0, 500.0, 2400.0, -50.0]))
    assert minimums.tolist() == [0.0, 10.0, 25.0, 72.0, 0.0]


def test_open_credit_accounts_only():
    credit = credit_accounts(accounts_frame())
    assert sorted(credit["account_id"]) == ["AC-1", "AC-2", "AC-3", "AC-4", "AC-7"]


def test_utilisation_per_card_and_overall():
    credit = credit_accounts(accounts_frame())
    cards = {c.account_id: c.utilisation for c in account_utilisation(credit)}
    assert cards == {"AC-1": 0.5, "AC-2": 0.8, "AC-7": 0.02}
    summary = credit_summary(credit).loc["C-1"]
    assert summary["utilisation_overall"] == pytest.approx(2910 / 4500)
    assert summary["utilisation_max"] == pytest.approx(0.8)


def test_total_debt_and_monthly_payments_with_card_minimums():
    summary = credit_summary(credit_accounts(accounts_frame())).loc["C-1"]
    assert summary["total_debt"] == pytest.approx(500 + 2400 + 5000 + 150000 + 10)
    assert summary["unsecured_debt"] == pytest.approx(500 + 2400 + 5000 + 10)
    # cards: 25 (minimum floor), 72 (3 % of 2,400), 10 (the whole small balance); loans as stated
    assert summary["monthly_debt_payments"] == pytest.approx(25 + 72 + 10 + 200 + 900)
    assert summary["accounts_with_balance"] == 5


def test_debt_to_income_is_monthly_payments_over_monthly_income():
    assert debt_to_income(1207.0, 60_000.0) == pytest.approx(1207 / 5000)
    assert debt_to_income(1207.0, 0.0) is None


def test_payment_history_over_the_last_12_months():
    history = payment_history(payments_frame(), AS_OF)
    assert history.window_start == date(2025, 10, 31) and history.window_end == AS_OF
    assert history.instalments == 6
    assert history.late == 4
    assert history.late_30_plus == 2
    assert history.worst_days_late == 51
    assert history.missed == 2
    assert history.late_evidence == [
        "pay:AC-2:2026-10-20", "pay:AC-1:2026-09-10", "pay:AC-1:2026-03-10", "pay:AC-3:2026-02-15",
    ]


def test_payments_are_replayed_as_they_stood_on_an_earlier_day():
    then = payments_as_of(payments_frame(), date(2026, 3, 20))
    march = then[then["account_id"].eq("AC-1")].iloc[0]
    assert march["days_late"] == 10 and bool(march["missed"]) and pd.isna(march["paid_date"])
    assert then["due_date"].max() <= pd.Timestamp("2026-03-20")
    history = payment_history(payments_frame(), date(2026, 3, 20))
    assert history.worst_days_late == 40 and history.missed == 1


def test_assess_credit_without_a_model_gives_figures_and_evidence():
    profile = CustomerProfile(customer_id="C-1", annual_income=60_000.0, tenure_months=48)
    finding = assess_credit(profile, accounts_frame(), payments_frame(), None, None, AS_OF)
    assert finding.available
    assert finding.utilisation_overall == pytest.approx(2910 / 4500, abs=1e-4)
    assert finding.monthly_income == 5000.0
    assert finding.debt_to_income == pytest.approx(1207 / 5000, abs=1e-4)
    assert (finding.late_payments_12m, finding.late_30_plus_12m, finding.worst_days_late,
            finding.missed_payments_12m) == (4, 2, 51, 2)
    assert {"acct:AC-1", "acct:AC-2", "acct:AC-3", "acct:AC-4", "acct:AC-7"} <= set(finding.evidence)
    assert "acct:AC-5" not in finding.evidence and "acct:AC-6" not in finding.evidence
    assert "pay:AC-1:2026-09-10" in finding.evidence
    assert finding.default_probability is None and finding.risk_band is None
    assert finding.tools_called == ["credit.utilisation", "credit.debt_to_income", "credit.payment_history"]


def test_a_customer_without_credit_data_is_not_available():
    profile = CustomerProfile(customer_id="C-2", annual_income=30_000.0)
    finding = assess_credit(profile, accounts_frame(), payments_frame(), None, None, AS_OF)
    assert not finding.available and finding.missing_reason
    assert finding.total_debt == 0 and finding.utilisation_overall is None and finding.accounts == []
