"""Advisors' feedback on offers, turned into a bounded score penalty.

Each thumbs-up (accepted) or thumbs-down (rejected) on an offer is counted for the
customer's spending segment and for their risk band. A product's score for a customer
is multiplied by ``1 - min(MAX_PENALTY, STEP * net)`` where ``net`` is the larger of the
net rejections (rejections - acceptances) in the customer's segment and in their band.
The penalty only reorders eligible products: it never makes a product eligible and
never removes eligibility.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

STEP = 0.1
MAX_PENALTY = 0.3


class OfferOutcomes(BaseModel):
    accepted: int = 0
    rejected: int = 0

    @property
    def net_rejections(self) -> int:
        return self.rejected - self.accepted


def segment_group(segment: str | None) -> str | None:
    return f"segment:{segment}" if segment else None


def band_group(risk_band: str | None) -> str | None:
    return f"band:{risk_band}" if risk_band else None


class FeedbackAdjustments(BaseModel):
    """Counts of accepted and rejected offers per (segment or risk band, product code)."""

    outcomes: dict[str, dict[str, OfferOutcomes]] = Field(
        default_factory=dict, description="group ('segment:<name>' or 'band:<A..E>') -> product code -> counts"
    )
    step: float = Field(STEP, ge=0)
    max_penalty: float = Field(MAX_PENALTY, ge=0, le=1)

    def record(
        self, product_code: str, accepted: bool, segment: str | None = None, risk_band: str | None = None
    ) -> None:
        """Count one advisor verdict on an offer made to a customer of this segment and band."""
        for group in (segment_group(segment), band_group(risk_band)):
            if group is None:
                continue
            counts = self.outcomes.setdefault(group, {}).setdefault(product_code, OfferOutcomes())
            if accepted:
                counts.accepted += 1
            else:
                counts.rejected += 1

    def _net(self, group: str | None, product_code: str) -> int:
        if group is None:
            return 0
        counts = self.outcomes.get(group, {}).get(product_code)
        return counts.net_rejections if counts else 0

    def factor(self, product_code: str, segment: str | None = None, risk_band: str | None = None) -> float:
        """Score multiplier in [1 - max_penalty, 1] for one customer."""
        net = max(self._net(segment_group(segment), product_code), self._net(band_group(risk_band), product_code))
        return 1.0 - min(self.max_penalty, self.step * max(net, 0))

    def factors(self, product_code: str, segments: pd.Series, risk_bands: pd.Series) -> np.ndarray:
        """``factor`` for many customers at once (same arithmetic)."""

        def nets(prefix: str, keys: pd.Series) -> np.ndarray:
            table = {
                group.removeprefix(prefix): counts[product_code].net_rejections
                for group, counts in self.outcomes.items()
                if group.startswith(prefix) and product_code in counts
            }
            return keys.map(table).fillna(0).to_numpy(float) if table else np.zeros(len(keys))

        net = np.maximum(nets("segment:", segments.fillna("")), nets("band:", risk_bands.fillna("")))
        return 1.0 - np.minimum(self.max_penalty, self.step * np.maximum(net, 0.0))
