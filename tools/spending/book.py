"""What the whole book says about merchants: how many customers pay them and how much.

Judging one customer's payment needs two references: the customer's own history and
everyone else's. A EUR 1,500 payment is unusual for a customer who never spends over
EUR 200, but ordinary at a car dealer; a first payment to a merchant that hardly any
customer of the bank pays is a classic sign of card-not-present fraud.

The usual amount of a payment is the 95th percentile of the book's payments to the
same merchant, or, where the book holds fewer than ``MIN_CHARGES_FOR_PROFILE`` of
those, to the same merchant category code, or else to the same category.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tools.spending.ledger import factorised_text

MIN_CHARGES_FOR_PROFILE = 20
RARE_MERCHANT_MIN_CUSTOMERS = 3
RARE_MERCHANT_SHARE = 0.001
PROFILE_LEVELS = ("merchant", "mcc", "category")


@dataclass
class Profiles:
    """Per key (sorted): customers paying it, number of payments and their 95th percentile."""

    keys: np.ndarray
    reach: np.ndarray
    charges: np.ndarray
    p95: np.ndarray

    @classmethod
    def of(cls, codes: np.ndarray, names: np.ndarray, customers: np.ndarray, spend: np.ndarray) -> "Profiles":
        """From parallel arrays of key codes (into ``names``; empty names left out), customer
        codes and amounts, all vectorised."""
        keep = names[codes] != ""
        codes, customers, spend = codes[keep], customers[keep], spend[keep]
        n_keys = len(names)
        charges = np.bincount(codes, minlength=n_keys)
        pairs = np.unique(codes.astype(np.int64) * (int(customers.max(initial=0)) + 1) + customers)
        reach = np.bincount(pairs // (int(customers.max(initial=0)) + 1), minlength=n_keys)
        order = np.lexsort((spend, codes))
        ordered = spend[order]
        starts = np.concatenate([[0], np.cumsum(charges)[:-1]])
        position = 0.95 * np.maximum(charges - 1, 0)
        low = starts + np.floor(position).astype(np.int64)
        high = starts + np.ceil(position).astype(np.int64)
        present = charges > 0
        p95 = np.full(n_keys, np.nan)
        below, above = ordered[low[present]], ordered[high[present]]
        p95[present] = below + (position[present] % 1) * (above - below)
        return cls(names[present], reach[present], charges[present], p95[present])

    def find(self, names: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position, known) of each name."""
        if not len(self.keys):
            return np.zeros(len(names), int), np.zeros(len(names), bool)
        position = np.clip(np.searchsorted(self.keys, names), 0, len(self.keys) - 1)
        return position, self.keys[position] == names


@dataclass
class BookReference:
    customers: int
    levels: dict[str, Profiles]

    @property
    def rare_reach(self) -> int:
        """A merchant paid by at most this many customers is rare in the book."""
        return max(RARE_MERCHANT_MIN_CUSTOMERS, math.ceil(RARE_MERCHANT_SHARE * self.customers))

    def merchant_reach(self, merchants: np.ndarray) -> np.ndarray:
        """Customers of the book paying each merchant (0 for merchants it does not know)."""
        profiles = self.levels["merchant"]
        position, known = profiles.find(np.asarray(merchants, dtype=object))
        if not len(profiles.keys):
            return np.zeros(len(merchants), int)
        return np.where(known, profiles.reach[position], 0)

    def usual_amount(self, merchants: np.ndarray, mccs: np.ndarray, categories: np.ndarray) -> np.ndarray:
        """The book's 95th percentile payment at the most specific level with enough payments (NaN if none)."""
        usual = np.full(len(merchants), np.nan)
        for level, names in zip(PROFILE_LEVELS, (merchants, mccs, categories)):
            profiles = self.levels[level]
            if not len(profiles.keys):
                continue
            position, known = profiles.find(np.asarray(names, dtype=object))
            enough = known & (profiles.charges[position] >= MIN_CHARGES_FOR_PROFILE) & np.isnan(usual)
            usual[enough] = profiles.p95[position[enough]]
        return usual


def build_book_reference(transactions: pd.DataFrame) -> BookReference:
    """From the whole transactions table (customer_id, amount, merchant, and mcc and category
    where present): money-out rows only."""
    amount = pd.to_numeric(transactions["amount"], errors="coerce").to_numpy(dtype=np.float64)
    customers, _ = pd.factorize(transactions["customer_id"])
    keep = (amount < 0) & (customers >= 0)
    levels = {}
    for level in PROFILE_LEVELS:
        if level in transactions:
            codes, names = factorised_text(transactions[level], lower=level == "category")
        else:
            codes, names = np.zeros(len(transactions), np.int64), np.array([""], dtype=object)
        levels[level] = Profiles.of(codes[keep], names, customers[keep], -amount[keep])
    return BookReference(customers=int(transactions["customer_id"].nunique()), levels=levels)
