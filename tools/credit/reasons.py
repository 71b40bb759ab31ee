"""Adverse-action reason codes: stable codes, their phrasing, and how features map to them.

A model's per-feature contributions (LightGBM ``pred_contrib=True``, i.e. TreeSHAP
values in log-odds) are summed per reason, and the reasons that raise the risk most
are reported, largest first. Codes never change meaning; new reasons get new codes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from tools.findings import ReasonCode

REASON_TEXTS: dict[str, str] = {
    "R01": "Proportion of balances to credit limits is too high",
    "R02": "Number of recent delinquent payments",
    "R03": "Length of time since most recent delinquency is too short",
    "R04": "Amount paid is low relative to amount billed",
    "R05": "Too many accounts with balances",
    "R06": "Insufficient length of credit history",
    "R07": "Debt is high relative to income",
    "R08": "Level of delinquency on accounts is too severe",
    "R09": "Total credit limit is too low",
    "R10": "Balances on accounts have increased recently",
    "R11": "Amount owed on accounts is too high",
    "R12": "Income is insufficient for the credit obligations",
    "R13": "Number of missed payments",
    "R14": "Balances on deposit accounts are too low",
    "R15": "Current account is overdrawn",
    "R16": "Proportion of spending on gambling is too high",
    "R17": "Cash withdrawals are high relative to spending",
    "R18": "Income deposits have decreased recently",
    "R19": "Lack of recent revolving account activity",
}
DEFAULT_TOP_REASONS = 4
# A reason must raise the log-odds by more than this (about 5 % of the odds) to be named:
# a low-risk customer's tiny positive contributions are no reason for anything.
MIN_REASON_CONTRIBUTION = 0.05


def reason_codes(
    contributions: Mapping[str, float],
    values: Mapping[str, object],
    feature_reasons: Mapping[str, str],
    top: int = DEFAULT_TOP_REASONS,
) -> list[ReasonCode]:
    """The reasons that raise the risk most, largest first (only those above MIN_REASON_CONTRIBUTION).

    ``contributions`` maps feature -> contribution (log-odds); features sharing a reason
    are summed and the reason names its largest feature with that feature's value.
    """
    by_reason: dict[str, list[tuple[str, float]]] = {}
    for feature, contribution in contributions.items():
        code = feature_reasons.get(feature)
        if code is not None:
            by_reason.setdefault(code, []).append((feature, float(contribution)))
    totals = [
        (code, sum(c for _, c in items), max(items, key=lambda item: item[1])[0])
        for code, items in by_reason.items()
    ]
    ranked = sorted(totals, key=lambda entry: (-entry[1], entry[0]))
    return [
        ReasonCode(code=code, feature=feature, text=REASON_TEXTS[code], contribution=round(total, 4),
                   value=_plain(values.get(feature)))
        for code, total, feature in ranked[:top]
        if total > MIN_REASON_CONTRIBUTION
    ]


def reason_codes_frame(
    contributions: np.ndarray,
    features: Sequence[str],
    feature_reasons: Mapping[str, str],
    top: int = DEFAULT_TOP_REASONS,
) -> pd.DataFrame:
    """Vectorised top reasons for many rows: columns reason_1..reason_<top> (codes or None)."""
    codes = sorted({feature_reasons[f] for f in features if f in feature_reasons})
    matrix = np.zeros((contributions.shape[0], len(codes)))
    for j, feature in enumerate(features):
        if feature in feature_reasons:
            matrix[:, codes.index(feature_reasons[feature])] += contributions[:, j]
    order = np.argsort(-matrix, axis=1, kind="stable")[:, :top]
    picked = np.take_along_axis(matrix, order, axis=1)
    names = np.array(codes, dtype=object)[order]
    names[picked <= MIN_REASON_CONTRIBUTION] = None
    return pd.DataFrame(names, columns=[f"reason_{i + 1}" for i in range(order.shape[1])], dtype=object)


def _plain(value: object) -> float | str | None:
    if value is None:
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
        return None if math.isnan(number) else round(number, 4)
    return str(value)
