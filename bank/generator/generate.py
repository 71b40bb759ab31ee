"""The generator's entry point: a whole bank, chunk by chunk, into CSV files."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from bank.contract import TABLES
from bank.generator import catalog as cat
from bank.generator.accounts import ACCOUNT_NUMBER_BASE, Accounts, build_accounts, payments_frame
from bank.generator.batch import Chunk
from bank.generator.people import People, customers_frame, sample_people
from bank.generator.streams import sigmoid, stream
from bank.generator.subscriptions import SUBSCRIPTION_LABEL_COLUMNS
from bank.generator.texts import TEXT_LABEL_COLUMNS, Texts, compose_texts
from bank.generator.transactions import (
    ANOMALY_LABEL_COLUMNS,
    anomaly_labels,
    draw_transactions,
    transaction_id_width,
    transactions_table,
)
from bank.generator.window import Window
from bank.generator.write import CsvSink, prefixed_ids

CHUNK_SIZE = 5_000
ACCOUNTS_PER_CHUNK = CHUNK_SIZE * 10  # account numbers reserved per chunk (at most 9 accounts a customer)
DEFAULT_END_DATE = date(2026, 10, 31)
MONEY_COLUMNS = {
    "customers": ("annual_income",),
    "accounts": ("credit_limit", "balance", "apr", "monthly_payment"),
    "payments": ("amount_due", "amount_paid"),
}
TRUTH_COLUMNS = (
    "customer_id",
    "risk_factor",
    "default_probability",
    "default_12m",
    "life_event",
    "life_event_date",
    "segment",
    "trouble_months",
    "in_trouble_at_end",
    "worst_days_late",
    "gambler",
    "has_anomaly",
    "consent_social",
)
LABEL_FILES = {
    "customers_truth": TRUTH_COLUMNS,
    "subscriptions": SUBSCRIPTION_LABEL_COLUMNS,
    "anomalies": ANOMALY_LABEL_COLUMNS,
    "texts": TEXT_LABEL_COLUMNS,
}


class GenerationReport(BaseModel):
    customers: int
    months: int
    seed: int
    start_date: date = Field(description="First day of the history.")
    end_date: date = Field(description="Last day of the history.")
    out_dir: Path
    labels_dir: Path
    rows: dict[str, int] = Field(description="Rows written per table.")
    label_rows: dict[str, int] = Field(description="Rows written per ground-truth file.")
    files: dict[str, Path]
    seconds: float


def _id_width(prefix_floor: int, count: int) -> int:
    return max(prefix_floor, len(str(max(count, 1))))


def generate_bank(
    customers: int,
    months: int,
    seed: int,
    out_dir: Path,
    labels_dir: Path | None = None,
    end_date: date = DEFAULT_END_DATE,
) -> GenerationReport:
    """Write a synthetic bank of ``customers`` with ``months`` of history ending on ``end_date``.

    The same arguments give byte-identical files. Tables go to ``out_dir``; the ground
    truth goes to ``labels_dir`` (default ``out_dir / "labels"``), never into the tables.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if months < 1:
        raise ValueError("months must be at least 1")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    labels_dir = Path(labels_dir) if labels_dir is not None else out_dir / "labels"
    out_dir.mkdir(parents=True, exist_ok=True)
    labels_dir.mkdir(parents=True, exist_ok=True)
    window = Window(end=end_date, months=months)
    tx_width = transaction_id_width(customers, months)
    text_width = _id_width(6, customers * max(months, 12))

    tables = {
        name: CsvSink(
            out_dir / table.file_name, table.column_names, free_text=name in ("interactions", "social_posts")
        )
        for name, table in TABLES.items()
    }
    labels = {
        name: CsvSink(labels_dir / f"{name}.csv", columns, free_text=True) for name, columns in LABEL_FILES.items()
    }
    next_transaction, next_interaction, next_post = 1, 1, 1
    # Arrow writes CSV without holding the GIL: one thread writes a chunk while the next is drawn.
    pending: list[Future] = []
    try:
        with ThreadPoolExecutor(max_workers=1) as writer:
            for index, first in enumerate(range(0, customers, CHUNK_SIZE)):
                count = min(CHUNK_SIZE, customers - first)
                people = sample_people(seed, index, first, count, customers, window)
                accounts = build_accounts(
                    seed, index, people, window, ACCOUNT_NUMBER_BASE + 1 + index * ACCOUNTS_PER_CHUNK
                )
                chunk = Chunk(seed=seed, index=index, people=people, accounts=accounts, window=window)
                transactions, subscription_truth = draw_transactions(chunk)
                texts = compose_texts(chunk, transactions)
                formatted = transactions_table(transactions, chunk, next_transaction, tx_width)
                interactions, posts = _text_frames(texts, people, window, next_interaction, next_post, text_width)
                work = [
                    (tables["customers"].write_frame, customers_frame(people, window), MONEY_COLUMNS["customers"]),
                    (tables["accounts"].write_frame, accounts.table, MONEY_COLUMNS["accounts"]),
                    (tables["transactions"].write, formatted),
                    (
                        tables["payments"].write_frame,
                        payments_frame(accounts, people, window),
                        MONEY_COLUMNS["payments"],
                    ),
                    (tables["interactions"].write_frame, interactions),
                    (tables["social_posts"].write_frame, posts),
                    (
                        labels["customers_truth"].write_frame,
                        _customer_truth(chunk, transactions.anomaly, transactions.customer),
                    ),
                    (labels["subscriptions"].write_frame, subscription_truth, ("amount", "amount_after_rise")),
                    (labels["anomalies"].write_frame, anomaly_labels(transactions, formatted), ("amount",)),
                    (labels["texts"].write_frame, _text_truth(texts, people, interactions, posts)),
                ]
                next_transaction += len(transactions)
                next_interaction += len(interactions)
                next_post += len(posts)
                for done in pending:
                    done.result()
                pending = [writer.submit(job, *arguments) for job, *arguments in work]
            for done in pending:
                done.result()
    finally:
        for sink in (*tables.values(), *labels.values()):
            sink.close()
    return GenerationReport(
        customers=customers,
        months=months,
        seed=seed,
        start_date=window.start,
        end_date=window.end,
        out_dir=out_dir,
        labels_dir=labels_dir,
        rows={name: sink.rows for name, sink in tables.items()},
        label_rows={name: sink.rows for name, sink in labels.items()},
        files={
            **{name: sink.path for name, sink in tables.items()},
            **{f"labels/{n}": s.path for n, s in labels.items()},
        },
        seconds=round(time.perf_counter() - started, 3),
    )


