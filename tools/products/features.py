"""One feature definition for the product matcher, shared by the per-customer and the book path.

A customer is one row of plain numbers and strings: their profile (income, tenure, consents,
age for the legal minimum only), figures taken from the specialists' findings, what they
hold at the bank (``Holdings``, from the accounts table) and the needs they stated. The
rules in ``tools.products.rules`` read only these columns, so a book-wide job that builds
the same columns for 100,000 customers gets the same offers as the per-customer path.

Missing knowledge is NaN, never zero: an unknown risk band or unknown cash savings makes
the rules that need them fail ("not assessed"), it does not pass them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from bank.knowledge import NEED_TAGS, KnowledgeBase
from tools.compliance.rules import CARD_PAYMENT_SHARE
from tools.findings import CreditFinding, CustomerProfile, SentimentFinding, SpendingFinding

TRAVEL_CATEGORIES = frozenset({"travel"})
EVERYDAY_CATEGORIES = frozenset({"groceries", "dining", "fuel"})
FEE_CATEGORIES = frozenset({"fees"})
GAMBLING_CATEGORIES = frozenset({"gambling"})
# Stated intents older than this no longer count as a need.
INTENT_MAX_AGE_DAYS = 180
# Intent labels of the sentiment specialist (the bank's 13 intents) that name a need other
# than by its tag; intents that are need tags count as themselves.
INTENT_NEEDS: dict[str, tuple[str, ...]] = {
    "balance_transfer_interest": ("balance_transfer",),
    "fee_dispute": ("fee_reduction",),
    "hardship": ("hardship_support",),
    "investment_interest": ("long_term_saving",),
    "mortgage_interest": ("home_purchase",),
    "savings_goal": ("saving_goal",),
    "travel_plans": ("travel", "foreign_spending"),
}
PROFILE_COLUMNS = ("customer_id", "annual_income", "tenure_months", "consent_marketing", "consent_social", "age")
FINDING_COLUMNS = (
    "risk_band",
    "monthly_debt_payments",
    "utilisation",
    "late_30_plus_3m",
    "late_30_plus_6m",
    "late_30_plus_12m",
    "worst_days_late",
    "cash_savings",
    "revolving_balance",
    "revolving_limit",
    "card_interest_monthly",
    "revolving_apr_max",
    "transferable_balance",
    "transferable_interest_monthly",
    "unsecured_loan_balance",
    "consolidatable_balance",
    "consolidatable_payment",
    "has_credit_account",
    "income_paid_in",
    "monthly_spend",
    "essential_spend",
    "savings_capacity",
    "travel_spend",
    "everyday_spend",
    "fees_spend",
    "gambling_spend",
    "subscriptions_count",
    "subscriptions_cost",
    "segment",
    "open_complaints",
    "vulnerability_signals",
    "vulnerability_notes",
    "held",
)


def stated_column(need: str) -> str:
    return f"stated_{need}"


FEATURE_COLUMNS: tuple[str, ...] = FINDING_COLUMNS + tuple(stated_column(n) for n in NEED_TAGS)


class Holdings(BaseModel):
    """What the customer holds at the bank, from the accounts table (figures in EUR)."""

    product_codes: frozenset[str] = frozenset()
    cash_savings: float | None = Field(
        None, description="Accessible cash: easy-access savings and checking balances."
    )
    revolving_balance: float | None = None
    revolving_limit: float | None = None
    card_interest_monthly: float | None = Field(
        None, description="Interest a month on card balances at their APRs."
    )
    revolving_apr_max: float | None = Field(
        None, description="Highest APR of a revolving account carrying a balance."
    )
    transferable_balance: float = Field(0.0, description="Card balances with other lenders (balance transfer).")
    transferable_interest_monthly: float = 0.0
    unsecured_loan_balance: float = 0.0
    consolidatable_balance: float = Field(
        0.0, description="Card and personal-loan balances a consolidation repays."
    )
    consolidatable_payment: float = Field(0.0, description="Their monthly payments (cards at max(recorded, 3%)).")
    has_credit_account: bool = False
    evidence: list[str] = Field(default_factory=list)


HOLDINGS_COLUMNS = tuple(f for f in Holdings.model_fields if f not in ("product_codes", "evidence"))


def holdings_frame(accounts: pd.DataFrame, kb: KnowledgeBase) -> pd.DataFrame:
    """Holdings of every customer in ``accounts`` (contract columns), one row per customer_id.

    Closed and charged-off accounts are left out. A revolving account whose product code is
    not in the catalogue is held with another lender and can be transferred.
    """
    if "status" in accounts:
        status = accounts["status"].fillna("open").str.lower()
        accounts = accounts[~status.isin(("closed", "charged_off"))]
    catalogue = {p.code: p for p in kb.products}
    fixed_term = {p.code for p in kb.products if "DISC-FIXED-TERM-ACCESS" in p.disclosures}
    code = accounts["product_code"].fillna("").astype(str)
    kind = accounts["type"].astype(str)
    balance = pd.to_numeric(accounts["balance"], errors="coerce").fillna(0.0)
    limit = pd.to_numeric(accounts["credit_limit"], errors="coerce").fillna(0.0)
    apr = pd.to_numeric(accounts["apr"], errors="coerce")
    payment = pd.to_numeric(accounts["monthly_payment"], errors="coerce").fillna(0.0)
    revolving = kind.eq("credit_card")
    owed = balance.clip(lower=0.0)
    card_interest = (owed * apr.fillna(0.0) / 1200.0).where(revolving, 0.0)
    external_card = revolving & ~code.isin(catalogue)
    personal_loan = kind.eq("personal_loan")
    cash = (kind.eq("checking") | (kind.eq("savings") & ~code.isin(fixed_term))) & (balance > 0)
    card_payment = np.maximum(payment, CARD_PAYMENT_SHARE * owed)
    parts = pd.DataFrame(
        {
            "customer_id": accounts["customer_id"].astype(str),
            "cash_savings": balance.where(cash, 0.0),
            "revolving_balance": owed.where(revolving, 0.0),
            "revolving_limit": limit.where(revolving, 0.0),
            "card_interest_monthly": card_interest,
            "revolving_apr_max": apr.where(revolving & (owed > 0)),
            "transferable_balance": owed.where(external_card, 0.0),
            "transferable_interest_monthly": card_interest.where(external_card, 0.0),
            "unsecured_loan_balance": owed.where(personal_loan, 0.0),
            "consolidatable_balance": owed.where(revolving | personal_loan, 0.0),
            "consolidatable_payment": card_payment.where(revolving, payment.where(personal_loan, 0.0)),
            "has_credit_account": kind.isin(("credit_card", "personal_loan", "auto_loan", "mortgage")),
        }
    )
    grouped = parts.groupby("customer_id", sort=True)
    frame = grouped.agg(
        {
            "cash_savings": "sum",
            "revolving_balance": "sum",
            "revolving_limit": "sum",
            "card_interest_monthly": "sum",
            "revolving_apr_max": "max",
            "transferable_balance": "sum",
            "transferable_interest_monthly": "sum",
            "unsecured_loan_balance": "sum",
            "consolidatable_balance": "sum",
            "consolidatable_payment": "sum",
            "has_credit_account": "any",
        }
    )
    codes = pd.DataFrame({"customer_id": parts["customer_id"], "code": code})
    codes = codes[codes["code"] != ""].drop_duplicates().sort_values(["customer_id", "code"])
    held = "|" + codes.groupby("customer_id")["code"].agg("|".join) + "|"
    frame["held"] = held.reindex(frame.index).fillna("|")
    return frame.reset_index()


def holdings_from_accounts(accounts: pd.DataFrame, kb: KnowledgeBase) -> Holdings:
    """One customer's holdings (the same arithmetic as ``holdings_frame``)."""
    frame = holdings_frame(accounts, kb) if not accounts.empty else None
    if frame is None or frame.empty:  # no accounts, or only closed ones
        return Holdings(cash_savings=0.0, revolving_balance=0.0, revolving_limit=0.0, card_interest_monthly=0.0)
    row = frame.iloc[0]
    values = {name: _optional_float(row[name]) for name in HOLDINGS_COLUMNS if name != "has_credit_account"}
    return Holdings(
        product_codes=frozenset(c for c in str(row["held"]).split("|") if c),
        has_credit_account=bool(row["has_credit_account"]),
        evidence=[f"acct:{a}" for a in accounts["account_id"].astype(str)],
        **values,
    )


