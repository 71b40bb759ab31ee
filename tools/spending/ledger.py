"""A customer's transactions made ready for analysis: parsed, sorted, classified, as arrays.

Per-customer analysis must take milliseconds, so the ledger holds plain numpy arrays
(one entry per transaction, in time order) and the month x category spend matrix;
the tools index these arrays instead of going through pandas for every step.

Category vocabulary (the contract's ``category`` column, compared in lower case):

* non-spend: money moving between the customer's own pots or repaying a card
  (``income``, ``transfers``, ``card_payment``); never counted as spend.
* essential: housing, debt service and the bills of daily life.
* discretionary: every other category that takes money out.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date
from functools import cached_property

import numpy as np
import pandas as pd

NON_SPEND_CATEGORIES = frozenset({"income", "transfers", "transfer", "card_payment"})
INCOME_CATEGORIES = frozenset({"income"})
HOUSING_AND_DEBT_CATEGORIES = frozenset({"rent", "mortgage_payment", "loan_payment"})
ESSENTIAL_CATEGORIES = HOUSING_AND_DEBT_CATEGORIES | frozenset(
    {"groceries", "utilities", "telecom", "insurance", "health", "education", "transport", "fuel"}
)
# Bills and debt service recur but are not subscriptions a customer could cancel on a whim.
NON_SUBSCRIPTION_CATEGORIES = NON_SPEND_CATEGORIES | HOUSING_AND_DEBT_CATEGORIES | frozenset(
    {"utilities", "telecom", "insurance", "education", "fees"}
)
# Categories a bank uses for subscription services: a single charge there is a subscription.
SUBSCRIPTION_SERVICE_CATEGORIES = frozenset({"subscriptions", "subscription", "digital_subscriptions"})
UNCATEGORISED = "uncategorised"
WINDOW_MONTHS = 12
CUSTOMER_INITIATED_CHANNELS = frozenset(
    {"card_present", "online", "atm", "contactless", "card", "pos", "ecommerce"}
)
CARD_CHANNELS = frozenset({"card_present", "online", "contactless", "card", "pos", "ecommerce"})
IN_PERSON_CHANNELS = frozenset({"card_present", "atm", "contactless", "pos"})
TEXT_COLUMNS = ("transaction_id", "account_id", "merchant", "mcc", "category", "channel", "city", "country")
SECONDS_PER_DAY = 86_400


def month_number(day: date) -> int:
    """Months since year 0: consecutive months are consecutive integers."""
    return day.year * 12 + day.month - 1


def month_key(number: int) -> str:
    return f"{number // 12:04d}-{number % 12 + 1:02d}"


def month_first_day(number: int) -> date:
    return date(number // 12, number % 12 + 1, 1)


def window_start(as_of: date, months: int = WINDOW_MONTHS) -> date:
    """First day of the window of ``months`` calendar months ending with ``as_of``'s month."""
    return month_first_day(month_number(as_of) - (months - 1))


def _other_text(value: object) -> str:
    return "" if value is None or pd.isna(value) else str(value).strip()


def _text(values: pd.Series | None, size: int, lower: bool = False, fallback: str = "") -> np.ndarray:
    if values is None:
        return np.full(size, fallback, dtype=object)
    texts = [v.strip() if isinstance(v, str) else _other_text(v) for v in values.tolist()]
    if lower:
        texts = [t.lower() for t in texts]
    out = np.array(texts, dtype=object)
    if fallback:
        out[out == ""] = fallback
    return out


def _timestamps(values: pd.Series) -> np.ndarray:
    """datetime64[s] (naive; aware times converted to UTC), NaT where unparseable."""
    if not pd.api.types.is_datetime64_any_dtype(values):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                return np.array(values.tolist(), dtype="datetime64[s]")
            except (ValueError, TypeError, DeprecationWarning, UserWarning):
                pass
    parsed = pd.to_datetime(values, errors="coerce", format="ISO8601", utc=True).dt.tz_localize(None)
    return parsed.to_numpy(dtype="datetime64[s]")


