"""The credit specialist's entry points: one customer's CreditFinding, and the whole book.

Figures (utilisation, debt, debt service, DTI, payment history) are computed from the
customer's own rows; the default probability, band and reason codes come from a
bank-layout :class:`RiskModel` over the same rows. Every figure carries the ids of
the rows behind it: ``acct:<account>``, ``pay:<account>:<due date>`` and
``model:default-risk@<version>``.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from bank.contract import TABLES
from tools.credit.bank import BankFrames, frames_from_store
from tools.credit.features import FeatureInputError, bank_features
from tools.credit.model import RiskModel, risk_band
from tools.credit.utilisation import (
    account_utilisation,
    credit_accounts,
    credit_summary,
    debt_to_income,
    payment_history,
    payments_as_of,
)
from tools.findings import CreditFinding, CustomerProfile

TOOL_UTILISATION = "credit.utilisation"
TOOL_DEBT = "credit.debt_to_income"
TOOL_HISTORY = "credit.payment_history"
TOOL_MODEL = "credit.default_risk"
MAX_PAYMENT_EVIDENCE = 24
NO_CREDIT_DATA = "no credit accounts or repayment history"


def model_features(model: RiskModel, customers: pd.DataFrame, accounts: pd.DataFrame, payments: pd.DataFrame,
                   transactions: pd.DataFrame | None, as_of: date) -> pd.DataFrame:
    """The bank-layout features a model needs; transaction features are missing without transactions."""
    if model.layout.name == "uci":
        raise FeatureInputError("a UCI-layout model cannot score the bank's tables; train a bank-layout model")
    rows = transactions if model.needs_transactions else None
    features = bank_features(customers, accounts, payments, as_of, rows)
    for name in model.features:
        if name not in features.columns:
            features[name] = np.nan  # LightGBM routes missing values like it learnt to
    return features


def assess_credit(
    profile: CustomerProfile,
    accounts: pd.DataFrame,
    payments: pd.DataFrame,
    transactions: pd.DataFrame | None,
    model: RiskModel | None,
    as_of: date,
) -> CreditFinding:
    """Utilisation, debt, DTI, 12-month payment history and (with a model) default risk.

    A customer with neither credit accounts nor repayment records gets ``available=False``
    (``missing_reason`` says why) and zero figures; with a model the probability, band and
    reasons are still filled from income, tenure and deposits, for pricing a first product.
    """
    accounts = accounts[accounts["customer_id"] == profile.customer_id] if len(accounts) else accounts
    payments = payments[payments["customer_id"] == profile.customer_id] if len(payments) else payments
    credit = credit_accounts(accounts if len(accounts) else _empty_accounts())
    summary = credit_summary(credit)
    row = summary.iloc[0] if len(summary) else None
    payments = payments_as_of(payments, as_of)  # parsed once for the history and the model
    history = payment_history(payments, as_of)
    monthly_debt = float(row["monthly_debt_payments"]) if row is not None else 0.0
    dti = debt_to_income(monthly_debt, profile.annual_income)
    utilisation = None if row is None or pd.isna(row["utilisation_overall"]) else float(row["utilisation_overall"])
    evidence = [f"acct:{a}" for a in credit["account_id"]]
    evidence += history.late_evidence[:MAX_PAYMENT_EVIDENCE]
    has_credit = len(credit) > 0 or history.instalments > 0
    finding = CreditFinding(
        available=has_credit,
        missing_reason=None if has_credit else NO_CREDIT_DATA,
        utilisation_overall=None if utilisation is None else round(utilisation, 4),
        accounts=account_utilisation(credit),
        total_debt=round(float(row["total_debt"]), 2) if row is not None else 0.0,
        monthly_debt_payments=round(monthly_debt, 2),
        monthly_income=round(profile.annual_income / 12.0, 2),
        debt_to_income=None if dti is None else round(dti, 4),
        late_payments_12m=history.late,
        late_30_plus_12m=history.late_30_plus,
        late_30_plus_6m=history.late_30_plus_6m,
        late_30_plus_3m=history.late_30_plus_3m,
        worst_days_late=history.worst_days_late,
        missed_payments_12m=history.missed,
        evidence=evidence,
        tools_called=[TOOL_UTILISATION, TOOL_DEBT, TOOL_HISTORY],
    )
    if model is None:
        return finding
    profile_frame = pd.DataFrame([{"customer_id": profile.customer_id, "annual_income": profile.annual_income,
                                   "tenure_months": profile.tenure_months}])
    features = model_features(model, profile_frame, accounts, payments, transactions, as_of)
    probability = float(model.predict_proba(features)[0])
    finding.default_probability = round(probability, 4)
    finding.risk_band = risk_band(probability)
    finding.reason_codes = model.explain(features)[0]
    finding.model_version = model.version
    finding.evidence.append(model.evidence_id)
    finding.tools_called.append(TOOL_MODEL)
    return finding


def _empty_accounts() -> pd.DataFrame:
    return pd.DataFrame(columns=TABLES["accounts"].column_names)


def profile_of(customer, as_of: date) -> CustomerProfile:
    """A CustomerProfile from the store's Customer: no protected attribute but age."""
    return CustomerProfile(
        customer_id=customer.customer_id, annual_income=customer.annual_income,
        employment_status=customer.employment_status, tenure_months=customer.tenure_months,
        consent_marketing=customer.consent_marketing, consent_social=customer.consent_social,
        age=customer.age_on(as_of), advisor_id=customer.advisor_id,
    )