def _held_string(codes: Iterable[str]) -> str:
    return "|" + "|".join(sorted(set(codes))) + "|"


def _optional_float(value) -> float | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)


def _nan(value: float | None) -> float:
    return np.nan if value is None else float(value)


def profile_features(profile: CustomerProfile) -> dict:
    """The profile columns the rules read. Age gates the legal minimum age only."""
    return {
        "customer_id": profile.customer_id,
        "annual_income": float(profile.annual_income),
        "tenure_months": float(profile.tenure_months),
        "consent_marketing": bool(profile.consent_marketing),
        "consent_social": bool(profile.consent_social),
        "age": _nan(profile.age),
    }


def profiles_frame(customers: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Profile columns for many customers from a customers table (``age`` or ``birth_date``)."""
    frame = pd.DataFrame(
        {
            "customer_id": customers["customer_id"].astype(str),
            "annual_income": pd.to_numeric(customers["annual_income"], errors="coerce").astype(float),
            "tenure_months": pd.to_numeric(customers["tenure_months"], errors="coerce").fillna(0).astype(float),
            "consent_marketing": customers["consent_marketing"].fillna(False).astype(bool),
            "consent_social": customers["consent_social"].fillna(False).astype(bool),
        }
    )
    if "age" in customers:
        frame["age"] = pd.to_numeric(customers["age"], errors="coerce").astype(float)
    else:
        born = pd.to_datetime(customers["birth_date"], errors="coerce")
        birthday_passed = (born.dt.month < as_of.month) | (
            (born.dt.month == as_of.month) & (born.dt.day <= as_of.day)
        )
        frame["age"] = (as_of.year - born.dt.year - (~birthday_passed).astype(int)).astype(float)
    return frame.reset_index(drop=True)


def _category_average(spending: SpendingFinding | None, categories: frozenset[str]) -> float:
    if spending is None or not spending.available:
        return np.nan
    return float(sum(c.monthly_average for c in spending.by_category if c.category.lower() in categories))


def intent_needs(intent: str) -> tuple[str, ...]:
    """The need tags an intent label stands for."""
    return (intent,) if intent in NEED_TAGS else INTENT_NEEDS.get(intent, ())


def _stated_needs(
    profile: CustomerProfile, sentiment: SentimentFinding | None, as_of: date | None
) -> dict[str, float]:
    """Strength 0..1 of each need the customer stated: interests and goals 1.0, intents their confidence.

    Intents seen only in social posts count only with social consent; intents older than
    ``INTENT_MAX_AGE_DAYS`` before ``as_of`` no longer count, except hardship, whose flag stays
    until reviewed (POL-VULNERABLE §5). When social posts were used
    without consent, interests and goals (which carry no source ids) are ignored.
    """
    stated = dict.fromkeys(NEED_TAGS, 0.0)
    if sentiment is None or not sentiment.available:
        return stated
    social_misused = sentiment.social_posts_used > 0 and not profile.consent_social
    if not social_misused:
        for tag in [*sentiment.product_interests, *sentiment.goals]:
            if tag in stated:
                stated[tag] = 1.0
    oldest = as_of - timedelta(days=INTENT_MAX_AGE_DAYS) if as_of else None
    for intent in sentiment.intents:
        stale = oldest is not None and intent.last_seen < oldest
        if not profile.consent_social and intent.evidence and all(e.startswith("post:") for e in intent.evidence):
            continue
        for need in intent_needs(intent.intent):
            # A hardship flag stays until it is reviewed with the customer (POL-VULNERABLE §5).
            if stale and need != "hardship_support":
                continue
            stated[need] = max(stated[need], float(np.clip(intent.confidence, 0.0, 1.0)))
    return stated


def features_from_findings(
    profile: CustomerProfile,
    spending: SpendingFinding | None,
    credit: CreditFinding | None,
    sentiment: SentimentFinding | None,
    held: Holdings | set[str] | frozenset[str] | None = None,
    as_of: date | None = None,
) -> dict:
    """The feature row of one customer (profile columns plus ``FEATURE_COLUMNS``).

    ``held`` is the customer's ``Holdings`` (from ``holdings_from_accounts``) or just the set
    of product codes they hold. Without holdings, card balances come from the credit
    finding and cash savings are unknown.
    """
    holdings = held if isinstance(held, Holdings) else Holdings(product_codes=frozenset(held or ()))
    has_credit = credit is not None and credit.available
    has_spending = spending is not None and spending.available
    cards = credit.accounts if has_credit else []
    revolving_balance = holdings.revolving_balance
    revolving_limit = holdings.revolving_limit
    if revolving_balance is None and has_credit:
        revolving_balance = float(sum(max(a.balance, 0.0) for a in cards))
        revolving_limit = float(sum(a.credit_limit for a in cards))
    budget = spending.budget if has_spending else None
    row = {
        **profile_features(profile),
        "risk_band": credit.risk_band if has_credit else None,
        "monthly_debt_payments": float(credit.monthly_debt_payments) if has_credit else np.nan,
        "utilisation": _nan(credit.utilisation_overall) if has_credit else np.nan,
        "late_30_plus_3m": _nan(credit.late_30_plus_3m) if has_credit else np.nan,
        # The 12-month count stands in (stricter) when the 6-month count was not computed.
        "late_30_plus_6m": float(
            credit.late_30_plus_6m if credit.late_30_plus_6m is not None else credit.late_30_plus_12m
        )
        if has_credit
        else np.nan,
        "late_30_plus_12m": float(credit.late_30_plus_12m) if has_credit else np.nan,
        "worst_days_late": float(credit.worst_days_late) if has_credit else np.nan,
        "cash_savings": _nan(holdings.cash_savings),
        "revolving_balance": _nan(revolving_balance),
        "revolving_limit": _nan(revolving_limit),
        "card_interest_monthly": _nan(holdings.card_interest_monthly),
        "revolving_apr_max": _nan(holdings.revolving_apr_max),
        "transferable_balance": float(holdings.transferable_balance),
        "transferable_interest_monthly": float(holdings.transferable_interest_monthly),
        "unsecured_loan_balance": float(holdings.unsecured_loan_balance),
        "consolidatable_balance": float(holdings.consolidatable_balance),
        "consolidatable_payment": float(holdings.consolidatable_payment),
        "has_credit_account": bool(holdings.has_credit_account or bool(cards)),
        "income_paid_in": float(spending.monthly_income) if has_spending else np.nan,
        "monthly_spend": float(spending.monthly_spend) if has_spending else np.nan,
        "essential_spend": float(budget.monthly_essential_spend) if budget else np.nan,
        "savings_capacity": float(budget.monthly_savings_target) if budget else np.nan,
        "travel_spend": _category_average(spending, TRAVEL_CATEGORIES),
        "everyday_spend": _category_average(spending, EVERYDAY_CATEGORIES),
        "fees_spend": _category_average(spending, FEE_CATEGORIES),
        "gambling_spend": _category_average(spending, GAMBLING_CATEGORIES),
        "subscriptions_count": float(len(spending.subscriptions)) if has_spending else np.nan,
        "subscriptions_cost": float(spending.subscriptions_monthly_cost) if has_spending else np.nan,
        "segment": (spending.segment or "") if has_spending else "",
        "open_complaints": float(sentiment.open_complaints) if sentiment is not None else 0.0,
        "vulnerability_signals": float(len(sentiment.vulnerability_signals)) if sentiment is not None else 0.0,
        "vulnerability_notes": " | ".join(sentiment.vulnerability_signals) if sentiment is not None else "",
        "held": _held_string(holdings.product_codes),
    }
    for need, strength in _stated_needs(profile, sentiment, as_of).items():
        row[stated_column(need)] = strength
    return row


def normalise_features(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns the rules read, with their dtypes; columns a caller left out get their
    neutral value (zero for counts and stated needs, NaN for unknown figures)."""
    n = len(frame)
    text_defaults = {"customer_id": "", "segment": "", "vulnerability_notes": "", "held": "|"}
    bool_columns = ("consent_marketing", "consent_social", "has_credit_account")
    zero_defaults = {
        "open_complaints",
        "vulnerability_signals",
        "transferable_balance",
        "transferable_interest_monthly",
        "unsecured_loan_balance",
        "consolidatable_balance",
        "consolidatable_payment",
        *(stated_column(n) for n in NEED_TAGS),
    }
    columns: dict[str, np.ndarray] = {}
    for column in (*PROFILE_COLUMNS, *FEATURE_COLUMNS):
        present = column in frame
        if column == "risk_band":
            bands = frame[column] if present else pd.Series([None] * n, dtype=object)
            columns[column] = bands.where(bands.isin(list("ABCDE")), None).to_numpy(dtype=object)
        elif column in text_defaults:
            columns[column] = (
                frame[column].fillna(text_defaults[column]).astype(str).to_numpy(dtype=object)
                if present
                else np.full(n, text_defaults[column], dtype=object)
            )
        elif column in bool_columns:
            columns[column] = frame[column].fillna(False).to_numpy(dtype=bool) if present else np.zeros(n, bool)
        else:
            values = frame[column] if present else None
            if values is None:
                array = np.full(n, 0.0 if column in zero_defaults else np.nan)
            elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                array = values.to_numpy(dtype=float, na_value=np.nan)
            else:
                array = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            if column in zero_defaults:
                array = np.nan_to_num(array, nan=0.0)
            columns[column] = array
    return pd.DataFrame(columns)
