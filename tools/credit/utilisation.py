"""Credit figures from the contract's tables: utilisation, debt, debt service, payment history.

Every function works on whole frames (any number of customers) grouped by
``customer_id``, so the per-customer tools and the book-wide scoring share one code path.

Definitions:
- credit accounts are credit cards, personal and auto loans and mortgages whose status
  is not closed (delinquent and charged-off accounts still carry debt);
- utilisation of a card = balance / credit_limit (balances below 0 count as 0); overall
  utilisation = total card balance / total card limit;
- total debt = sum of the positive balances of the credit accounts;
- monthly debt payments = sum of ``monthly_payment`` of the credit accounts; a card
  without one is charged the usual minimum: max(25, 3 % of the balance), never more than
  the balance itself;
- debt-to-income = monthly debt payments / (annual income / 12);
- payment history over a window ending on ``as_of``: late = days_late > 0, 30+ =
  days_late >= 30, worst = largest days_late, missed = past due, not paid in full and
  without a paid date.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from bank.contract import INSTALMENT_TYPES, REVOLVING_TYPES
from tools.credit.grouping import Grouping
from tools.findings import AccountUtilisation

CREDIT_TYPES: tuple[str, ...] = (*REVOLVING_TYPES, *INSTALMENT_TYPES)
INACTIVE_STATUSES: frozenset[str] = frozenset({"closed", "paid_off", "cancelled", "canceled"})
CARD_MINIMUM_FLOOR = 25.0
CARD_MINIMUM_RATE = 0.03
LATE_30_DAYS = 30
MIN_CREDIT_LIMIT = 0.01
SHORT_CHOICES = 16  # a card's limit below one cent is treated as no limit


class PaymentHistory(BaseModel):
    """One customer's repayment record over a window."""

    window_start: date
    window_end: date
    instalments: int = 0
    late: int = Field(0, description="Instalments paid or still open after the due date (days_late > 0).")
    late_30_plus: int = 0
    late_30_plus_6m: int = 0
    late_30_plus_3m: int = 0
    worst_days_late: int = 0
    missed: int = Field(0, description="Instalments not paid in full and without a paid date.")
    late_evidence: list[str] = Field(default_factory=list, description="pay:<account>:<due date> of late ones.")


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator where the denominator is positive, else NaN."""
    numerator = np.asarray(numerator, dtype="float64")
    denominator = np.asarray(denominator, dtype="float64")
    positive = denominator > 0
    return np.where(positive, numerator / np.where(positive, denominator, 1.0), np.nan)


def lower_text(values: pd.Series) -> np.ndarray:
    """Lower-cased, stripped strings; missing values become ''."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    lowered = np.array([str(v).strip().lower() for v in uniques] + [""], dtype=object)
    return lowered[codes]  # code -1 (missing) picks the trailing ''


def is_in(values: np.ndarray, choices) -> np.ndarray:
    """Membership test; hash-based for long choice lists (numpy's isin compares object arrays pairwise)."""
    values = np.asarray(values, dtype=object)
    choices = list(choices)
    if len(choices) > SHORT_CHOICES:
        return pd.Index(choices).get_indexer(values) >= 0
    found = np.zeros(len(values), dtype=bool)
    for choice in choices:
        found |= values == choice
    return found