def _text_frames(
    texts: Texts, people: People, window: Window, first_interaction: int, first_post: int, width: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    def frame(rows: pd.DataFrame, id_column: str, prefix: str, first: int, channel_column: str) -> pd.DataFrame:
        numbers = first + np.arange(len(rows))
        day = rows["_day"].to_numpy(np.int64)
        second = rows["_second"].to_numpy(np.int64)
        return pd.DataFrame(
            {
                id_column: np.asarray(prefixed_ids(prefix, numbers, width).to_pylist(), dtype=object),
                "customer_id": people.customer_id[rows["_customer"].to_numpy(np.int64)],
                "timestamp": np.asarray(window.timestamps(day, second).to_pylist(), dtype=object),
                channel_column: rows["channel"].to_numpy(dtype=object),
                "text": rows["text"].to_numpy(dtype=object),
            }
        )

    return (
        frame(texts.interactions, "interaction_id", "I-", first_interaction, "channel"),
        frame(texts.posts, "post_id", "P-", first_post, "platform"),
    )


def _text_truth(texts: Texts, people: People, interactions: pd.DataFrame, posts: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for source, rows, truth, id_column, channel_column in (
        ("interaction", texts.interactions, texts.interaction_labels, "interaction_id", "channel"),
        ("social_post", texts.posts, texts.post_labels, "post_id", "platform"),
    ):
        written = interactions if source == "interaction" else posts
        consent = people.consent_social[rows["_customer"].to_numpy(np.int64)]
        parts.append(
            pd.DataFrame(
                {
                    "text_id": written[id_column].to_numpy(),
                    "source": source,
                    "customer_id": written["customer_id"].to_numpy(),
                    "channel": written[channel_column].to_numpy(),
                    "intent": truth["intent"].to_numpy(dtype=object),
                    "sentiment": truth["sentiment"].to_numpy(dtype=np.float64),
                    "consent_social": consent,
                    "usable": consent if source == "social_post" else np.ones(len(rows), bool),
                    "contains_pii": truth["contains_pii"].to_numpy(dtype=bool),
                    "pii_types": truth["pii_types"].to_numpy(dtype=object),
                    "injection": truth["injection"].to_numpy(dtype=bool),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)[list(TEXT_LABEL_COLUMNS)]


def default_probability(risk: np.ndarray, in_trouble_at_end: np.ndarray) -> np.ndarray:
    """Probability of default within 12 months after the window: logistic in the risk factor."""
    return sigmoid(-2.75 + 1.25 * risk + 1.0 * in_trouble_at_end)


def _segments(people: People, accounts: Accounts) -> np.ndarray:
    troubled = accounts.trouble.any(axis=1)
    rules = [
        ("financially_stretched", troubled | (people.risk > 1.6)),
        ("student", people.employment_before == cat.EMPLOYMENT_STATUSES.index("student")),
        ("retiree", people.employment_before == cat.EMPLOYMENT_STATUSES.index("retired")),
        ("young_family", people.has_children & (people.age < 45)),
        ("traveller", people.travel_affinity > 1.6),
        ("high_earner_saver", (people.salary_income > 75_000) & (people.risk < 0)),
        ("foodie", people.dining_affinity > 1.6),
        ("shopper", people.shopping_affinity > 1.6),
        ("commuter", ~people.has_car_before & (people.region == 0)),
    ]
    segment = np.full(len(people), "everyday_budgeter", dtype=object)
    for name, mask in reversed(rules):
        segment[mask] = name
    return segment


def _customer_truth(chunk: Chunk, anomaly: np.ndarray, tx_customer: np.ndarray) -> pd.DataFrame:
    people, accounts, window = chunk.people, chunk.accounts, chunk.window
    n = len(people)
    at_end = accounts.trouble[:, -1]
    probability = default_probability(people.risk, at_end)
    defaults = stream(chunk.seed, chunk.index, "default").random(n) < probability
    worst = np.zeros(n, np.int64)
    pay = accounts.payments
    np.maximum.at(worst, pay["_owner"].to_numpy(np.int64), pay["days_late"].to_numpy(np.int64))
    has_anomaly = np.zeros(n, bool)
    has_anomaly[tx_customer[anomaly >= 0]] = True
    has_event = people.event >= 0
    return pd.DataFrame(
        {
            "customer_id": people.customer_id,
            "risk_factor": np.round(people.risk, 4),
            "default_probability": np.round(probability, 4),
            "default_12m": defaults.astype(np.int64),
            "life_event": np.where(
                has_event, np.array(cat.LIFE_EVENTS, dtype=object)[np.maximum(people.event, 0)], None
            ),
            "life_event_date": np.where(has_event, window.dates(np.maximum(people.event_day, 0)), None),
            "segment": _segments(people, accounts),
            "trouble_months": accounts.trouble.sum(axis=1),
            "in_trouble_at_end": at_end,
            "worst_days_late": worst,
            "gambler": people.gambler,
            "has_anomaly": has_anomaly,
            "consent_social": people.consent_social,
        }
    )
