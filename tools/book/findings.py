"""The product matcher's feature row for every customer of a book, from whole tables.

The per-customer path builds a row with ``features_from_findings`` from the specialists'
findings (``spending_for_customer``, ``credit_for_customer``, ``voice_for_customer``) and
the customer's holdings. Here each part is computed once for the whole book, with the
same definitions:

* profile and holdings: ``profiles_frame`` and ``holdings_frame`` over whole tables;
* credit: ``score_book`` (the risk model and credit figures of all customers at once),
  rounded as ``assess_credit`` rounds them;
* spending: the spending specialist's own functions (recurring-payment detection,
  overspending alerts, budget, segment) on each customer's slice of one time-ordered copy
  of the transactions table. Chain building for recurring payments is sequential by
  nature, so this part is a loop over customers, with no query and no pandas per customer;
* voice: every text of the book scored and classified in one batch, then each customer's
  voice analysed by ``analyse_voice`` from those results.

A customer's row is therefore exactly the row the per-customer path builds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bank.knowledge import KnowledgeBase
from tools.credit.assess import score_book
from tools.credit.bank import ACCOUNT_COLUMNS, PAYMENT_COLUMNS, BankFrames
from tools.credit.utilisation import credit_accounts, credit_summary
from tools.findings import CustomerProfile, OverspendingAlert, SentimentFinding, SpendingFinding
from tools.products.features import (
    HOLDINGS_COLUMNS,
    PROFILE_COLUMNS,
    features_from_findings,
    holdings_frame,
)
from tools.spending.alerts import overspending_alerts
from tools.spending.analysis import customer_shares
from tools.spending.budget import budget_plan
from tools.spending.categories import spend_by_category
from tools.spending.ledger import TEXT_COLUMNS, WINDOW_MONTHS, Ledger, _timestamps, factorised_text
from tools.spending.recurring import detect_recurring, subscriptions_monthly_cost, subscriptions_of

CUSTOMER_COLUMNS = ["customer_id", "annual_income", "tenure_months", "consent_marketing", "consent_social",
                    "birth_date"]
TRANSACTION_COLUMNS = ["customer_id", "timestamp", "amount", *TEXT_COLUMNS]
TEXT_TABLE_COLUMNS = {
    "interactions": ["interaction_id", "customer_id", "timestamp", "channel", "text"],
    "social_posts": ["post_id", "customer_id", "timestamp", "platform", "text"],
}
# What a customer without accounts holds (``holdings_from_accounts`` of no rows).
EMPTY_HOLDINGS: dict[str, Any] = {
    "cash_savings": 0.0, "revolving_balance": 0.0, "revolving_limit": 0.0, "card_interest_monthly": 0.0,
    "revolving_apr_max": np.nan, "transferable_balance": 0.0, "transferable_interest_monthly": 0.0,
    "unsecured_loan_balance": 0.0, "consolidatable_balance": 0.0, "consolidatable_payment": 0.0,
    "has_credit_account": False, "held": "|",
}
CREDIT_COLUMNS = ("risk_band", "monthly_debt_payments", "utilisation", "late_30_plus_3m", "late_30_plus_6m",
                  "late_30_plus_12m", "worst_days_late")


@dataclass
class BookTables:
    """The whole tables a book-wide job reads (customers with the decrypted birth date only)."""

    customers: pd.DataFrame
    accounts: pd.DataFrame
    payments: pd.DataFrame
    transactions: pd.DataFrame
    interactions: pd.DataFrame | None = None
    social_posts: pd.DataFrame | None = None


@dataclass
class BookModels:
    """The specialists' models; without a scorer and classifier the voice is left out (no
    stated needs, complaints or vulnerability signals: say so when reporting)."""

    risk_model: Any
    segmenter: Any = None
    sentiment_scorer: Any = None
    intent_classifier: Any = None

    @property
    def with_voice(self) -> bool:
        return self.sentiment_scorer is not None and self.intent_classifier is not None


@dataclass
class BookFindings:
    """Profile and feature columns per customer (one row each, in customer order), and the
    overspending alerts the spending analysis raised on the way."""

    profiles: pd.DataFrame
    features: pd.DataFrame
    overspending: pd.DataFrame
    credit: pd.DataFrame


def read_book(store, with_text: bool = True) -> BookTables:
    """Whole tables from a BankStore; birth dates are decrypted (age gates the legal minimum only)."""
    customers = store.table("customers", CUSTOMER_COLUMNS)
    customers["birth_date"] = [
        store.cipher.decrypt(v, "customers.birth_date") if isinstance(v, str) and v else None
        for v in customers["birth_date"]
    ]
    tables = BookTables(
        customers=customers,
        accounts=store.table("accounts", ACCOUNT_COLUMNS + ["apr"]),
        payments=store.table("payments", PAYMENT_COLUMNS),
        transactions=store.table("transactions", TRANSACTION_COLUMNS),
    )
    if with_text:
        tables.interactions = store.table("interactions", TEXT_TABLE_COLUMNS["interactions"])
        tables.social_posts = store.table("social_posts", TEXT_TABLE_COLUMNS["social_posts"])
    return tables


def read_book_folder(folder: Path, with_text: bool = True) -> BookTables:
    """The same tables from a bank folder's CSV files, validated as on ingest but not stored: texts
    are as in the files (ingest also redacts them), so voice figures may differ slightly from the
    store's. For jobs and benchmarks that have the files but no ingested store."""
    from bank.contract import TABLES, read_table

    def table(name: str, columns: list[str]) -> pd.DataFrame:
        chunks = [chunk.frame[[c for c in columns if c in chunk.frame.columns]]
                  for chunk in read_table(folder / TABLES[name].file_name, TABLES[name])]
        return pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=columns)

    tables = BookTables(
        customers=table("customers", CUSTOMER_COLUMNS),
        accounts=table("accounts", ACCOUNT_COLUMNS + ["apr"]),
        payments=table("payments", PAYMENT_COLUMNS),
        transactions=table("transactions", TRANSACTION_COLUMNS),
    )
    if with_text:
        tables.interactions = table("interactions", TEXT_TABLE_COLUMNS["interactions"])
        tables.social_posts = table("social_posts", TEXT_TABLE_COLUMNS["social_posts"])
    return tables