def credit_for_customer(store, customer_id: str, as_of: date | None, model: RiskModel | None) -> CreditFinding:
    """Read one customer's rows from a BankStore and assess them."""
    customer = store.customer(customer_id)
    if customer is None:
        return CreditFinding(available=False, missing_reason=f"unknown customer {customer_id}")
    as_of = as_of or store.latest_date() or date.today()
    transactions = store.transactions(customer_id) if model is not None and model.needs_transactions else None
    return assess_credit(profile_of(customer, as_of), store.accounts(customer_id), store.payments(customer_id),
                         transactions, model, as_of)


def score_book(source, model: RiskModel, as_of: date | None = None) -> pd.DataFrame:
    """Every customer of a BankStore or BankFrames: probability, band, reasons and credit figures.

    Columns: customer_id, probability, band, flagged (at the model's threshold),
    reason_1..reason_4 (codes, None where no further reason raises the risk materially),
    utilisation, dti, monthly_debt_payments, total_debt, late_30_plus_3m, late_30_plus_6m,
    late_30_plus_12m, worst_days_late, missed_12m (12-month window), has_credit (credit
    accounts or repayment records). The same definitions as :func:`assess_credit`.
    """
    if isinstance(source, BankFrames):
        frames = source
    else:
        frames = frames_from_store(source, with_transactions=model.needs_transactions)
        as_of = as_of or source.latest_date()
    as_of = as_of or frames.last_date()
    features = model_features(model, frames.customers, frames.accounts, frames.payments, frames.transactions,
                              as_of)
    scores = model.score(features)
    out = pd.DataFrame({
        "customer_id": features.index,
        "probability": scores["probability"].to_numpy(),
        "band": scores["band"].to_numpy(),
        "flagged": scores["flagged"].to_numpy(),
    })
    for column in [c for c in scores.columns if c.startswith("reason_")]:
        out[column] = pd.Series(scores[column].to_numpy(dtype=object), dtype=object)  # keeps None
    out["utilisation"] = features["utilisation_overall"].to_numpy()
    out["dti"] = features["debt_to_income"].to_numpy()
    out["monthly_debt_payments"] = features["monthly_debt_payments"].to_numpy()
    out["total_debt"] = features["total_debt"].to_numpy()
    out["late_30_plus_3m"] = features["late_30_plus_3m"].to_numpy()
    out["late_30_plus_6m"] = features["late_30_plus_6m"].to_numpy()
    out["late_30_plus_12m"] = features["late_30_plus_12m"].to_numpy()
    out["worst_days_late"] = features["worst_days_late_12m"].to_numpy()
    out["missed_12m"] = features["missed_12m"].to_numpy()
    out["has_credit"] = features["has_credit"].to_numpy() > 0
    return out


def as_langchain_tools(store, model: RiskModel | None, as_of: date | None = None) -> list:
    """LangChain StructuredTools over a store; built on request, never at import."""
    from langchain_core.tools import StructuredTool

    def credit_assessment(customer_id: str) -> dict:
        """Credit utilisation, debt-to-income, 12-month payment history and default risk with reason codes."""
        return credit_for_customer(store, customer_id, as_of, model).model_dump(mode="json")

    return [StructuredTool.from_function(credit_assessment, name="credit_assessment")]
