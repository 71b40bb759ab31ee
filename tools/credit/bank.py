"""The project's own tables as model data: loading, targets, training and the shipped model.

Targets:
- a generated bank's ground truth ``labels/customers_truth.csv`` column ``default_12m``
  (default within 12 months after the window), with features as of the bank's last day;
- without labels (a real bank), a proxy: the customer was 90 or more days past due on
  an instalment at some time in the last 3 months of the data, with features computed as
  of the day before those 3 months (payments replayed as they stood then). Customers
  already 90+ days past due on that day are left out: they have defaulted already.

The shipped model (``ensure_risk_model``) is trained from the data store on first use
and kept under ``<models_dir>/risk``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from bank.contract import TABLES, read_table
from tools.credit.features import (
    BANK_LAYOUT,
    BANK_LAYOUT_WITH_TRANSACTIONS,
    CUSTOMER_FEATURE_COLUMNS,
    FeatureInputError,
    bank_features,
)
from tools.credit.model import RiskModel, TrainParams, model_exists, train_risk_model
from tools.credit.utilisation import payments_as_of, prepare_payments

LABELS_FILE = "customers_truth.csv"
LABEL_COLUMN = "default_12m"
PROXY_DAYS_PAST_DUE = 90
PROXY_OUTCOME_MONTHS = 3
AUDIT_GROUP_COLUMN = "gender"
RISK_MODEL_FOLDER = "risk"
UCI_MODEL_FOLDER = "risk-uci"
ACCOUNT_COLUMNS = ["account_id", "customer_id", "type", "product_code", "opened_date", "credit_limit", "balance",
                   "monthly_payment", "status"]
PAYMENT_COLUMNS = ["account_id", "customer_id", "due_date", "amount_due", "amount_paid", "paid_date", "days_late"]
TRANSACTION_COLUMNS = ["customer_id", "timestamp", "amount", "category"]


@dataclass
class BankFrames:
    """The tables a risk model reads; customers holds no protected column."""

    customers: pd.DataFrame
    accounts: pd.DataFrame
    payments: pd.DataFrame
    transactions: pd.DataFrame | None = None
    audit_groups: pd.Series | None = field(default=None, repr=False)  # gender by customer_id, audit only

    def last_date(self) -> date:
        """The last day with data (transactions, else payments due or paid)."""
        candidates = []
        if self.transactions is not None and len(self.transactions):
            stamps = pd.to_datetime(self.transactions["timestamp"], errors="coerce", format="ISO8601")
            candidates.append(stamps.max())
        if len(self.payments):
            candidates.append(pd.to_datetime(self.payments["due_date"], errors="coerce").max())
            candidates.append(pd.to_datetime(self.payments["paid_date"], errors="coerce").max())
        candidates = [c for c in candidates if pd.notna(c)]
        if not candidates:
            raise FeatureInputError("no dated rows: cannot tell the bank's last day")
        return max(candidates).date()


def frames_from_store(store, with_transactions: bool = False, with_audit_groups: bool = False) -> BankFrames:
    """Whole tables from a BankStore (only the columns the model needs)."""
    groups = None
    if with_audit_groups:
        people = store.table("customers", ["customer_id", AUDIT_GROUP_COLUMN])
        groups = people.set_index("customer_id")[AUDIT_GROUP_COLUMN]
    return BankFrames(
        customers=store.table("customers", list(CUSTOMER_FEATURE_COLUMNS)),
        accounts=store.table("accounts", ACCOUNT_COLUMNS),
        payments=store.table("payments", PAYMENT_COLUMNS),
        transactions=store.table("transactions", TRANSACTION_COLUMNS) if with_transactions else None,
        audit_groups=groups,
    )


def _read_contract_table(folder: Path, name: str, columns: list[str]) -> pd.DataFrame:
    path = folder / TABLES[name].file_name
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: a bank folder needs {TABLES[name].file_name}")
    chunks = [chunk.frame[[c for c in columns if c in chunk.frame.columns]]
              for chunk in read_table(path, TABLES[name])]
    return pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=columns)


def frames_from_folder(
    folder: Path, with_transactions: bool = False, with_audit_groups: bool = False
) -> BankFrames:
    """The contract's CSV tables of a bank folder, validated as on ingest."""
    people = _read_contract_table(folder, "customers", [*CUSTOMER_FEATURE_COLUMNS, AUDIT_GROUP_COLUMN])
    groups = people.set_index("customer_id")[AUDIT_GROUP_COLUMN] if with_audit_groups else None
    return BankFrames(
        customers=people[list(CUSTOMER_FEATURE_COLUMNS)],
        accounts=_read_contract_table(folder, "accounts", ACCOUNT_COLUMNS),
        payments=_read_contract_table(folder, "payments", PAYMENT_COLUMNS),
        transactions=(_read_contract_table(folder, "transactions", TRANSACTION_COLUMNS)
                      if with_transactions else None),
        audit_groups=groups,
    )


