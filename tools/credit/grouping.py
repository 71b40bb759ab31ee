"""Per-customer sums, counts, maxima and minima with numpy, for one customer or a whole book.

pandas' groupby costs milliseconds per call even on three rows; these reductions cost
microseconds, which keeps the per-customer assessment within its time budget while the
same code scores 100,000 customers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Grouping:
    """Rows assigned to the entries of ``index`` (rows whose key is not in it are ignored)."""

    codes: np.ndarray
    index: pd.Index

    @classmethod
    def of(cls, keys: pd.Series | np.ndarray, index: pd.Index | None = None) -> "Grouping":
        values = np.asarray(keys, dtype=object)
        if index is None:
            codes, uniques = pd.factorize(values)
            return cls(np.asarray(codes, dtype=np.int64), pd.Index(uniques, name="customer_id"))
        return cls(np.asarray(index.get_indexer(values), dtype=np.int64), index)

    @property
    def size(self) -> int:
        return len(self.index)

    def _valid(self, values: np.ndarray) -> np.ndarray:
        return (self.codes >= 0) & ~np.isnan(values)

    def count(self, mask: np.ndarray | pd.Series | None = None) -> np.ndarray:
        selected = self.codes >= 0
        if mask is not None:
            selected &= np.asarray(mask, dtype=bool)
        return np.bincount(self.codes[selected], minlength=self.size).astype("float64")

    def sum(self, values: np.ndarray | pd.Series) -> np.ndarray:
        values = np.asarray(values, dtype="float64")
        valid = self._valid(values)
        return np.bincount(self.codes[valid], weights=values[valid], minlength=self.size)

    def count_valid(self, values: np.ndarray | pd.Series) -> np.ndarray:
        values = np.asarray(values, dtype="float64")
        return np.bincount(self.codes[self._valid(values)], minlength=self.size).astype("float64")

    def mean(self, values: np.ndarray | pd.Series) -> np.ndarray:
        counts = self.count_valid(values)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, self.sum(values) / np.where(counts > 0, counts, 1.0), np.nan)

    def max(self, values: np.ndarray | pd.Series) -> np.ndarray:
        """Largest non-missing value per group; NaN for groups without one."""
        return self._extreme(values, np.maximum, -np.inf)

    def min(self, values: np.ndarray | pd.Series) -> np.ndarray:
        return self._extreme(values, np.minimum, np.inf)

    def _extreme(self, values, ufunc, start: float) -> np.ndarray:
        values = np.asarray(values, dtype="float64")
        valid = self._valid(values)
        out = np.full(self.size, start)
        ufunc.at(out, self.codes[valid], values[valid])
        out[out == start] = np.nan
        return out
