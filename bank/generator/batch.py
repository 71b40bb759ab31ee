"""Columns of drawn transactions as integer-coded numpy arrays, and helpers to draw them."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from bank.generator import catalog as cat
from bank.generator.accounts import Accounts
from bank.generator.merchants import Merchants, Places, merchants, places
from bank.generator.people import People
from bank.generator.window import Window

NO_ANOMALY = -1

# Relative weight of each hour of the day; nothing ordinary happens between 00:00 and 06:00.
_HOURS = np.arange(24)
HOUR_PROFILES = {
    "shop": np.where((_HOURS >= 8) & (_HOURS <= 21), 1.0 + ((_HOURS >= 12) & (_HOURS <= 18)), 0.0),
    "dining": np.select(
        [
            (_HOURS >= 7) & (_HOURS <= 9),
            (_HOURS >= 12) & (_HOURS <= 14),
            (_HOURS >= 18) & (_HOURS <= 22),
            (_HOURS >= 10) & (_HOURS <= 23),
        ],
        [1.5, 3.0, 3.5, 0.6],
        0.0,
    ),
    "evening": np.where((_HOURS >= 7) & (_HOURS <= 23), 1.0 + 1.5 * ((_HOURS >= 19) & (_HOURS <= 22)), 0.0),
    "commute": np.select(
        [(_HOURS >= 7) & (_HOURS <= 9), (_HOURS >= 16) & (_HOURS <= 19), (_HOURS >= 6) & (_HOURS <= 23)],
        [3.0, 3.0, 0.7],
        0.0,
    ),
    "bank": np.where((_HOURS >= 6) & (_HOURS <= 9), 1.0, 0.0),
    "day": np.where((_HOURS >= 9) & (_HOURS <= 17), 1.0, 0.0),
}


@dataclass
class Batch:
    customer: np.ndarray  # position in the chunk
    account: np.ndarray  # account number
    day: np.ndarray
    second: np.ndarray
    cents: np.ndarray  # signed amount in cents; negative = money out
    merchant: np.ndarray
    channel: np.ndarray
    city: np.ndarray  # 0 = no city (card not present)
    anomaly: np.ndarray  # anomaly kind code or NO_ANOMALY

    def __len__(self) -> int:
        return len(self.customer)

    @staticmethod
    def concat(batches: list[Batch]) -> Batch:
        names = [f.name for f in fields(Batch)]
        return Batch(**{name: np.concatenate([getattr(b, name) for b in batches]) for name in names})

    def take(self, index: np.ndarray) -> Batch:
        return Batch(**{f.name: getattr(self, f.name)[index] for f in fields(Batch)})


@dataclass
class Chunk:
    """Everything the transaction streams of one chunk of customers need."""

    seed: int
    index: int
    people: People
    accounts: Accounts
    window: Window

    @property
    def merchants(self) -> Merchants:
        return merchants()

    @property
    def places(self) -> Places:
        return places()

    @property
    def home_city(self) -> np.ndarray:
        return self.places.home_start + self.people.town.astype(np.int64)


def make_batch(
    chunk: Chunk,
    customer: np.ndarray,
    account: np.ndarray,
    day: np.ndarray,
    second: np.ndarray,
    amount: np.ndarray,
    merchant: np.ndarray,
    channel: np.ndarray | int,
    city: np.ndarray | int = 0,
    anomaly: np.ndarray | int = NO_ANOMALY,
) -> Batch:
    n = len(customer)
    return Batch(
        customer=customer.astype(np.int64),
        account=np.asarray(account, np.int64),
        day=day.astype(np.int64),
        second=second.astype(np.int64),
        cents=np.round(np.asarray(amount) * 100).astype(np.int64),
        merchant=np.broadcast_to(merchant, n).astype(np.int32),
        channel=np.broadcast_to(channel, n).astype(np.int8),
        city=np.broadcast_to(city, n).astype(np.int16),
        anomaly=np.broadcast_to(anomaly, n).astype(np.int8),
    )


def seconds_of_day(rng: np.random.Generator, n: int, profile: str) -> np.ndarray:
    weights = HOUR_PROFILES[profile]
    hour = rng.choice(24, size=n, p=weights / weights.sum())
    return hour * 3600 + rng.integers(0, 3600, n)


def monthly_events(
    rng: np.random.Generator, rates: np.ndarray, window: Window
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson counts per (customer, month) turned into (customer, month, day) of each event."""
    counts = rng.poisson(np.maximum(rates, 0.0))
    cell = np.repeat(np.arange(counts.size), counts.ravel())
    customer, month = np.divmod(cell, rates.shape[1])
    day = window.month_start[month] + (rng.random(len(cell)) * window.month_days[month]).astype(np.int64)
    return customer, month, day


def day_in_month(window: Window, month: np.ndarray, day_of_month: np.ndarray) -> np.ndarray:
    """Day offset of a day of the month (1-based), clipped to the month; may exceed the window end."""
    return window.month_start[month] + np.clip(day_of_month, 1, window.month_length[month]) - 1


def favourites(rng: np.random.Generator, n: int, pool: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """(customers, k) favourite merchant codes drawn by popularity."""
    return pool[rng.choice(len(pool), size=(n, k), p=weights)]


def choose_merchant(
    rng: np.random.Generator,
    customer: np.ndarray,
    favourite: np.ndarray,
    pool: np.ndarray,
    weights: np.ndarray,
    explore: float = 0.12,
) -> np.ndarray:
    k = favourite.shape[1]
    rank_weights = 0.55 ** np.arange(k)
    slot = rng.choice(k, size=len(customer), p=rank_weights / rank_weights.sum())
    chosen = favourite[customer, slot]
    wander = rng.random(len(customer)) < explore
    chosen[wander] = pool[rng.choice(len(pool), size=int(wander.sum()), p=weights)]
    return chosen


def card_channel(rng: np.random.Generator, chunk: Chunk, merchant: np.ndarray) -> np.ndarray:
    online = rng.random(len(merchant)) < chunk.merchants.online_share[merchant]
    return np.where(online, cat.CHANNEL_CODE["online"], cat.CHANNEL_CODE["card_present"]).astype(np.int8)


def spending_account(rng: np.random.Generator, chunk: Chunk, customer: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Debit card (checking account) or credit card, by the customer's habit."""
    h = chunk.accounts.holdings
    on_card = (
        (h.card[customer] >= 0)
        & (day >= h.card_open_day[customer])
        & (rng.random(len(customer)) < h.card_share[customer])
    )
    return np.where(on_card, h.card[customer], h.checking[customer])


def present_city(rng: np.random.Generator, chunk: Chunk, customer: np.ndarray, channel: np.ndarray) -> np.ndarray:
    """Home town for card-present payments (sometimes another Irish town), none online."""
    p = chunk.places
    city = chunk.home_city[customer]
    elsewhere = rng.random(len(customer)) < 0.05
    city = np.where(elsewhere, p.home_start + rng.integers(0, p.home_count, len(customer)), city)
    present = (channel == cat.CHANNEL_CODE["card_present"]) | (channel == cat.CHANNEL_CODE["atm"])
    return np.where(present, city, 0)