def load_default_labels(labels_dir: Path) -> pd.Series:
    """The generator's ground truth: default_12m (0/1) by customer_id."""
    path = labels_dir / LABELS_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found")
    truth = pd.read_csv(path, usecols=["customer_id", LABEL_COLUMN])
    return truth.set_index("customer_id")[LABEL_COLUMN].astype(int)


def proxy_default_target(payments: pd.DataFrame, cutoff: date, as_of: date) -> tuple[pd.Series, pd.Index]:
    """(target by customer, customers already in default at ``cutoff``).

    Target 1 when an instalment was 90+ days past due at some time in (cutoff, as_of].
    """
    prepared = payments_as_of(prepare_payments(payments), as_of)
    start, end = pd.Timestamp(cutoff), pd.Timestamp(as_of)
    ninety = prepared["due_date"] + pd.Timedelta(days=PROXY_DAYS_PAST_DUE)
    first_day = ninety.where(ninety > start, start + pd.Timedelta(days=1))
    open_on = prepared["paid_date"].isna() | (prepared["paid_date"] > first_day)
    hit = (first_day <= end) & open_on
    target = hit.groupby(prepared["customer_id"]).any().astype(int)
    already = (ninety <= start) & (prepared["paid_date"].isna() | (prepared["paid_date"] > start))
    in_default = already.groupby(prepared["customer_id"]).any()
    return target, in_default[in_default].index


@dataclass
class TrainingSet:
    features: pd.DataFrame
    target: pd.Series
    target_name: str
    features_as_of: date
    groups: pd.Series | None
    notes: list[str]


def bank_training_set(
    frames: BankFrames, as_of: date | None = None, labels: pd.Series | None = None,
) -> TrainingSet:
    """Features and target from a bank: ground-truth labels when given, else the proxy."""
    as_of = as_of or frames.last_date()
    if labels is not None:
        features = bank_features(frames.customers, frames.accounts, frames.payments, as_of, frames.transactions)
        target = labels.reindex(features.index)
        keep = target.notna().to_numpy()
        notes = [f"target: generator ground truth {LABEL_COLUMN}, features as of {as_of}"]
        target_name = LABEL_COLUMN
    else:
        cutoff = (pd.Timestamp(as_of) - pd.DateOffset(months=PROXY_OUTCOME_MONTHS)).date()
        features = bank_features(frames.customers, frames.accounts, frames.payments, cutoff, frames.transactions)
        outcome, in_default = proxy_default_target(frames.payments, cutoff, as_of)
        target = outcome.reindex(features.index).fillna(0)
        keep = ~features.index.isin(in_default)
        target_name = f"proxy: {PROXY_DAYS_PAST_DUE}+ days past due within {PROXY_OUTCOME_MONTHS} months"
        notes = [f"target: {target_name} after {cutoff} (to {as_of}); features as of {cutoff}; "
                 f"{int((~np.asarray(keep)).sum())} customers already {PROXY_DAYS_PAST_DUE}+ days past due "
                 f"on {cutoff} left out",
                 "balances and limits are the accounts table's current values (no balance history)"]
    keep = np.asarray(keep, dtype=bool)
    groups = None
    if frames.audit_groups is not None:
        groups = frames.audit_groups.reindex(features.index)[keep]
    return TrainingSet(features=features[keep], target=target[keep].astype(int),
                       target_name=target_name, features_as_of=as_of, groups=groups, notes=notes)


def train_bank_model(
    frames: BankFrames, as_of: date | None = None, labels: pd.Series | None = None,
    params: TrainParams | None = None,
) -> RiskModel:
    """Train the bank-layout model (with transaction features when the frames hold transactions)."""
    data = bank_training_set(frames, as_of, labels)
    layout = BANK_LAYOUT_WITH_TRANSACTIONS if frames.transactions is not None else BANK_LAYOUT
    return train_risk_model(data.features, data.target, layout, data.target_name, groups=data.groups,
                            params=params, notes=data.notes)


def risk_model_dir(settings) -> Path:
    return Path(settings.models_dir) / RISK_MODEL_FOLDER


def ensure_risk_model(settings, store, labels_dir: Path | None = None) -> RiskModel:
    """The shipped default-risk model: loaded from ``<models_dir>/risk``, trained there on first use.

    Trains on the store's tables: against the generator's ``default_12m`` when
    ``labels_dir`` holds its ground truth, else against the 90+ days past due proxy.
    """
    folder = risk_model_dir(settings)
    if model_exists(folder):
        return RiskModel.load(folder)
    frames = frames_from_store(store, with_audit_groups=True)
    labels = load_default_labels(labels_dir) if labels_dir is not None else None
    model = train_bank_model(frames, store.latest_date(), labels)
    model.save(folder)
    return model

