"""Spending segments: k-means over the book's category-share vectors.

Each customer is a vector of spend shares per category (summing to 1), housing and
debt service left out: rent or a mortgage says where someone lives, not how they
spend. The clusters are fitted on the square roots of the shares (Hellinger geometry: a
2-point move in a small category counts more than in a large one). A cluster is named
after a theme (``SEGMENT_THEMES``: a name and its categories): each cluster gets a
different theme, chosen so that the centres' shares lie as far as possible above the
book's average in their themes' categories. Rewards per segment come from ``SEGMENT_REWARDS``.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping

import numpy as np
import pandas as pd

from tools.spending.book import BookReference, build_book_reference
from tools.spending.ledger import HOUSING_AND_DEBT_CATEGORIES, NON_SPEND_CATEGORIES, UNCATEGORISED, factorised_text

if TYPE_CHECKING:
    from advisor.settings import Settings
    from bank.store import BankStore

SEGMENTER_FILE = "spending_segmenter.joblib"
SEGMENTER_VERSION = 3
DEFAULT_CLUSTERS = 7
RANDOM_STATE = 42
MIN_TOTAL_SPEND = 1.0

# What a cluster leaning towards these categories is called.
SEGMENT_THEMES: dict[str, tuple[str, ...]] = {
    "Frequent traveller": ("travel",),
    "Foodie & dining": ("dining",),
    "Digital subscriber": ("subscriptions", "entertainment"),
    "Family essentials": ("groceries", "health"),
    "Student & learner": ("education",),
    "Commuter": ("transport",),
    "Motorist": ("fuel",),
    "Shopper": ("shopping",),
    "Budget-conscious": ("utilities", "telecom", "insurance", "fees"),
    "Cash user": ("cash",),
    "Gaming & betting": ("gambling",),
}
FALLBACK_NAME = "Everyday spender"

SEGMENT_REWARDS: dict[str, list[str]] = {
    "Frequent traveller": ["CC-TRAVEL: miles on spend abroad, airlines and hotels, lounge passes",
                           "CHK-PLUS: worldwide travel insurance, fee-free card use abroad"],
    "Foodie & dining": ["CC-CASHBACK: 1% cashback on restaurants and takeaways"],
    "Digital subscriber": ["CC-CASHBACK: 1% cashback on recurring online subscriptions",
                           "Subscription review: spot duplicate and overlapping services"],
    "Entertainment seeker": ["CC-CASHBACK: 1% cashback on tickets and entertainment"],
    "Family essentials": ["CC-CASHBACK: 3% cashback on supermarket spend for the first 3 months",
                          "SAV-GOAL: a goal saver for family costs"],
    "Student & learner": ["CHK-ESSENTIAL: fee-free everyday banking", "SAV-EASY: a first savings buffer"],
    "Commuter": ["CC-CASHBACK: 1% cashback on travel passes and taxis"],
    "Motorist": ["CC-CASHBACK: 3% cashback on fuel for the first 3 months, 1% after",
                 "AUTO-USED / AUTO-NEW: car finance when the car is due for a change"],
    "Shopper": ["CC-CASHBACK: 1% cashback on all eligible purchases",
                "CC-PREMIUM: purchase protection up to EUR 2,500 per item"],
    "Budget-conscious": ["SAV-EASY: easy-access savings for a buffer",
                         "SAV-GOAL: fixed rate for a regular monthly saving"],
    "Cash user": ["CHK-ESSENTIAL: fee-free everyday account with card payments"],
    "Gaming & betting": [],
    FALLBACK_NAME: ["CC-CASHBACK: 1% cashback on everyday purchases"],
}


def book_category_shares(transactions: pd.DataFrame, exclude: Iterable[str] = ()) -> pd.DataFrame:
    """Customer x category share of spend (rows sum to 1) over the whole frame given
    (customer_id, amount, category), vectorised: a million rows take about a second.

    Spend is money out outside the non-spend categories; ``exclude`` leaves further
    categories out. Customers without spend are left out; columns are sorted names.
    """
    amount = pd.to_numeric(transactions["amount"], errors="coerce").to_numpy(dtype=np.float64)
    category_codes, categories = factorised_text(transactions["category"], lower=True, fallback=UNCATEGORISED)
    customer_codes, customers = pd.factorize(transactions["customer_id"])
    left_out = np.isin(categories, [*NON_SPEND_CATEGORIES, *exclude])
    keep = (amount < 0) & ~left_out[category_codes] & (customer_codes >= 0)
    if not keep.any():
        return pd.DataFrame(dtype="float64")
    totals = np.bincount(customer_codes[keep] * len(categories) + category_codes[keep], weights=-amount[keep],
                         minlength=len(customers) * len(categories)).reshape(len(customers), len(categories))
    used = (totals > 0).any(axis=0) & ~left_out
    totals = totals[:, used]
    sums = totals.sum(axis=1)
    spenders = sums >= MIN_TOTAL_SPEND
    shares = totals[spenders] / sums[spenders, None]
    return pd.DataFrame(shares, index=pd.Index(np.asarray(customers)[spenders], name="customer_id"),
                        columns=pd.Index([str(c) for c in categories[used]], name="category"))


@dataclass
class Segmenter:
    """Cluster centres (square-root share space) with readable names and rewards, and the
    book's merchant profiles (``book``) learnt from the same transactions."""

    categories: list[str]
    centres: np.ndarray
    names: list[str]
    rewards: dict[str, list[str]]
    dominant: list[list[str]]
    sizes: list[int]
    trained_on: int
    trained_at: str
    book: BookReference | None = None
    version: int = SEGMENTER_VERSION
    metadata: dict[str, float] = field(default_factory=dict)

    def vector(self, shares: Mapping[str, float] | pd.Series) -> np.ndarray:
        """Square roots of the shares over the model's categories, renormalised (others dropped)."""
        given = dict(shares)
        values = np.array([max(float(given.get(c, 0.0)), 0.0) for c in self.categories])
        values = np.nan_to_num(values)
        total = float(values.sum())
        return np.sqrt(values / total) if total > 0 else values

    def assign(self, shares: Mapping[str, float] | pd.Series) -> tuple[int, str]:
        """(segment id, segment name) of the nearest centre."""
        distances = ((self.centres - self.vector(shares)) ** 2).sum(axis=1)
        segment = int(np.argmin(distances))
        return segment, self.names[segment]

    def assign_many(self, shares: pd.DataFrame) -> pd.Series:
        """Segment id per row of a customer x category share frame."""
        matrix = np.sqrt(shares.reindex(columns=self.categories).fillna(0.0).clip(lower=0.0).to_numpy())
        distances = ((matrix[:, None, :] - self.centres[None, :, :]) ** 2).sum(axis=2)
        return pd.Series(distances.argmin(axis=1), index=shares.index, name="segment_id")

    def rewards_for(self, segment_id: int) -> list[str]:
        return list(self.rewards.get(self.names[segment_id], []))

    def save(self, path: Path) -> Path:
        """Write atomically: a reader never sees half a file, even with two trainers at once."""
        import os
        import tempfile

        import joblib

        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(handle)
        try:
            joblib.dump(self, temporary)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
        return path

    @staticmethod
    def load(path: Path) -> "Segmenter":
        import joblib

        segmenter = joblib.load(path)
        if not isinstance(segmenter, Segmenter) or segmenter.version != SEGMENTER_VERSION:
            raise ValueError(f"{path} does not hold a version-{SEGMENTER_VERSION} spending segmenter")
        return segmenter