def _ages(birth_dates: pd.Series, as_of: date) -> np.ndarray:
    born = pd.to_datetime(birth_dates, errors="coerce")
    not_yet = (born.dt.month > as_of.month) | ((born.dt.month == as_of.month) & (born.dt.day > as_of.day))
    return (as_of.year - born.dt.year - not_yet.astype(int)).to_numpy(dtype=float)


def book_profiles(customers: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """``profile_features`` of every customer, in customer_id order."""
    frame = pd.DataFrame({
        "customer_id": customers["customer_id"].astype(str),
        "annual_income": pd.to_numeric(customers["annual_income"], errors="coerce").astype(float),
        "tenure_months": pd.to_numeric(customers["tenure_months"], errors="coerce").astype(float),
        "consent_marketing": customers["consent_marketing"].fillna(False).astype(bool),
        "consent_social": customers["consent_social"].fillna(False).astype(bool),
        "age": _ages(customers["birth_date"], as_of),
    })
    return frame.sort_values("customer_id", kind="stable").reset_index(drop=True)[list(PROFILE_COLUMNS)]


def _rounded(values: np.ndarray, digits: int) -> np.ndarray:
    """Python's ``round`` (correctly rounded, as the findings round), NaN kept."""
    return np.array([v if np.isnan(v) else round(float(v), digits) for v in values.tolist()], dtype=float)


def book_credit(tables: BookTables, risk_model, as_of: date) -> pd.DataFrame:
    """The credit columns of the feature row for every customer: ``score_book`` rounded like
    ``assess_credit``; customers without credit data get no band and unknown figures.
    Also ``cards`` (cards with a limit) and the model's figures for the risk alerts."""
    people = pd.Index(sorted(tables.customers["customer_id"].astype(str)), name="customer_id")
    frames = BankFrames(
        customers=tables.customers[["customer_id", "annual_income", "tenure_months"]],
        accounts=tables.accounts[ACCOUNT_COLUMNS],
        payments=tables.payments,
        transactions=tables.transactions[["customer_id", "timestamp", "amount", "category"]]
        if risk_model.needs_transactions else None,
    )
    scored = score_book(frames, risk_model, as_of).set_index("customer_id").reindex(people)
    has = scored["has_credit"].fillna(False).to_numpy(dtype=bool)

    def known(column: str) -> np.ndarray:
        return np.where(has, scored[column].to_numpy(dtype=float), np.nan)

    out = pd.DataFrame(index=people)
    out["risk_band"] = np.where(has, scored["band"].to_numpy(dtype=object), None)
    out["monthly_debt_payments"] = _rounded(known("monthly_debt_payments"), 2)
    out["utilisation"] = _rounded(known("utilisation"), 4)
    for column in ("late_30_plus_3m", "late_30_plus_6m", "late_30_plus_12m"):
        out[column] = known(column)
    out["worst_days_late"] = np.trunc(known("worst_days_late"))
    summary = credit_summary(credit_accounts(tables.accounts), people)
    out["cards"] = summary["cards"].to_numpy() * has
    for column in ("probability", "flagged", "dti", "reason_1"):
        out[f"model_{column}"] = scored[column].to_numpy()
    out["has_credit"] = has
    return out


def book_holdings(accounts: pd.DataFrame, kb: KnowledgeBase, people: pd.Index) -> pd.DataFrame:
    frame = holdings_frame(accounts, kb).set_index("customer_id").reindex(people)
    for column, empty in EMPTY_HOLDINGS.items():
        if column != "revolving_apr_max":
            frame[column] = frame[column].where(frame[column].notna(), empty)
    frame["has_credit_account"] = frame["has_credit_account"].astype(bool)
    return frame[[*HOLDINGS_COLUMNS, "held"]]


# --- spending -------------------------------------------------------------------------------
@dataclass
class _SortedTransactions:
    """The transactions table in (customer, time) order as the ledger's arrays, and where each
    customer's rows start and end."""

    customers: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    columns: dict[str, np.ndarray]

    @classmethod
    def of(cls, transactions: pd.DataFrame, as_of: date) -> "_SortedTransactions":
        timestamp = _timestamps(transactions["timestamp"])
        amount = pd.to_numeric(transactions["amount"], errors="coerce").to_numpy(dtype="float64")
        end = np.datetime64(as_of, "D") + np.timedelta64(1, "D")
        customer_codes, customers = pd.factorize(transactions["customer_id"].astype(str), sort=True)
        keep = ~np.isnat(timestamp) & np.isfinite(amount) & (timestamp < end) & (customer_codes >= 0)
        rows = np.flatnonzero(keep)
        order = rows[np.lexsort((timestamp[rows], customer_codes[rows]))]
        columns: dict[str, np.ndarray] = {"timestamp": timestamp[order], "amount": amount[order]}
        for column in TEXT_COLUMNS:
            codes, names = factorised_text(transactions[column], lower=column in ("category", "channel"),
                                           fallback="uncategorised" if column == "category" else "")
            columns[column] = names[codes[order]]
        counts = np.bincount(customer_codes[order], minlength=len(customers))
        ends = np.cumsum(counts)
        return cls(np.asarray(customers, dtype=object), ends - counts, ends, columns)

    def ledger(self, k: int, as_of: date) -> Ledger:
        part = slice(self.starts[k], self.ends[k])
        return Ledger(as_of=as_of, months=WINDOW_MONTHS, **{n: v[part] for n, v in self.columns.items()})


def _spending_finding(ledger: Ledger, hint: float | None, segmenter) -> tuple[SpendingFinding, list]:
    """The fields of ``analyse_spending`` that the matcher reads, by the same functions."""
    if not ledger.in_window.any():
        return SpendingFinding(available=False, missing_reason="no transactions in the window"), []
    streams = detect_recurring(ledger)
    subscriptions = subscriptions_of(streams)
    alerts = overspending_alerts(ledger)
    finding = SpendingFinding(
        months_covered=ledger.months_covered,
        window_start=ledger.start,
        window_end=ledger.as_of,
        monthly_spend=round(sum(ledger.monthly_averages.values()), 2),
        by_category=spend_by_category(ledger),
        subscriptions=subscriptions,
        subscriptions_monthly_cost=subscriptions_monthly_cost(streams),
        overspending=alerts,
    )
    finding.budget = budget_plan(ledger, subscriptions, alerts, hint)
    finding.monthly_income = finding.budget.monthly_income
    if segmenter is not None:
        shares = customer_shares(ledger)
        if len(shares):
            finding.segment_id, finding.segment = segmenter.assign(shares)
    return finding, alerts


# --- voice ----------------------------------------------------------------------------------
class _Precomputed:
    """A scorer and classifier answering from one batch run over the whole book's texts."""

    def __init__(self, bodies: list[str], scorer, classifier):
        unique = list(dict.fromkeys(bodies))
        self.sentiment = dict(zip(unique, scorer.score_sentiment(unique), strict=True))
        self.prediction = dict(zip(unique, classifier.predict(unique), strict=True))

    def score_sentiment(self, texts: list[str]) -> list[float]:
        return [self.sentiment[t] for t in texts]

    def predict(self, texts: list[str]) -> list:
        return [self.prediction[t] for t in texts]


@dataclass
class _VoiceInputs:
    """Each customer's texts and the book's batch of model results, for ``analyse_voice``."""

    interactions: dict[str, pd.DataFrame]
    posts: dict[str, pd.DataFrame]
    consent: dict[str, bool]
    batch: _Precomputed
    empty: pd.DataFrame

    def finding(self, customer_id: str, as_of: date) -> SentimentFinding | None:
        from tools.sentiment.voice import analyse_voice

        if customer_id not in self.consent:
            return None
        return analyse_voice(self.interactions.get(customer_id, self.empty), self.posts.get(customer_id),
                             self.consent[customer_id], as_of, self.batch, self.batch)


def _voice_inputs(
    tables: BookTables, profiles: pd.DataFrame, as_of: date, models: BookModels
) -> _VoiceInputs | None:
    from tools.sentiment.voice import collect_texts, strip_injections

    if tables.interactions is None:
        return None
    # Parsed once for the book: per customer, parsing text timestamps costs more than the analysis.
    interactions = tables.interactions.assign(timestamp=pd.to_datetime(tables.interactions["timestamp"],
                                                                       errors="coerce"))
    posts = tables.social_posts
    if posts is not None:
        posts = posts.assign(timestamp=pd.to_datetime(posts["timestamp"], errors="coerce"))
    by_customer = {cid: frame for cid, frame in interactions.groupby("customer_id", sort=False)}
    consenting = set(profiles.loc[profiles["consent_social"], "customer_id"])
    posts_by_customer = ({cid: frame for cid, frame in posts[posts["customer_id"].isin(consenting)]
                          .groupby("customer_id", sort=False)} if posts is not None else {})
    empty = interactions.iloc[:0]
    consent, bodies = {}, []
    for cid in sorted(set(by_customer) | set(posts_by_customer)):
        consents = cid in consenting
        collected = collect_texts(by_customer.get(cid, empty), posts_by_customer.get(cid), consents, as_of)
        if collected:
            consent[cid] = consents
            bodies += [strip_injections(t.text)[0] for t in collected]
    batch = _Precomputed(bodies, models.sentiment_scorer, models.intent_classifier)
    return _VoiceInputs(by_customer, posts_by_customer, consent, batch, empty)


@dataclass
class _CustomerJob:
    """What the per-customer step reads; shared with worker processes by fork."""

    customers: list[dict]  # profile columns, one record per customer
    ledgers: _SortedTransactions
    position: np.ndarray
    voices: _VoiceInputs | None
    segmenter: Any
    as_of: date

    def rows(self, indices: np.ndarray) -> tuple[list[dict], list[tuple[str, OverspendingAlert]]]:
        """Feature rows (spending and voice columns) and overspending alerts of these customers."""
        rows, alerts = [], []
        unavailable = SpendingFinding(available=False, missing_reason="no transactions")
        for i in indices.tolist():
            customer = self.customers[i]
            cid = customer["customer_id"]
            income = float(customer["annual_income"])
            spending = unavailable
            if self.position[i] >= 0:
                hint = income / 12.0 if income else None
                spending, found = _spending_finding(self.ledgers.ledger(self.position[i], self.as_of), hint,
                                                    self.segmenter)
                alerts += [(cid, alert) for alert in found]
            age = float(customer["age"])
            profile = CustomerProfile.model_construct(
                customer_id=cid, annual_income=income, tenure_months=int(customer["tenure_months"]),
                consent_marketing=bool(customer["consent_marketing"]),
                consent_social=bool(customer["consent_social"]), age=None if np.isnan(age) else int(age),
            )
            voice = self.voices.finding(cid, self.as_of) if self.voices is not None else None
            rows.append(features_from_findings(profile, spending, None, voice, None, self.as_of))
        return rows, alerts


_shared_job: _CustomerJob | None = None  # set only while a pool of forked workers runs


def _rows_in_worker(indices: np.ndarray) -> tuple[list[dict], list[tuple[str, OverspendingAlert]]]:
    assert _shared_job is not None
    return _shared_job.rows(indices)


def _run_customers(job: _CustomerJob, workers: int) -> tuple[list[dict], list[tuple[str, OverspendingAlert]]]:
    """The per-customer step over the whole book, in ``workers`` forked processes when above 1."""
    global _shared_job
    everyone = np.arange(len(job.customers))
    if workers <= 1 or len(everyone) < 2 * workers:
        return job.rows(everyone)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunks = np.array_split(everyone, workers * 8)
    _shared_job = job
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            parts = list(pool.map(_rows_in_worker, chunks))
    finally:
        _shared_job = None
    return [r for rows, _ in parts for r in rows], [a for _, alerts in parts for a in alerts]


def book_findings(tables: BookTables, kb: KnowledgeBase, models: BookModels, as_of: date,
                  workers: int = 1) -> BookFindings:
    """Profile and feature rows of every customer, equal to ``features_from_findings`` of the
    specialists' findings and the customer's holdings. ``workers`` > 1 runs the per-customer
    step (recurring payments, budget, voice) in that many forked processes."""
    profiles = book_profiles(tables.customers, as_of)
    people = pd.Index(profiles["customer_id"], name="customer_id")
    holdings = book_holdings(tables.accounts, kb, people)
    credit = book_credit(tables, models.risk_model, as_of)
    voices = _voice_inputs(tables, profiles, as_of, models) if models.with_voice else None
    ledgers = _SortedTransactions.of(tables.transactions, as_of)
    position = pd.Index(ledgers.customers).get_indexer(people)
    job = _CustomerJob(profiles.to_dict("records"), ledgers, position, voices, models.segmenter, as_of)
    rows, alerts = _run_customers(job, workers)
    features = pd.DataFrame(rows).set_index("customer_id")
    for column in HOLDINGS_COLUMNS:
        features[column] = holdings[column].to_numpy()
    features["held"] = holdings["held"].to_numpy()
    for column in CREDIT_COLUMNS:
        features[column] = credit[column].to_numpy()
    features["has_credit_account"] = holdings["has_credit_account"].to_numpy() | (credit["cards"].to_numpy() > 0)
    features = features.drop(columns=[c for c in PROFILE_COLUMNS if c != "customer_id" and c in features])
    return BookFindings(
        profiles=profiles,
        features=features.reset_index(),
        overspending=_alerts_frame(alerts),
        credit=credit.reset_index(),
    )


def _alerts_frame(alerts: list[tuple[str, OverspendingAlert]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"customer_id": cid, "category": a.category, "month": a.month, "amount": a.amount,
          "baseline": a.baseline, "excess_pct": a.excess_pct, "evidence": "; ".join(a.evidence)}
         for cid, a in alerts],
        columns=["customer_id", "category", "month", "amount", "baseline", "excess_pct", "evidence"],
    )
