"""How well a risk model ranks, calibrates and treats groups: AUC, KS, Brier, TPR by group.

Groups (sex in the UCI file, gender in the bank's tables) are read here for the audit
only; they never reach a model.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from tools.credit.features import FeatureLayout
from tools.credit.model import (
    RiskModel,
    TrainParams,
    default_params,
    ks_statistic,
    train_risk_model,
    tpr_gap,
    true_positive_rate,
)


class GroupMetrics(BaseModel):
    group: str
    rows: int
    positives: int
    auc: float | None = None
    tpr: float | None = None
    fpr: float | None = None


class EvaluationReport(BaseModel):
    rows: int
    positives: int
    default_rate: float
    auc: float
    ks: float
    brier: float
    threshold: float
    tpr: float | None
    fpr: float | None
    flagged_share: float
    group_column: str | None = None
    by_group: list[GroupMetrics] = Field(default_factory=list)
    tpr_gap: float | None = None
    model_version: str | None = None


def _auc(target: np.ndarray, probability: np.ndarray) -> float | None:
    return float(roc_auc_score(target, probability)) if len(np.unique(target)) == 2 else None


def evaluate_predictions(
    target: np.ndarray | pd.Series,
    probability: np.ndarray,
    threshold: float,
    groups: pd.Series | np.ndarray | None = None,
    group_column: str | None = None,
    model_version: str | None = None,
) -> EvaluationReport:
    y = np.asarray(target, dtype="int64")
    p = np.asarray(probability, dtype="float64")
    if len(np.unique(y)) != 2:
        raise ValueError("evaluation needs both defaulters and non-defaulters")
    flagged = p >= threshold
    negatives = y == 0
    by_group: list[GroupMetrics] = []
    gap = None
    if groups is not None:
        values = np.asarray(groups, dtype=object)
        for group in sorted(str(g) for g in pd.unique(values[pd.notna(values)])):
            mask = values.astype(str) == group
            gy, gp, gf = y[mask], p[mask], flagged[mask]
            by_group.append(GroupMetrics(
                group=group, rows=int(mask.sum()), positives=int(gy.sum()), auc=_auc(gy, gp),
                tpr=true_positive_rate(gy, gf), fpr=float(gf[gy == 0].mean()) if (gy == 0).any() else None,
            ))
        gap = tpr_gap(y, flagged, values)
    return EvaluationReport(
        rows=len(y), positives=int(y.sum()), default_rate=float(y.mean()), auc=float(roc_auc_score(y, p)),
        ks=ks_statistic(y, p), brier=float(brier_score_loss(y, p)), threshold=float(threshold),
        tpr=true_positive_rate(y, flagged), fpr=float(flagged[negatives].mean()),
        flagged_share=float(flagged.mean()),
        group_column=group_column, by_group=by_group, tpr_gap=gap, model_version=model_version,
    )


def evaluate_model(
    model: RiskModel, features: pd.DataFrame, target: np.ndarray | pd.Series,
    groups: pd.Series | np.ndarray | None = None, group_column: str | None = None,
) -> EvaluationReport:
    probability = model.predict_proba(features)
    return evaluate_predictions(target, probability, model.card.threshold.threshold, groups, group_column,
                                model.version)


class CrossValidationReport(BaseModel):
    layout: str
    folds: int
    rows: int
    seconds: float
    mean: dict[str, float | None]
    std: dict[str, float | None]
    tpr_by_group: dict[str, float | None] = Field(default_factory=dict, description="Mean over folds.")
    thresholds: list[float]
    per_fold: list[EvaluationReport]


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None


def _std(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.std(present)) if present else None


def cross_validate(
    features: pd.DataFrame,
    target: pd.Series | np.ndarray,
    layout: FeatureLayout,
    target_name: str,
    groups: pd.Series | np.ndarray | None = None,
    group_column: str | None = None,
    folds: int = 5,
    params: TrainParams | None = None,
    seed: int = 0,
) -> CrossValidationReport:
    """Stratified K-fold: train on K-1 folds (threshold chosen there), evaluate on the held-out fold."""
    started = time.perf_counter()
    y = np.asarray(target, dtype="int64")
    group_values = None if groups is None else np.asarray(groups, dtype=object)
    reports: list[EvaluationReport] = []
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in splitter.split(features, y):
        model = train_risk_model(
            features.iloc[train_idx], y[train_idx], layout, target_name,
            groups=None if group_values is None else group_values[train_idx],
            params=params or default_params(layout, len(train_idx)),
        )
        reports.append(evaluate_model(
            model, features.iloc[test_idx], y[test_idx],
            None if group_values is None else group_values[test_idx], group_column,
        ))
    keys = ("auc", "ks", "brier", "tpr", "fpr", "tpr_gap", "threshold")
    groups_seen = sorted({g.group for r in reports for g in r.by_group})
    return CrossValidationReport(
        layout=layout.name, folds=folds, rows=len(y), seconds=round(time.perf_counter() - started, 2),
        mean={k: _mean([getattr(r, k) for r in reports]) for k in keys},
        std={k: _std([getattr(r, k) for r in reports]) for k in keys},
        tpr_by_group={g: _mean([m.tpr for r in reports for m in r.by_group if m.group == g]) for g in groups_seen},
        thresholds=[r.threshold for r in reports],
        per_fold=reports,
    )
