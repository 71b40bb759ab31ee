"""Model inputs of the two feature layouts, each feature tied to a reason code.

``uci``: the "default of credit card clients" file (Yeh & Lien, 2009), with either the
X1..X23 names or the original ones (LIMIT_BAL, PAY_0, BILL_AMT1 ...). Inputs are the
credit limit, the six monthly repayment statuses, bills and payments and features
engineered from them. SEX, MARRIAGE and AGE are protected and never read; EDUCATION is
not on the protected list but is left out too: it stands in for age and social class,
it added about 0.001 AUC in cross-validation, and "education" is no reason a bank can
give for a decision.

``bank``: per-customer features from the project's own tables (accounts, payments,
optionally transactions, and from customers only income and tenure), computed as of a
date: payments are replayed as they stood that day, so a model can be trained on an
earlier cut-off and judged on what happened later. Balances and limits are the
accounts table's current values (the contract keeps no balance history).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from tools.credit.grouping import Grouping
from tools.credit.protected import assert_no_protected_features
from tools.credit.utilisation import (
    CREDIT_TYPES,
    credit_accounts,
    credit_summary,
    dates,
    is_in,
    lower_text,
    numbers,
    payments_as_of,
    ratio,
    window_start,
)


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    reason: str
    monotone: int = 0  # +1: more is riskier, -1: more is safer, 0: free


@dataclass(frozen=True)
class FeatureLayout:
    name: str
    specs: tuple[FeatureSpec, ...]

    @property
    def features(self) -> list[str]:
        return [s.name for s in self.specs]

    @property
    def reasons(self) -> dict[str, str]:
        return {s.name: s.reason for s in self.specs}

    @property
    def monotone(self) -> list[int]:
        return [s.monotone for s in self.specs]

    def __post_init__(self) -> None:
        assert_no_protected_features(self.features)


# --- UCI layout ------------------------------------------------------------------------
UCI_ORIGINAL_NAMES: dict[str, str] = {
    "X1": "LIMIT_BAL", "X2": "SEX", "X3": "EDUCATION", "X4": "MARRIAGE", "X5": "AGE",
    **{f"X{6 + i}": ("PAY_0" if i == 0 else f"PAY_{i + 1}") for i in range(6)},
    **{f"X{12 + i}": f"BILL_AMT{i + 1}" for i in range(6)},
    **{f"X{18 + i}": f"PAY_AMT{i + 1}" for i in range(6)},
    "Y": "default.payment.next.month",
}
UCI_TARGET = "default.payment.next.month"
UCI_TARGET_ALIASES = ("default.payment.next.month", "default payment next month", "default_payment_next_month",
                      "Y", "default")
UCI_STATUS = ["PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"]
UCI_BILLS = [f"BILL_AMT{i}" for i in range(1, 7)]
UCI_PAID = [f"PAY_AMT{i}" for i in range(1, 7)]
UCI_REQUIRED = ["LIMIT_BAL", *UCI_STATUS, *UCI_BILLS, *UCI_PAID]
MONTHS = range(1, 7)  # 1 = the latest month (September 2005), 6 = the oldest (April 2005)


class FeatureInputError(ValueError):
    """The input does not have the columns a feature layout needs."""


def _uci_specs() -> tuple[FeatureSpec, ...]:
    specs = [FeatureSpec("credit_limit", "R09", -1)]
    specs += [FeatureSpec(f"status_{m}", "R02") for m in MONTHS]
    specs += [FeatureSpec(f"bill_{m}", "R11") for m in MONTHS]
    specs += [FeatureSpec(f"paid_{m}", "R04") for m in MONTHS]
    specs += [FeatureSpec(f"utilisation_{m}", "R01") for m in MONTHS]
    specs += [FeatureSpec(f"paid_to_bill_{m}", "R04") for m in range(1, 6)]
    specs += [FeatureSpec(f"new_charges_{m}", "R10") for m in range(1, 6)]
    specs += [
        FeatureSpec("months_delinquent", "R02", 1),
        FeatureSpec("months_delinquent_3", "R02", 1),
        FeatureSpec("worst_delay", "R08", 1),
        FeatureSpec("mean_delay", "R08", 1),
        FeatureSpec("months_paid_in_full", "R04"),
        FeatureSpec("months_unused", "R19"),
        FeatureSpec("months_revolving", "R04"),
        FeatureSpec("months_since_delinquency", "R03", -1),
        FeatureSpec("delay_trend", "R02"),
        FeatureSpec("utilisation_max", "R01"),
        FeatureSpec("utilisation_mean", "R01"),
        FeatureSpec("utilisation_trend", "R10"),
        FeatureSpec("utilisation_trend_3", "R10"),
        FeatureSpec("paid_to_billed_total", "R04"),
        FeatureSpec("months_without_payment", "R04"),
        FeatureSpec("paid_to_limit", "R04"),
        FeatureSpec("available_credit", "R01"),
        FeatureSpec("bill_volatility", "R10"),
        FeatureSpec("paid_to_bill_min", "R04"),
    ]
    return tuple(specs)


UCI_LAYOUT = FeatureLayout("uci", _uci_specs())


@dataclass
class UciData:
    frame: pd.DataFrame  # original column names
    target: pd.Series | None
    sex: pd.Series | None  # for fairness reports only


def normalise_uci_columns(raw: pd.DataFrame) -> pd.DataFrame:
    """Rename X1..X23/Y to the original names; accept PAY_1 for PAY_0; drop a second header row."""
    frame = raw.rename(columns=lambda c: str(c).strip())
    frame = frame.rename(columns={k: v for k, v in UCI_ORIGINAL_NAMES.items() if k in frame.columns})
    if "PAY_1" in frame.columns and "PAY_0" not in frame.columns:
        frame = frame.rename(columns={"PAY_1": "PAY_0"})
    for alias in UCI_TARGET_ALIASES:
        if alias in frame.columns and UCI_TARGET not in frame.columns:
            frame = frame.rename(columns={alias: UCI_TARGET})
    first_limit = pd.to_numeric(frame["LIMIT_BAL"].iloc[:1], errors="coerce") if "LIMIT_BAL" in frame else None
    if first_limit is not None and len(first_limit) and first_limit.isna().all():
        frame = frame.iloc[1:].reset_index(drop=True)  # the file's second header line of original names
    return frame


def read_uci_csv(path: Path) -> UciData:
    """Read a UCI-layout CSV; raises FeatureInputError when required columns are missing."""
    frame = normalise_uci_columns(pd.read_csv(path))
    missing = [c for c in UCI_REQUIRED if c not in frame.columns]
    if missing:
        raise FeatureInputError(f"{path}: not the UCI credit-default layout, missing columns {', '.join(missing)}")
    numeric = frame.apply(pd.to_numeric, errors="coerce")  # protected columns stay, unread by the features
    bad = numeric[UCI_REQUIRED].isna().any(axis=1)
    if bad.all():
        raise FeatureInputError(f"{path}: no row has numeric values in the UCI columns")
    numeric = numeric[~bad].reset_index(drop=True)
    labelled = UCI_TARGET in numeric and numeric[UCI_TARGET].notna().all()
    target = numeric[UCI_TARGET].astype(int) if labelled else None
    sex = numeric["SEX"].map({1: "male", 2: "female"}) if "SEX" in numeric else None
    return UciData(frame=numeric, target=target, sex=sex)


def looks_like_uci(columns: list[str]) -> bool:
    names = set(normalise_uci_columns(pd.DataFrame(columns=columns)).columns)
    return "LIMIT_BAL" in names and "PAY_0" in names


def uci_features(frame: pd.DataFrame) -> pd.DataFrame:
    """The UCI layout's model inputs from a frame with the original column names."""
    missing = [c for c in UCI_REQUIRED if c not in frame.columns]
    if missing:
        raise FeatureInputError(f"missing UCI columns: {', '.join(missing)}")
    limit = frame["LIMIT_BAL"].to_numpy(dtype="float64")
    safe_limit = np.where(limit > 0, limit, np.nan)
    status = frame[UCI_STATUS].to_numpy(dtype="float64")
    bill = frame[UCI_BILLS].to_numpy(dtype="float64")
    paid = frame[UCI_PAID].to_numpy(dtype="float64")
    util = bill / safe_limit[:, None]
    previous_bill = bill[:, 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        paid_to_bill = np.where(previous_bill > 0, paid[:, :5] / np.maximum(previous_bill, 1.0), np.nan)
    delinquent = status > 0
    out: dict[str, np.ndarray] = {"credit_limit": limit}
    for i, m in enumerate(MONTHS):
        out[f"status_{m}"] = status[:, i]
        out[f"bill_{m}"] = bill[:, i]
        out[f"paid_{m}"] = paid[:, i]
        out[f"utilisation_{m}"] = util[:, i]
    for i in range(5):
        out[f"paid_to_bill_{i + 1}"] = paid_to_bill[:, i]
        out[f"new_charges_{i + 1}"] = (bill[:, i] - bill[:, i + 1] + paid[:, i]) / safe_limit
    out["months_delinquent"] = delinquent.sum(axis=1).astype("float64")
    out["months_delinquent_3"] = delinquent[:, :3].sum(axis=1).astype("float64")
    out["worst_delay"] = status.max(axis=1)
    out["mean_delay"] = np.clip(status, 0, None).mean(axis=1)
    out["months_paid_in_full"] = (status == -1).sum(axis=1).astype("float64")
    out["months_unused"] = (status == -2).sum(axis=1).astype("float64")
    out["months_revolving"] = (status == 0).sum(axis=1).astype("float64")
    out["months_since_delinquency"] = np.where(delinquent.any(axis=1), delinquent.argmax(axis=1), 6).astype(float)
    out["delay_trend"] = status[:, 0] - status[:, 2]
    out["utilisation_max"] = util.max(axis=1)
    out["utilisation_mean"] = util.mean(axis=1)
    out["utilisation_trend"] = util[:, 0] - util[:, 5]
    out["utilisation_trend_3"] = util[:, 0] - util[:, 2]
    out["paid_to_billed_total"] = paid[:, :5].sum(axis=1) / np.maximum(previous_bill.sum(axis=1), 1.0)
    out["months_without_payment"] = (paid == 0).sum(axis=1).astype("float64")
    out["paid_to_limit"] = paid.sum(axis=1) / safe_limit
    out["available_credit"] = limit - bill[:, 0]
    out["bill_volatility"] = bill.std(axis=1) / safe_limit
    lowest = np.min(np.where(np.isnan(paid_to_bill), np.inf, paid_to_bill), axis=1)
    out["paid_to_bill_min"] = np.where(np.isinf(lowest), np.nan, lowest)
    features = pd.DataFrame(out, index=frame.index)
    return features[UCI_LAYOUT.features]


# --- bank layout ------------------------------------------------------------------------
BANK_BASE_SPECS: tuple[FeatureSpec, ...] = (
    FeatureSpec("utilisation_overall", "R01", 1),
    FeatureSpec("utilisation_max", "R01", 1),
    FeatureSpec("accounts_with_balance", "R05", 1),
    FeatureSpec("credit_accounts", "R05", 0),
    FeatureSpec("debt_to_income", "R07", 1),
    FeatureSpec("unsecured_debt_to_income", "R11", 1),
    FeatureSpec("late_12m", "R02", 1),
    FeatureSpec("late_3m", "R02", 1),
    FeatureSpec("late_30_plus_12m", "R08", 1),
    FeatureSpec("worst_days_late_12m", "R08", 1),
    FeatureSpec("missed_12m", "R13", 1),
    FeatureSpec("months_since_late", "R03", -1),
    FeatureSpec("card_paid_above_minimum_share", "R04", -1),
    FeatureSpec("paid_to_due_12m", "R04", -1),
    FeatureSpec("card_due_trend", "R10", 1),
    FeatureSpec("credit_history_months", "R06", -1),
    FeatureSpec("tenure_months", "R06", -1),
    FeatureSpec("annual_income", "R12", -1),
    FeatureSpec("deposit_buffer_months", "R14", -1),
    FeatureSpec("overdrawn", "R15", 1),
)
BANK_TRANSACTION_SPECS: tuple[FeatureSpec, ...] = (
    FeatureSpec("gambling_share", "R16", 1),
    FeatureSpec("cash_share", "R17", 1),
    FeatureSpec("income_trend", "R18", -1),
)
BANK_LAYOUT = FeatureLayout("bank", BANK_BASE_SPECS)
BANK_LAYOUT_WITH_TRANSACTIONS = FeatureLayout("bank+transactions", BANK_BASE_SPECS + BANK_TRANSACTION_SPECS)
LAYOUTS: dict[str, FeatureLayout] = {
    layout.name: layout for layout in (UCI_LAYOUT, BANK_LAYOUT, BANK_LAYOUT_WITH_TRANSACTIONS)
}
CUSTOMER_FEATURE_COLUMNS = ("customer_id", "annual_income", "tenure_months")  # never a protected one
DEPOSIT_TYPES = ("checking", "savings")
RECENT_MONTHS = 3
NOT_SPENDING = ("transfers", "card_payment", "loan_payment")  # money moved, not spent
DAYS_PER_MONTH = 30.44
BOOK_COLUMNS = ("total_debt", "monthly_debt_payments", "late_30_plus_6m", "late_30_plus_3m", "has_credit")


def _months_since(earlier: np.ndarray, day: np.datetime64) -> np.ndarray:
    return (day - earlier) / np.timedelta64(1, "D") / DAYS_PER_MONTH


def _payment_features(prepared: pd.DataFrame, cards: np.ndarray, people: pd.Index, as_of: date,
                      months: int) -> dict[str, np.ndarray]:
    due = prepared["due_date"].to_numpy(dtype="datetime64[ns]")
    in_window = due > np.datetime64(window_start(as_of, months), "ns")
    window = prepared[in_window]
    due = due[in_window]
    groups = Grouping.of(window["customer_id"], people)
    day = np.datetime64(pd.Timestamp(as_of), "ns")
    recent = due > np.datetime64(window_start(as_of, RECENT_MONTHS), "ns")
    half = due > np.datetime64(window_start(as_of, 6), "ns")
    late = window["late"].to_numpy(dtype=bool)
    late_30 = window["late_30"].to_numpy(dtype=bool)
    is_card = is_in(window["account_id"].to_numpy(dtype=object), cards)
    paid = window["amount_paid"].to_numpy(dtype="float64")
    owed = window["amount_due"].to_numpy(dtype="float64")
    paid_total, due_total = groups.sum(paid), groups.sum(owed)
    due_recent = groups.mean(np.where(is_card & recent, owed, np.nan))
    due_before = groups.mean(np.where(is_card & ~recent, owed, np.nan))
    since_late = groups.min(np.where(late, _months_since(due, day), np.nan))
    return {
        "late_12m": groups.count(late),
        "late_3m": groups.count(late & recent),
        "late_30_plus_12m": groups.count(late_30),
        "late_30_plus_6m": groups.count(late_30 & half),
        "late_30_plus_3m": groups.count(late_30 & recent),
        "worst_days_late_12m": np.nan_to_num(groups.max(window["days_late"].to_numpy(dtype="float64"))),
        "missed_12m": groups.count(window["missed"].to_numpy(dtype=bool)),
        "months_since_late": np.where(np.isnan(since_late), float(months + 1), since_late),
        "card_paid_above_minimum_share": groups.mean(np.where(is_card, (paid > 1.05 * owed) * 1.0, np.nan)),
        "paid_to_due_12m": ratio(paid_total, due_total),
        "card_due_trend": ratio(due_recent, due_before),
        "instalments_12m": groups.count(),
    }


def _account_features(
    accounts: pd.DataFrame, people: pd.Index, as_of: date
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    day = np.datetime64(pd.Timestamp(as_of), "ns")
    opened = dates(accounts["opened_date"])
    current = ~(opened > day)  # accounts opened later did not exist yet; NaT compares False
    accounts, opened = accounts.iloc[np.flatnonzero(current)], opened[current]
    credit = credit_accounts(accounts)
    summary = credit_summary(credit, people)
    kind = lower_text(accounts["type"])
    balance = np.nan_to_num(numbers(accounts["balance"]))
    groups = Grouping.of(accounts["customer_id"], people)
    first_credit = groups.min(np.where(is_in(kind, CREDIT_TYPES) & ~np.isnat(opened),  # closed ones count too
                                       opened.astype("datetime64[D]").astype("float64"), np.nan))
    today = float(day.astype("datetime64[D]").astype("int64"))
    return summary, {
        "deposits": groups.sum(np.where(is_in(kind, DEPOSIT_TYPES), np.clip(balance, 0, None), 0.0)),
        "overdrawn": (groups.count((kind == "checking") & (balance < 0)) > 0).astype("float64"),
        "credit_history_months": (today - first_credit) / DAYS_PER_MONTH,
        "card_accounts": credit.loc[credit["is_card"], "account_id"].to_numpy(dtype=object),
    }


def _transaction_features(transactions: pd.DataFrame, people: pd.Index, as_of: date,
                          months: int) -> dict[str, np.ndarray]:
    stamp = dates(transactions["timestamp"])
    end = np.datetime64(pd.Timestamp(as_of) + pd.Timedelta(days=1), "ns")
    keep = (stamp > np.datetime64(window_start(as_of, months), "ns")) & (stamp < end)
    tx = transactions.iloc[np.flatnonzero(keep)]
    stamp = stamp[keep]
    amount = np.nan_to_num(numbers(tx["amount"]))
    category = lower_text(tx["category"])
    spend = np.where(is_in(category, NOT_SPENDING), 0.0, np.clip(-amount, 0, None))
    income = np.where(category == "income", np.clip(amount, 0, None), 0.0)
    recent = stamp > np.datetime64(window_start(as_of, RECENT_MONTHS), "ns")
    groups = Grouping.of(tx["customer_id"], people)
    total = groups.sum(spend)
    before = groups.sum(np.where(recent, 0.0, income)) / max(months - RECENT_MONTHS, 1)
    return {
        "gambling_share": ratio(groups.sum(np.where(category == "gambling", spend, 0.0)), total),
        "cash_share": ratio(groups.sum(np.where(category == "cash", spend, 0.0)), total),
        "income_trend": ratio(groups.sum(np.where(recent, income, 0.0)) / RECENT_MONTHS, before),
    }


def bank_features(
    customers: pd.DataFrame,
    accounts: pd.DataFrame,
    payments: pd.DataFrame,
    as_of: date,
    transactions: pd.DataFrame | None = None,
    months: int = 12,
) -> pd.DataFrame:
    """One row per customer (index customer_id) with the bank layout's features as of ``as_of``.

    ``customers`` needs customer_id, annual_income and tenure_months; no other column of
    it is read. Transaction features are added when ``transactions`` is given. Besides
    the model's features the frame holds the figures the book-wide jobs need
    (``BOOK_COLUMNS``: total debt, monthly debt payments, 30+ days late in 6 and 3 months,
    whether the customer has credit data at all).
    """
    missing = [c for c in CUSTOMER_FEATURE_COLUMNS if c not in customers.columns]
    if missing:
        raise FeatureInputError(f"customers frame lacks {', '.join(missing)}")
    people = customers.drop_duplicates("customer_id")
    index = pd.Index(people["customer_id"].to_numpy(dtype=object), name="customer_id")
    income = numbers(people["annual_income"])
    summary, holdings = _account_features(accounts, index, as_of)
    cards = holdings.pop("card_accounts")
    history = _payment_features(payments_as_of(payments, as_of), cards, index, as_of, months)
    columns = {
        **{name: summary[name].to_numpy() for name in summary.columns},
        **holdings,
        **history,
        "annual_income": income,
        "tenure_months": numbers(people["tenure_months"]),
        "debt_to_income": ratio(summary["monthly_debt_payments"].to_numpy(), income / 12.0),
        "unsecured_debt_to_income": ratio(summary["unsecured_debt"].to_numpy(), income),
        "deposit_buffer_months": ratio(holdings["deposits"], income / 12.0),
    }
    columns["has_credit"] = ((columns["credit_accounts"] > 0) | (columns.pop("instalments_12m") > 0)).astype(float)
    layout = BANK_LAYOUT
    if transactions is not None:
        columns.update(_transaction_features(transactions, index, as_of, months))
        layout = BANK_LAYOUT_WITH_TRANSACTIONS
    frame = pd.DataFrame(columns, index=index)
    return frame[[*layout.features, *BOOK_COLUMNS]].astype("float64")
