"""All transactions of a chunk: drawn by the streams, cleaned, ordered, formatted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from bank.generator import catalog as cat
from bank.generator.anomalies import anomalies
from bank.generator.banking import banking
from bank.generator.batch import Batch, Chunk
from bank.generator.spending import everyday, housing_and_bills, income, life_events, travel
from bank.generator.subscriptions import subscriptions
from bank.generator.window import SECONDS_PER_DAY
from bank.generator.write import cents_to_decimal, coded, prefixed_ids

ANOMALY_LABEL_COLUMNS = (
    "transaction_id",
    "customer_id",
    "account_id",
    "timestamp",
    "kind",
    "amount",
    "merchant",
    "country",
)


def transaction_id_width(customers: int, months: int) -> int:
    return max(8, len(str(customers * months * 80)))


def draw_transactions(chunk: Chunk) -> tuple[Batch, pd.DataFrame]:
    """Transactions ordered by customer and time, and the subscriptions' ground truth."""
    subscription_batches, subscription_labels = subscriptions(chunk)
    batches = (
        income(chunk)
        + housing_and_bills(chunk)
        + everyday(chunk)
        + travel(chunk)
        + life_events(chunk)
        + banking(chunk)
        + subscription_batches
        + anomalies(chunk)
    )
    drawn = Batch.concat(batches)
    opened = chunk.accounts.opened_day_of(drawn.account)
    keep = np.flatnonzero(
        (drawn.day >= np.maximum(opened, 0)) & (drawn.day < chunk.window.n_days) & (drawn.cents != 0)
    )
    seconds = chunk.window.n_days * SECONDS_PER_DAY
    when = drawn.customer[keep] * seconds + drawn.day[keep] * SECONDS_PER_DAY + drawn.second[keep]
    return drawn.take(keep[np.argsort(when, kind="stable")]), subscription_labels


def transactions_table(batch: Batch, chunk: Chunk, first_id: int, width: int) -> pa.Table:
    m, places, accounts = chunk.merchants, chunk.places, chunk.accounts
    n = len(batch)
    country = np.where(batch.city > 0, places.city_country[batch.city], m.country[batch.merchant])
    return pa.table(
        {
            "transaction_id": prefixed_ids("T-", first_id + np.arange(n), width),
            "account_id": coded(
                np.searchsorted(accounts.number, batch.account), accounts.table["account_id"].tolist()
            ),
            "customer_id": coded(batch.customer, list(chunk.people.customer_id)),
            "timestamp": chunk.window.timestamps(batch.day, batch.second),
            "amount": cents_to_decimal(batch.cents),
            "currency": coded(np.zeros(n, np.int32), [cat.CURRENCY]),
            "merchant": coded(batch.merchant, m.names),
            "category": coded(m.category[batch.merchant], cat.CATEGORIES),
            "mcc": coded(m.mcc_code[batch.merchant], m.mcc_values),
            "channel": coded(batch.channel, cat.CHANNELS),
            "city": coded(batch.city, places.cities),
            "country": coded(country, places.countries),
        }
    )


def anomaly_labels(batch: Batch, table: pa.Table) -> pd.DataFrame:
    """The injected suspicious transactions of a formatted chunk."""
    flagged = np.flatnonzero(batch.anomaly >= 0)
    rows = (
        table.take(pa.array(flagged))
        .select(["transaction_id", "customer_id", "account_id", "timestamp", "amount", "merchant", "country"])
        .to_pandas()
    )
    rows["kind"] = np.array(cat.ANOMALY_KINDS, dtype=object)[batch.anomaly[flagged]]
    rows["amount"] = batch.cents[flagged] / 100.0
    for column in ("customer_id", "merchant", "country"):
        rows[column] = rows[column].astype(str)
    return rows[list(ANOMALY_LABEL_COLUMNS)]