def _name_clusters(centre_shares: np.ndarray, categories: list[str],
                   book_mean: np.ndarray) -> tuple[list[str], list[list[str]]]:
    """One theme per cluster, chosen so that the clusters together lean as hard as possible
    towards their themes (an assignment problem); a cluster leaning towards no free theme
    gets the fallback name."""
    from scipy.optimize import linear_sum_assignment

    excess = centre_shares - book_mean  # share points above the book's average
    themes = list(SEGMENT_THEMES)
    membership = np.array([[c in SEGMENT_THEMES[t] for t in themes] for c in categories], dtype=float)
    theme_excess = excess @ membership
    names: list[str] = [""] * len(excess)
    clusters, chosen = linear_sum_assignment(-theme_excess)
    for i, t in zip(clusters, chosen):
        if theme_excess[i, t] > 0:
            names[i] = themes[t]
    fallbacks = 0
    for i, name in enumerate(names):
        if not name:
            fallbacks += 1
            names[i] = FALLBACK_NAME if fallbacks == 1 else f"{FALLBACK_NAME} {fallbacks}"
    dominant = [[categories[j] for j in np.argsort(-excess[i], kind="stable")[:3] if excess[i, j] > 0]
                for i in range(len(excess))]
    return names, dominant


def train_segmenter(transactions: pd.DataFrame, clusters: int = DEFAULT_CLUSTERS,
                    random_state: int = RANDOM_STATE) -> Segmenter:
    """Fit k-means on the book's category shares (``transactions`` = the whole table:
    customer_id, amount, category, and merchant and mcc for the book's merchant profiles)."""
    from sklearn.cluster import KMeans

    shares = book_category_shares(transactions, exclude=HOUSING_AND_DEBT_CATEGORIES)
    distinct = len(np.unique(shares.to_numpy().round(6), axis=0)) if len(shares) else 0
    if distinct < 2:
        raise ValueError(f"need customers with at least two different spending patterns to train, got {distinct}")
    clusters = min(clusters, distinct)
    matrix = np.sqrt(shares.to_numpy())
    model = KMeans(n_clusters=clusters, n_init=10, random_state=random_state).fit(matrix)
    labels = model.labels_
    categories = list(shares.columns)
    centre_shares = np.vstack([shares.to_numpy()[labels == k].mean(axis=0) for k in range(clusters)])
    names, dominant = _name_clusters(centre_shares, categories, shares.to_numpy().mean(axis=0))
    return Segmenter(
        categories=categories,
        centres=model.cluster_centers_,
        names=names,
        rewards={name: list(SEGMENT_REWARDS.get(name.rstrip(" 0123456789"), [])) for name in names},
        dominant=dominant,
        sizes=np.bincount(labels, minlength=clusters).tolist(),
        trained_on=len(shares),
        trained_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        book=build_book_reference(transactions) if "merchant" in transactions else None,
        metadata={"inertia": float(model.inertia_)},
    )


def segmenter_path(settings: "Settings") -> Path:
    return Path(settings.models_dir) / SEGMENTER_FILE


@lru_cache(maxsize=4)
def _load_cached(path: str, modified_ns: int) -> Segmenter:
    return Segmenter.load(Path(path))


def load_segmenter(path: Path) -> Segmenter:
    """The segmenter at ``path``, loaded once per file version."""
    return _load_cached(str(path), path.stat().st_mtime_ns)


def ensure_segmenter(settings: "Settings", store: "BankStore", retrain: bool = False) -> Segmenter:
    """The saved segmenter, trained from the store's transactions on first use (or when asked)."""
    path = segmenter_path(settings)
    if path.exists() and not retrain:
        try:
            return load_segmenter(path)
        except (ValueError, EOFError, AttributeError, ImportError, TypeError, pickle.UnpicklingError):
            pass  # an older or damaged file: train again
    transactions = store.table("transactions", ["customer_id", "amount", "category", "merchant", "mcc"])
    segmenter = train_segmenter(transactions)
    segmenter.save(path)
    return load_segmenter(path)