@dataclass(frozen=True, eq=False)
class Ledger:
    """Transactions up to ``as_of`` as arrays in time order; ``in_window`` marks the last
    ``months`` calendar months."""

    as_of: date
    months: int
    transaction_id: np.ndarray
    account_id: np.ndarray
    merchant: np.ndarray
    mcc: np.ndarray
    category: np.ndarray
    channel: np.ndarray
    city: np.ndarray
    country: np.ndarray
    timestamp: np.ndarray  # datetime64[s]
    amount: np.ndarray

    @classmethod
    def build(cls, transactions: pd.DataFrame, as_of: date, months: int = WINDOW_MONTHS) -> "Ledger":
        size = len(transactions)
        timestamp = (_timestamps(transactions["timestamp"]) if "timestamp" in transactions
                     else np.full(size, "NaT", "datetime64[s]"))
        amount = (pd.to_numeric(transactions["amount"], errors="coerce").to_numpy(dtype="float64")
                  if "amount" in transactions else np.full(size, np.nan))
        end = np.datetime64(as_of, "D") + np.timedelta64(1, "D")
        keep = ~np.isnat(timestamp) & np.isfinite(amount) & (timestamp < end)
        order = np.flatnonzero(keep)[np.argsort(timestamp[keep], kind="stable")]
        texts = {
            column: _text(transactions[column] if column in transactions else None, size,
                          lower=column in ("category", "channel"),
                          fallback=UNCATEGORISED if column == "category" else "")[order]
            for column in TEXT_COLUMNS
        }
        return cls(as_of=as_of, months=months, timestamp=timestamp[order], amount=amount[order], **texts)

    def __len__(self) -> int:
        return len(self.amount)

    # --- time ------------------------------------------------------------------------
    @cached_property
    def seconds(self) -> np.ndarray:
        return self.timestamp.astype(np.int64)

    @cached_property
    def day(self) -> np.ndarray:
        """Days since 1970-01-01."""
        return self.seconds // SECONDS_PER_DAY

    @cached_property
    def month(self) -> np.ndarray:
        """``month_number`` of each transaction."""
        months = self.timestamp.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
        return months + 1970 * 12

    @cached_property
    def hour(self) -> np.ndarray:
        return (self.seconds % SECONDS_PER_DAY) // 3600

    @cached_property
    def start(self) -> date:
        return window_start(self.as_of, self.months)

    @cached_property
    def in_window(self) -> np.ndarray:
        return self.timestamp >= np.datetime64(self.start, "s")

    @cached_property
    def last_full_month(self) -> int:
        """The last calendar month that ``as_of`` has completed."""
        current = month_number(self.as_of)
        tomorrow = pd.Timestamp(self.as_of) + pd.Timedelta(days=1)
        return current if tomorrow.month != self.as_of.month else current - 1

    @cached_property
    def months_index(self) -> np.ndarray:
        """Months of the window from the customer's first transaction in it to ``as_of``'s month."""
        if not self.in_window.any():
            return np.array([], dtype=np.int64)
        first = max(int(self.month[self.in_window].min()), month_number(self.start))
        return np.arange(first, month_number(self.as_of) + 1, dtype=np.int64)

    @cached_property
    def full_months(self) -> np.ndarray:
        return self.months_index[self.months_index <= self.last_full_month]

    @cached_property
    def months_covered(self) -> int:
        return len(self.months_index)

    # --- money -------------------------------------------------------------------------
    @cached_property
    def is_spend(self) -> np.ndarray:
        """Money out that counts as spend, inside the window."""
        non_spend = np.isin(self.category, list(NON_SPEND_CATEGORIES))
        return (self.amount < 0) & ~non_spend & self.in_window

    @cached_property
    def spend(self) -> np.ndarray:
        return np.where(self.is_spend, -self.amount, 0.0)

    @cached_property
    def spend_categories(self) -> np.ndarray:
        """Sorted names of the categories with spend in the window."""
        return np.unique(self.category[self.is_spend]).astype(object)

    @cached_property
    def monthly_spend(self) -> np.ndarray:
        """(months_index x spend_categories) spend, zeros filled."""
        rows = np.flatnonzero(self.is_spend)
        n_months, n_categories = len(self.months_index), len(self.spend_categories)
        if not n_months or not len(rows):
            return np.zeros((n_months, n_categories))
        month_position = self.month[rows] - self.months_index[0]
        category_position = np.searchsorted(self.spend_categories, self.category[rows])
        flat = np.bincount(month_position * n_categories + category_position, weights=self.spend[rows],
                           minlength=n_months * n_categories)
        return flat.reshape(n_months, n_categories)

    def spend_in(self, months: np.ndarray) -> np.ndarray:
        """Rows of ``monthly_spend`` for the given month numbers (zeros for months outside)."""
        positions = months - (self.months_index[0] if len(self.months_index) else 0)
        table = np.zeros((len(months), len(self.spend_categories)))
        inside = (positions >= 0) & (positions < len(self.months_index))
        table[inside] = self.monthly_spend[positions[inside]]
        return table

    @cached_property
    def averaging_months(self) -> np.ndarray:
        """The full months of the window (all months when none is full yet)."""
        return self.full_months if len(self.full_months) else self.months_index

    @cached_property
    def monthly_averages(self) -> dict[str, float]:
        """Average monthly spend per category over ``averaging_months``."""
        if not len(self.averaging_months):
            return {}
        means = self.spend_in(self.averaging_months).mean(axis=0)
        return {str(c): float(v) for c, v in zip(self.spend_categories, means)}


def factorised_text(values: pd.Series, lower: bool = False, fallback: str = "") -> tuple[np.ndarray, np.ndarray]:
    """(codes, names) of a text column of a whole table: the cleaning (strip, lower case, empty
    to ``fallback``) runs once per distinct value, so it costs little on millions of rows.
    Equal cleaned values share a code; ``names[codes]`` gives the cleaned column."""
    raw_codes, uniques = pd.factorize(values, use_na_sentinel=True)
    cleaned = [u.strip() if isinstance(u, str) else _other_text(u) for u in uniques]
    cleaned = [(c.lower() if lower else c) or fallback for c in cleaned] + [fallback]
    names, remap = np.unique(np.array(cleaned, dtype=object), return_inverse=True)
    return remap[raw_codes], names  # NA rows (code -1) take the last entry: the fallback


def evidence_ids(transaction_ids: np.ndarray | list[str], limit: int | None = None) -> list[str]:
    ids = [f"txn:{t}" for t in list(transaction_ids) if t]
    return ids if limit is None else ids[:limit]
