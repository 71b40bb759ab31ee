"""Named, reproducible random streams: one per (seed, chunk of customers, purpose).

Each purpose draws from its own generator, so changing how one table is drawn does
not shift the numbers of another, and a chunk's data does not depend on the others.
"""

from __future__ import annotations

import numpy as np

STREAMS = (
    "people",
    "names",
    "events",
    "accounts",
    "payments",
    "income",
    "housing",
    "spending",
    "travel",
    "subscriptions",
    "anomalies",
    "fees",
    "texts",
    "bills",
    "default",
    "purchases",
)


def stream(seed: int, chunk: int, purpose: str) -> np.random.Generator:
    """The generator for one purpose of one chunk; the same arguments give the same numbers."""
    sequence = np.random.SeedSequence(entropy=seed, spawn_key=(chunk, STREAMS.index(purpose)))
    return np.random.default_rng(sequence)


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def pick(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One index per row of a (rows, options) matrix of probabilities (rows need not sum to 1)."""
    cumulative = np.cumsum(probabilities, axis=1)
    draws = rng.random(len(probabilities)) * cumulative[:, -1]
    return np.minimum((cumulative < draws[:, None]).sum(axis=1), probabilities.shape[1] - 1)