def numbers(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def dates(values: pd.Series) -> np.ndarray:
    """datetime64 values; unparseable or missing ones are NaT."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.to_numpy(dtype="datetime64[ns]")
    parsed = pd.to_datetime(values.astype(object).where(values.notna(), None), errors="coerce", format="ISO8601")
    return parsed.to_numpy(dtype="datetime64[ns]")


def _card_minimum(owed: np.ndarray) -> np.ndarray:
    return np.minimum(np.maximum(CARD_MINIMUM_FLOOR, np.round(CARD_MINIMUM_RATE * owed, 2)), owed)


def card_minimum_payment(balance: pd.Series) -> pd.Series:
    """max(25, 3 % of the balance), capped at the balance; 0 for no balance."""
    owed = np.nan_to_num(np.clip(numbers(balance), 0, None))
    return pd.Series(_card_minimum(owed), index=balance.index)


def credit_accounts(accounts: pd.DataFrame) -> pd.DataFrame:
    """The open credit accounts (cards, loans, mortgages) with numbers parsed and debt service added.

    Columns: account_id, customer_id, type, product_code, opened_date, status, balance,
    credit_limit, monthly_payment, owed (balance >= 0), is_card, monthly_service.
    """
    kind = lower_text(accounts["type"])
    status = lower_text(accounts["status"]) if "status" in accounts else np.full(len(accounts), "", dtype=object)
    keep = is_in(kind, CREDIT_TYPES) & ~is_in(status, INACTIVE_STATUSES)
    rows = accounts.iloc[np.flatnonzero(keep)]
    balance = numbers(rows["balance"])
    stated = np.clip(numbers(rows["monthly_payment"]), 0, None)
    owed = np.nan_to_num(np.clip(balance, 0, None))
    is_card = is_in(kind[keep], REVOLVING_TYPES)
    fallback = np.where(is_card, _card_minimum(owed), 0.0)
    return pd.DataFrame({
        "account_id": rows["account_id"].to_numpy(dtype=object),
        "customer_id": rows["customer_id"].to_numpy(dtype=object),
        "type": kind[keep],
        "product_code": rows["product_code"].to_numpy(dtype=object) if "product_code" in rows else None,
        "opened_date": rows["opened_date"].to_numpy(dtype=object) if "opened_date" in rows else None,
        "status": status[keep],
        "balance": balance,
        "credit_limit": numbers(rows["credit_limit"]),
        "monthly_payment": stated,
        "owed": owed,
        "is_card": is_card,
        "monthly_service": np.where(np.isnan(stated), fallback, stated),
    })


def account_utilisation(credit: pd.DataFrame) -> list[AccountUtilisation]:
    """Utilisation of each card with a limit (at least a cent), from :func:`credit_accounts` rows."""
    cards = credit[credit["is_card"] & (credit["credit_limit"] >= MIN_CREDIT_LIMIT)]
    return [
        AccountUtilisation(
            account_id=str(row.account_id),
            product_code=None if pd.isna(row.product_code) else str(row.product_code),
            balance=0.0 if pd.isna(row.balance) else float(row.balance),
            credit_limit=float(row.credit_limit),
            utilisation=round(float(row.owed / row.credit_limit), 4),
        )
        for row in cards.itertuples(index=False)
    ]


def credit_summary(credit: pd.DataFrame, customers: pd.Index | None = None) -> pd.DataFrame:
    """Per customer: utilisation (overall, worst card), debt, debt service and account counts.

    One row per customer of ``customers`` when given (zeros and NaN for those without
    credit), else per customer found in ``credit``.
    """
    groups = Grouping.of(credit["customer_id"], customers)
    limit = credit["credit_limit"].to_numpy(dtype="float64")
    owed = credit["owed"].to_numpy(dtype="float64")
    card = credit["is_card"].to_numpy(dtype=bool) & (np.nan_to_num(limit) >= MIN_CREDIT_LIMIT)
    card_limit = groups.sum(np.where(card, limit, 0.0))
    overall = ratio(groups.sum(np.where(card, owed, 0.0)), card_limit)
    worst = groups.max(np.where(card, ratio(owed, np.where(card, limit, 1.0)), np.nan))
    summary = pd.DataFrame({
        "utilisation_overall": overall,
        "utilisation_max": worst,
        "total_debt": groups.sum(owed),
        "unsecured_debt": groups.sum(np.where(credit["type"].to_numpy(dtype=object) == "mortgage", 0.0, owed)),
        "monthly_debt_payments": groups.sum(credit["monthly_service"].to_numpy(dtype="float64")),
        "credit_accounts": groups.count(),
        "accounts_with_balance": groups.count(owed > 0),
        "cards": groups.count(card),
    }, index=groups.index)
    summary.index.name = "customer_id"
    return summary


MIN_ANNUAL_INCOME = 1.0


def debt_to_income(monthly_debt_payments: float, annual_income: float | None) -> float | None:
    """Monthly debt payments over monthly gross income; None where there is no income to speak of
    (under one currency unit a year), so a ratio is never infinite."""
    if annual_income is None or not annual_income >= MIN_ANNUAL_INCOME:
        return None
    return float(monthly_debt_payments) / (float(annual_income) / 12.0)


def window_start(as_of: date, months: int) -> pd.Timestamp:
    return pd.Timestamp(as_of) - pd.DateOffset(months=months)


def prepare_payments(payments: pd.DataFrame) -> pd.DataFrame:
    """Payments with parsed dates, numeric amounts and the late/30+/missed flags."""
    return _with_flags(
        account_id=payments["account_id"].to_numpy(dtype=object),
        customer_id=payments["customer_id"].to_numpy(dtype=object),
        due_date=dates(payments["due_date"]),
        amount_due=np.nan_to_num(numbers(payments["amount_due"])),
        amount_paid=np.nan_to_num(numbers(payments["amount_paid"])),
        paid_date=dates(payments["paid_date"]),
        days_late=np.nan_to_num(numbers(payments["days_late"])),
    )


def _with_flags(**columns: np.ndarray) -> pd.DataFrame:
    unpaid = np.isnat(columns["paid_date"]) & (columns["amount_paid"] < columns["amount_due"] - 0.005)
    return pd.DataFrame({
        **columns,
        "late": columns["days_late"] > 0,
        "late_30": columns["days_late"] >= LATE_30_DAYS,
        "missed": unpaid & (columns["days_late"] > 0),  # past due, not paid in full, no paid date
    })


def payments_as_of(payments: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Prepared payments as they stood at the end of ``as_of``.

    Instalments due later are dropped; those paid after ``as_of`` were still open then:
    no paid date, nothing paid, days late counted up to ``as_of``.
    """
    prepared = payments if "late" in payments.columns else prepare_payments(payments)
    day = np.datetime64(pd.Timestamp(as_of), "ns")
    due = prepared["due_date"].to_numpy(dtype="datetime64[ns]")
    keep = due <= day
    due = due[keep]
    paid_date = prepared["paid_date"].to_numpy(dtype="datetime64[ns]")[keep]
    paid_later = ~np.isnat(paid_date) & (paid_date > day)
    open_then = np.isnat(paid_date) | paid_later
    running = np.clip((day - due) / np.timedelta64(1, "D"), 0, None)
    return _with_flags(
        account_id=prepared["account_id"].to_numpy(dtype=object)[keep],
        customer_id=prepared["customer_id"].to_numpy(dtype=object)[keep],
        due_date=due,
        amount_due=prepared["amount_due"].to_numpy(dtype="float64")[keep],
        amount_paid=np.where(paid_later, 0.0, prepared["amount_paid"].to_numpy(dtype="float64")[keep]),
        paid_date=np.where(paid_later, np.datetime64("NaT", "ns"), paid_date),
        days_late=np.where(open_then, running, prepared["days_late"].to_numpy(dtype="float64")[keep]),
    )


def in_window(prepared: pd.DataFrame, as_of: date, months: int) -> pd.DataFrame:
    end = pd.Timestamp(as_of)
    return prepared[(prepared["due_date"] > window_start(as_of, months)) & (prepared["due_date"] <= end)]


def payment_history(payments: pd.DataFrame, as_of: date, months: int = 12) -> PaymentHistory:
    """One customer's repayment record over the ``months`` before ``as_of`` (inclusive)."""
    start = window_start(as_of, months).date()
    if payments.empty:
        return PaymentHistory(window_start=start, window_end=as_of)
    window = in_window(payments_as_of(payments, as_of), as_of, months)
    late = window[window["late"] | window["missed"]].sort_values("due_date", ascending=False)
    return PaymentHistory(
        window_start=start,
        window_end=as_of,
        instalments=len(window),
        late=int(window["late"].sum()),
        late_30_plus=int(window["late_30"].sum()),
        late_30_plus_6m=int((window["late_30"] & (window["due_date"] > window_start(as_of, 6))).sum()),
        late_30_plus_3m=int((window["late_30"] & (window["due_date"] > window_start(as_of, 3))).sum()),
        worst_days_late=int(window["days_late"].max()) if len(window) else 0,
        missed=int(window["missed"].sum()),
        late_evidence=[f"pay:{a}:{d:%Y-%m-%d}" for a, d in zip(late["account_id"], late["due_date"])],
    )
