"""The product matcher's feature row for every customer of a book, from whole tables.

The per-customer path builds a row with ``features_from_findings`` from the specialists'
findings (``spending_for_customer``, ``credit_for_customer``, ``voice_for_customer``) and
the customer's holdings. Here each part is computed once for the whole book, with the
same definitions:

* profile and holdings: ``profiles_frame`` and ``holdings_frame`` over whole tables;
* credit: ``score_book`` (the risk model and credit figures of all customers at once),
  rounded as ``assess_credit`` rounds them;
* recurring payments: ``book_streams`` (tools/book/recurring.py), ``detect_recurring`` over
  the transactions of many customers at once (the book, or one batch per worker);
* the rest of spending: the spending specialist's own functions (overspending alerts,
  budget, segment) on each customer's slice of one time-ordered copy of the transactions
  table, a loop over customers with no query and no pandas per customer;
* voice: ``book_voices``, ``analyse_voice`` for the whole book: each distinct text cleaned,
  scored and classified once, the aggregates (mood, trend, complaints, intents, needs,
  vulnerability) computed per customer by grouping, with numpy's own summation order.

A customer's row is therefore exactly the row the per-customer path builds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bank.knowledge import KnowledgeBase
from tools.book.recurring import book_streams
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
from tools.spending.recurring import Stream, subscriptions_monthly_cost, subscriptions_of

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

    def streams(self, customers: np.ndarray, as_of: date) -> dict[int, list[Stream]]:
        """``detect_recurring`` of these customers (positions here; -1 for none), found together by
        ``book_streams`` over the rows from the first to the last of them."""
        present = customers[customers >= 0]
        if not len(present):
            return {}
        first, last = int(present.min()), int(present.max())
        span = slice(int(self.starts[first]), int(self.ends[last]))
        found = book_streams(self.starts[first:last + 1] - span.start, self.ends[first:last + 1] - span.start,
                             {name: values[span] for name, values in self.columns.items()}, as_of)
        return {first + k: streams for k, streams in enumerate(found)}

    def ledger(self, k: int, as_of: date) -> Ledger:
        part = slice(self.starts[k], self.ends[k])
        return Ledger(as_of=as_of, months=WINDOW_MONTHS, **{n: v[part] for n, v in self.columns.items()})


def _spending_finding(ledger: Ledger, streams: list[Stream], hint: float | None,
                      segmenter) -> tuple[SpendingFinding, list]:
    """The fields of ``analyse_spending`` that the matcher reads, by the same functions
    (``streams``: the ledger's ``detect_recurring``, found by ``book_streams``)."""
    if not ledger.in_window.any():
        return SpendingFinding(available=False, missing_reason="no transactions in the window"), []
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
# numpy's float sum (``np.add.reduce`` of a contiguous array, as ``np.mean`` and ``np.average``
# use it): sequential below 8 values, eight running sums combined pairwise up to this size.
_PAIRWISE_BLOCK = 128


def _segment_sums(values: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``np.add.reduce(values[s:s + n])`` for every segment, bit for bit, without a loop over segments."""
    out = np.zeros(len(counts))
    small = np.flatnonzero((counts > 0) & (counts < 8))
    for j in range(7):
        part = small[counts[small] > j]
        out[part] += values[starts[part] + j]
    block = np.flatnonzero((counts >= 8) & (counts <= _PAIRWISE_BLOCK))
    if len(block):
        n, first = counts[block], starts[block]
        running = np.stack([values[first + j] for j in range(8)])
        full = n - n % 8
        for i in range(8, _PAIRWISE_BLOCK, 8):
            more = i + 8 <= n
            if not more.any():
                break
            for j in range(8):
                running[j, more] += values[first[more] + i + j]
        total = ((running[0] + running[1]) + (running[2] + running[3])) + ((running[4] + running[5])
                                                                          + (running[6] + running[7]))
        for j in range(7):
            tail = full + j < n
            total[tail] += values[first[tail] + full[tail] + j]
        out[block] = total
    for k in np.flatnonzero(counts > _PAIRWISE_BLOCK).tolist():
        out[k] = np.add.reduce(values[starts[k]:starts[k] + counts[k]])
    return out


def _texts_of(frame: pd.DataFrame | None, id_column: str, prefix: str, channel_column: str, is_post: bool,
              as_of: date) -> pd.DataFrame:
    """``collect_texts``'s rows of one table for the whole book: usable texts of the analysis window."""
    from tools.sentiment.voice import ANALYSIS_DAYS

    columns = ["customer_id", "at", "day", "source_id", "channel", "text", "is_post"]
    if frame is None or frame.empty:
        return pd.DataFrame(columns=columns)
    stamps = pd.to_datetime(frame["timestamp"], errors="coerce")
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        local = stamps.dt.tz_localize(None)  # the wall-clock date, as Timestamp.date() gives
    elif pd.api.types.is_datetime64_dtype(stamps):
        local = stamps
    else:  # mixed offsets: Timestamps one by one
        local = pd.Series([pd.NaT if pd.isna(t) else pd.Timestamp(t.date()) for t in stamps], index=frame.index)
    day = local.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)
    as_of_day = int(np.datetime64(as_of, "D").astype(np.int64))
    texts = frame["text"].tolist()
    usable = np.array([isinstance(t, str) and bool(t.strip()) for t in texts], dtype=bool)
    keep = usable & stamps.notna().to_numpy() & (day > as_of_day - ANALYSIS_DAYS) & (day <= as_of_day)
    channels = frame[channel_column] if channel_column in frame.columns else pd.Series("", index=frame.index)
    default = "social" if is_post else ""
    rows = np.flatnonzero(keep)
    return pd.DataFrame({
        "customer_id": frame["customer_id"].astype(str).to_numpy()[rows],
        "at": stamps.to_numpy()[rows] if rows.size else stamps.to_numpy()[:0],
        "day": day[rows],
        "source_id": [f"{prefix}:{s}" for s in frame[id_column].to_numpy()[rows].tolist()],
        "channel": [str(c or default) for c in channels.to_numpy()[rows].tolist()],
        "text": [texts[i] for i in rows.tolist()],
        "is_post": np.full(len(rows), is_post),
    }, columns=columns)


_shared_scoring: tuple[Any, list[str]] | None = None  # set only while a forked worker scores texts


def _sentiments_in_worker() -> list[float]:
    assert _shared_scoring is not None
    scorer, texts = _shared_scoring
    return scorer.score_sentiment(texts)


def _scored(texts: list[str], scorer, classifier, workers: int) -> tuple[np.ndarray, list]:
    """Sentiment and intent of each text; with ``workers`` > 1 the sentiment is scored in a forked
    process while this one classifies."""
    global _shared_scoring
    if workers <= 1 or len(texts) < 1000:
        return np.asarray(scorer.score_sentiment(texts), dtype=float), classifier.predict(texts)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    _shared_scoring = (scorer, texts)
    try:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
            sentiments = pool.submit(_sentiments_in_worker)
            predictions = classifier.predict(texts)
            return np.asarray(sentiments.result(), dtype=float), predictions
    finally:
        _shared_scoring = None


def book_voices(tables: BookTables, consent_social: dict[str, bool], as_of: date, scorer,
                classifier, workers: int = 1) -> dict[str, SentimentFinding]:
    """``analyse_voice`` of every customer with texts in the window (posts only with consent): each
    distinct text is cleaned, scored and classified once for the book, then grouped by customer."""
    from tools.findings import DetectedIntent, ScoredText
    from tools.sentiment.scorer import mood_label
    from tools.sentiment.voice import (
        CHURN_DAYS, COMPLAINT_DAYS, COMPLAINT_INTENTS, MIN_INTENT_CONFIDENCE, MOOD_DAYS, MOOD_HALF_LIFE_DAYS,
        GOAL_TAGS, RECENT_TEXTS, RESOLUTION_PATTERN, TOOLS_CALLED, TREND_BEFORE_DAYS, TREND_THRESHOLD, VULNERABILITY_PATTERNS,
        _churn_risk, excerpt, needs_for_text, strip_injections,
    )

    if tables.interactions is None:
        return {}
    posts = tables.social_posts
    if posts is not None:
        posts = posts[posts["customer_id"].astype(str).map(consent_social).fillna(False).astype(bool)]
    texts = pd.concat([
        _texts_of(tables.interactions, "interaction_id", "int", "channel", False, as_of),
        _texts_of(posts, "post_id", "post", "platform", True, as_of),
    ], ignore_index=True)
    if texts.empty:
        return {}
    texts = texts.sort_values(["customer_id", "at", "source_id"], kind="stable").reset_index(drop=True)
    customers, first_text, count = np.unique(texts["customer_id"].to_numpy(dtype=object), return_index=True,
                                             return_counts=True)
    owner = np.repeat(np.arange(len(customers)), count)
    position = np.arange(len(texts)) - first_text[owner]

    raw = texts["text"].tolist()
    cleaned = {t: strip_injections(t) for t in dict.fromkeys(raw)}
    bodies = [cleaned[t][0] for t in raw]
    injected = np.array([cleaned[t][1] for t in raw], dtype=bool)
    unique_bodies = list(dict.fromkeys(bodies))
    body_code = pd.Index(unique_bodies).get_indexer(bodies)
    scores, predicted = _scored(unique_bodies, scorer, classifier, workers)
    sentiment = scores[body_code]
    confidence = np.array([p.confidence for p in predicted], dtype=float)[body_code]
    raw_intent = np.array([p.intent for p in predicted], dtype=object)[body_code]
    intent = np.where(confidence >= MIN_INTENT_CONFIDENCE, raw_intent, "unclear")
    as_of_day = int(np.datetime64(as_of, "D").astype(np.int64))
    days = texts["day"].to_numpy(dtype=np.int64)
    age = (as_of_day - days).astype(float)
    is_post = texts["is_post"].to_numpy(dtype=bool)
    source = texts["source_id"].to_numpy(dtype=object)
    channel = texts["channel"].to_numpy(dtype=object)
    people = len(customers)

    def grouped(mask: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sums of ``values`` over each customer's masked texts (as numpy sums them), and counts."""
        rows = np.flatnonzero(mask)
        n = np.bincount(owner[rows], minlength=people)
        return _segment_sums(values[rows], np.cumsum(n) - n, n), n

    recent = age <= MOOD_DAYS
    weight = np.zeros(len(age))
    weight[recent] = 0.5 ** (age[recent] / MOOD_HALF_LIFE_DAYS)
    weighted, n_recent = grouped(recent, sentiment * weight)
    weights, _ = grouped(recent, weight)
    recent_sum, _ = grouped(recent, sentiment)
    before = (age > MOOD_DAYS) & (age <= MOOD_DAYS + TREND_BEFORE_DAYS)
    before_sum, n_before = grouped(before, sentiment)

    resolves = np.array([bool(RESOLUTION_PATTERN.search(t)) for t in raw], dtype=bool)
    last_resolution = np.full(people, -1)
    np.maximum.at(last_resolution, owner[resolves], position[resolves])
    complaint = (~is_post & ((channel == "complaint") | np.isin(intent, list(COMPLAINT_INTENTS)))
                 & (age <= COMPLAINT_DAYS))
    open_complaints = np.bincount(owner[complaint & (position >= last_resolution[owner])], minlength=people)
    churn_intent = np.bincount(owner[(intent == "churn_risk") & (age <= CHURN_DAYS)], minlength=people) > 0

    # Stated intents: (customer, intent) groups in text order.
    stated = np.flatnonzero(intent != "unclear")
    intent_code = pd.factorize(intent)[0]
    by_intent = stated[np.lexsort((stated, intent_code[stated], owner[stated]))]
    detected: list[list[DetectedIntent]] = [[] for _ in range(people)]
    if len(by_intent):
        key = owner[by_intent] * (int(intent_code.max()) + 1) + intent_code[by_intent]
        new = np.concatenate([[True], key[1:] != key[:-1]])
        group_start = np.flatnonzero(new)
        group_count = np.diff(np.append(group_start, len(by_intent)))
        mean_confidence = _segment_sums(confidence[by_intent], group_start, group_count) / group_count
        for g, (start, n) in enumerate(zip(group_start.tolist(), group_count.tolist())):
            rows = by_intent[start:start + n]
            detected[owner[rows[0]]].append(DetectedIntent(
                intent=str(intent[rows[0]]), count=n, confidence=round(float(mean_confidence[g]), 3),
                last_seen=date.fromordinal(719163 + int(days[rows].max())), evidence=source[rows].tolist()))
        for found in detected:
            found.sort(key=lambda d: (-d.count, -d.last_seen.toordinal(), d.intent))

    # Need tags, most recent text first; vulnerability wording, in text order.
    interests: list[list[str]] = [[] for _ in range(people)]
    with_needs = [i for i in range(len(raw)) if needs_for_text(str(intent[i]), bodies[i])]
    for i in sorted(with_needs, key=lambda k: (owner[k], -days[k], k)):
        tags = interests[owner[i]]
        tags += [n for n in needs_for_text(str(intent[i]), bodies[i]) if n not in tags]
    any_vulnerability = re.compile("|".join(f"(?:{p.pattern})" for p in VULNERABILITY_PATTERNS.values()),
                                   re.IGNORECASE)
    signals: list[dict[str, list[str]]] = [{} for _ in range(people)]
    for i in range(len(raw)):
        hardship = intent[i] == "hardship"
        if not hardship and not any_vulnerability.search(bodies[i]):
            continue
        sources = signals[owner[i]]
        if hardship:
            sources.setdefault("financial hardship", []).append(source[i])
        for kind, pattern in VULNERABILITY_PATTERNS.items():
            if pattern.search(bodies[i]):
                sources.setdefault(kind, []).append(source[i])

    clipped = np.clip(sentiment, -1, 1)
    out: dict[str, SentimentFinding] = {}
    for k, cid in enumerate(customers.tolist()):
        first, n = int(first_text[k]), int(count[k])
        mood = float(weighted[k] / weights[k]) if n_recent[k] else None
        trend = None
        if n_recent[k] and n_before[k]:
            change = float(recent_sum[k] / n_recent[k] - before_sum[k] / n_before[k])
            trend = ("improving" if change >= TREND_THRESHOLD else "worsening" if change <= -TREND_THRESHOLD
                     else "stable")
        label = mood_label(mood)
        needs = interests[k]
        rows = range(first, first + n)
        out[cid] = SentimentFinding(
            evidence=source[first:first + n].tolist(),
            tools_called=TOOLS_CALLED,
            texts_considered=n,
            social_posts_used=int(is_post[first:first + n].sum()),
            social_consent=consent_social.get(cid, False),
            mood=None if mood is None else round(mood, 3),
            mood_label=label,
            mood_trend=trend,
            open_complaints=int(open_complaints[k]),
            churn_risk=_churn_risk(bool(churn_intent[k]), int(open_complaints[k]), label, trend),
            intents=detected[k],
            goals=[t for t in needs if t in GOAL_TAGS],
            product_interests=needs,
            vulnerability_signals=[f"{kind} mentioned ({', '.join(ids[-3:])})" for kind, ids in signals[k].items()],
            recent=[
                ScoredText(source_id=source[i], date=date.fromordinal(719163 + int(days[i])), channel=channel[i],
                           sentiment=float(clipped[i]), intent=str(intent[i]),
                           intent_confidence=float(confidence[i]), excerpt=excerpt(bodies[i]))
                for i in list(reversed(rows))[:RECENT_TEXTS]
            ],
            injection_attempts=[source[i] for i in rows if injected[i]],
        )
    return out


@dataclass
class _CustomerJob:
    """What the per-customer step reads; shared with worker processes by fork."""

    customers: list[dict]  # profile columns, one record per customer
    ledgers: _SortedTransactions
    position: np.ndarray
    voices: dict[str, SentimentFinding] | None  # customers with texts in the window
    segmenter: Any
    as_of: date

    def rows(self, indices: np.ndarray) -> tuple[list[dict], list[tuple[str, OverspendingAlert]]]:
        """Feature rows (spending and voice columns) and overspending alerts of these customers."""
        rows, alerts = [], []
        unavailable = SpendingFinding(available=False, missing_reason="no transactions")
        streams = self.ledgers.streams(self.position[indices], self.as_of)
        for i in indices.tolist():
            customer = self.customers[i]
            cid = customer["customer_id"]
            income = float(customer["annual_income"])
            spending = unavailable
            if self.position[i] >= 0:
                hint = income / 12.0 if income else None
                k = self.position[i]
                spending, found = _spending_finding(self.ledgers.ledger(k, self.as_of), streams[k], hint,
                                                    self.segmenter)
                alerts += [(cid, alert) for alert in found]
            age = float(customer["age"])
            profile = CustomerProfile.model_construct(
                customer_id=cid, annual_income=income, tenure_months=int(customer["tenure_months"]),
                consent_marketing=bool(customer["consent_marketing"]),
                consent_social=bool(customer["consent_social"]), age=None if np.isnan(age) else int(age),
            )
            voice = self.voices.get(cid) if self.voices is not None else None
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
    step (recurring payments by batch of customers, overspending alerts, budget, segment, feature
    rows) in that many forked processes; the texts' sentiment and intent are then scored side by side."""
    profiles = book_profiles(tables.customers, as_of)
    people = pd.Index(profiles["customer_id"], name="customer_id")
    holdings = book_holdings(tables.accounts, kb, people)
    credit = book_credit(tables, models.risk_model, as_of)
    voices = (book_voices(tables, dict(zip(profiles["customer_id"], profiles["consent_social"].tolist())), as_of,
                          models.sentiment_scorer, models.intent_classifier, workers) if models.with_voice else None)
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
