"""The default-probability model: LightGBM, calibrated, banded and explained.

Training (:func:`train_risk_model`) cross-fits: K LightGBM models, each early-stopped on
its own held-out fold, give out-of-fold scores for every row; the calibrator (isotonic
regression, or Platt scaling on small data) is fitted on those out-of-fold scores, the
decision threshold is chosen on them, and the final model is trained on all rows for
the folds' average number of rounds. So calibration and threshold never see a score of
a row the scoring model was trained on, and no row is wasted.

Reason codes come from LightGBM's ``pred_contrib=True`` (TreeSHAP, log-odds of the
uncalibrated model; calibration is monotone, so what raises the raw score raises the
probability).
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import joblib
import lightgbm as lgb
import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold

from tools.credit.features import BANK_LAYOUT_WITH_TRANSACTIONS, LAYOUTS, FeatureInputError, FeatureLayout
from tools.credit.protected import PROTECTED_NAMES, assert_no_protected_features
from tools.credit.reasons import DEFAULT_TOP_REASONS, reason_codes, reason_codes_frame
from tools.findings import ReasonCode, RiskBand

MODEL_NAME = "default-risk"
MODEL_FILE = "model.joblib"
CARD_FILE = "model_card.json"
FORMAT_VERSION = 1

# Upper probability bound of each band (exclusive); E is everything from 20 % up.
RISK_BAND_CUTOFFS: tuple[tuple[RiskBand, float], ...] = (
    ("A", 0.02), ("B", 0.05), ("C", 0.10), ("D", 0.20), ("E", float("inf")),
)
MAX_TPR_GAP = 0.03  # the target for the TPR gap between groups at the decision threshold
THRESHOLD_TOLERANCE = 0.02  # Youden J the fairness-aware threshold may give up
MAX_THRESHOLD_CANDIDATES = 400
MIN_GROUP_POSITIVES = 20  # smaller groups are reported but too noisy to enter the TPR gap
LARGE_DATA_ROWS = 100_000  # from here on LightGBM may use every core


def risk_band(probability: float) -> RiskBand:
    for band, upper in RISK_BAND_CUTOFFS:
        if probability < upper:
            return band
    return "E"


def risk_bands(probabilities: np.ndarray) -> np.ndarray:
    uppers = np.array([upper for _, upper in RISK_BAND_CUTOFFS[:-1]])
    names = np.array([band for band, _ in RISK_BAND_CUTOFFS], dtype=object)
    return names[np.searchsorted(uppers, np.asarray(probabilities, dtype="float64"), side="right")]


class TrainParams(BaseModel):
    """LightGBM settings and the cross-fitting plan."""

    learning_rate: float = 0.02
    num_leaves: int = 15
    min_child_samples: int = 100
    subsample: float = 0.8
    colsample_bytree: float = 0.5
    reg_lambda: float = 5.0
    max_rounds: int = 3000
    early_stopping_rounds: int = 200
    monotone: bool = True
    folds: int = Field(5, ge=2, description="Cross-fitting folds for calibration and the threshold.")
    calibration: Literal["auto", "isotonic", "sigmoid"] = "auto"
    seed: int = 0
    num_threads: int = Field(1, ge=0, description="LightGBM threads; 0 = all cores. One is fastest on small "
                             "data and on a busy machine.")

    def lightgbm(self, layout: FeatureLayout) -> dict:
        params = {
            "objective": "binary", "metric": "auc", "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves, "min_child_samples": self.min_child_samples,
            "bagging_fraction": self.subsample, "bagging_freq": 1 if self.subsample < 1 else 0,
            "feature_fraction": self.colsample_bytree, "lambda_l2": self.reg_lambda, "seed": self.seed,
            "deterministic": True, "force_row_wise": True, "verbosity": -1, "num_threads": self.num_threads,
        }
        if self.monotone and any(layout.monotone):
            params["monotone_constraints"] = layout.monotone
            params["monotone_constraints_method"] = "advanced"
        return params


def default_params(layout: FeatureLayout, rows: int) -> TrainParams:
    """Settings that suit the layout and the amount of data."""
    if layout.name == "uci":
        return TrainParams(num_threads=1 if rows < LARGE_DATA_ROWS else 0)
    small = rows < 5_000
    return TrainParams(
        learning_rate=0.05, num_leaves=3 if rows < 1_500 else 7, min_child_samples=max(5, min(40, rows // 50)),
        colsample_bytree=0.8,
        reg_lambda=2.0, max_rounds=1000, early_stopping_rounds=50, folds=3 if rows < 600 else 5,
        calibration="sigmoid" if small else "auto", num_threads=1 if rows < LARGE_DATA_ROWS else 0,
    )


class ThresholdChoice(BaseModel):
    threshold: float
    rule: str
    ks_threshold: float
    tpr_gap_at_ks_threshold: float | None = None
    tpr_gap: float | None = None
    meets_gap_target: bool | None = Field(None, description=f"TPR gap at most {MAX_TPR_GAP} on the training data.")


class ModelCard(BaseModel):
    """What a saved model is: written next to it as JSON and shown to reviewers."""

    name: str = MODEL_NAME
    version: str
    format_version: int = FORMAT_VERSION
    layout: str
    features: list[str]
    feature_reasons: dict[str, str]
    target: str
    trained_at: datetime
    training_rows: int
    positives: int
    training_seconds: float
    rounds: int
    calibration: str
    threshold: ThresholdChoice
    band_cutoffs: dict[str, float] = Field(
        default_factory=lambda: {b: u for b, u in RISK_BAND_CUTOFFS if np.isfinite(u)},
        description="Upper probability bound (exclusive) of each band; E is everything above D.")
    protected_attributes_excluded: list[str] = Field(default_factory=lambda: sorted(PROTECTED_NAMES))
    params: dict
    out_of_fold: dict[str, float | None] = Field(
        default_factory=dict, description="AUC, KS, Brier on cross-fitted scores.")
    fairness: dict[str, object] | None = None
    notes: list[str] = Field(default_factory=list)


@dataclass
class Calibrator:
    method: str
    model: IsotonicRegression | LogisticRegression

    @classmethod
    def fit(cls, raw: np.ndarray, target: np.ndarray, method: str) -> "Calibrator":
        if method == "isotonic":
            model = IsotonicRegression(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4).fit(raw, target)
        else:
            model = LogisticRegression(C=1e6).fit(raw.reshape(-1, 1), target)
        return cls(method, model)

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        if self.method == "isotonic":
            return np.asarray(self.model.predict(raw), dtype="float64")
        return self.model.predict_proba(np.asarray(raw).reshape(-1, 1))[:, 1]


@dataclass
class RiskModel:
    """A trained, calibrated default-risk model with its card."""

    booster: lgb.Booster
    calibrator: Calibrator
    card: ModelCard

    @property
    def version(self) -> str:
        return self.card.version

    @property
    def features(self) -> list[str]:
        return self.card.features

    @property
    def layout(self) -> FeatureLayout:
        return LAYOUTS[self.card.layout]

    @property
    def needs_transactions(self) -> bool:
        return self.card.layout == BANK_LAYOUT_WITH_TRANSACTIONS.name

    @property
    def evidence_id(self) -> str:
        return f"model:{MODEL_NAME}@{self.version}"

    def _matrix(self, features: pd.DataFrame) -> np.ndarray:
        assert_no_protected_features(features.columns)
        missing = [f for f in self.features if f not in features.columns]
        if missing:
            raise FeatureInputError(f"features missing for model {self.version}: {', '.join(missing)}")
        return features[self.features].to_numpy(dtype="float64")

    def _predict(self, matrix: np.ndarray, **kind: bool) -> np.ndarray:
        threads = 1 if len(matrix) < LARGE_DATA_ROWS else 0
        return self.booster.predict(matrix, num_threads=threads, **kind)

    def raw_score(self, features: pd.DataFrame) -> np.ndarray:
        return self._predict(self._matrix(features), raw_score=True)

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        return self.calibrator(self.raw_score(features))

    def contributions(self, features: pd.DataFrame) -> np.ndarray:
        """Per-feature log-odds contributions (rows x features), without the bias column."""
        return self._predict(self._matrix(features), pred_contrib=True)[:, :-1]

    def explain(self, features: pd.DataFrame, top: int = DEFAULT_TOP_REASONS) -> list[list[ReasonCode]]:
        """Top reason codes of each row, largest contribution first."""
        contributions = self.contributions(features)
        values = features[self.features]
        return [
            reason_codes(dict(zip(self.features, contributions[i])), values.iloc[i].to_dict(),
                         self.card.feature_reasons, top)
            for i in range(len(values))
        ]

    def score(self, features: pd.DataFrame, top: int = DEFAULT_TOP_REASONS) -> pd.DataFrame:
        """Vectorised: probability, band, decision and top reason codes of every row."""
        matrix = self._matrix(features)
        probability = self.calibrator(self._predict(matrix, raw_score=True))
        contributions = self._predict(matrix, pred_contrib=True)[:, :-1]
        reasons = reason_codes_frame(contributions, self.features, self.card.feature_reasons, top)
        frame = pd.DataFrame({
            "probability": probability,
            "band": risk_bands(probability),
            "flagged": probability >= self.card.threshold.threshold,
        }, index=features.index)
        reasons.index = features.index
        return frame.join(reasons)

    def save(self, folder: Path) -> Path:
        """Write the model, then its card, each through a temporary file: readers never see half a file."""
        folder.mkdir(parents=True, exist_ok=True)
        stored = {"booster": self.booster.model_to_string(), "calibrator": self.calibrator,
                  "format_version": FORMAT_VERSION}
        joblib.dump(stored, folder / f".{MODEL_FILE}.tmp")
        os.replace(folder / f".{MODEL_FILE}.tmp", folder / MODEL_FILE)
        (folder / f".{CARD_FILE}.tmp").write_text(self.card.model_dump_json(indent=2))
        os.replace(folder / f".{CARD_FILE}.tmp", folder / CARD_FILE)
        return folder

    @classmethod
    def load(cls, folder: Path) -> "RiskModel":
        card_path, model_path = folder / CARD_FILE, folder / MODEL_FILE
        if not card_path.exists() or not model_path.exists():
            raise FileNotFoundError(f"no risk model in {folder} (expected {MODEL_FILE} and {CARD_FILE})")
        card = ModelCard.model_validate_json(card_path.read_text())
        stored = joblib.load(model_path)
        if stored.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{model_path}: unsupported model format {stored.get('format_version')}")
        return cls(lgb.Booster(model_str=stored["booster"]), stored["calibrator"], card)


def model_exists(folder: Path) -> bool:
    return (folder / CARD_FILE).exists() and (folder / MODEL_FILE).exists()


# --- training ------------------------------------------------------------------------------
def ks_statistic(target: np.ndarray, probability: np.ndarray) -> float:
    fpr, tpr, _ = roc_curve(target, probability)
    return float(np.max(tpr - fpr))


def true_positive_rate(target: np.ndarray, flagged: np.ndarray) -> float | None:
    positives = target == 1
    return float(flagged[positives].mean()) if positives.any() else None


def tpr_gap(target: np.ndarray, flagged: np.ndarray, groups: pd.Series | np.ndarray,
            min_positives: int = MIN_GROUP_POSITIVES) -> float | None:
    """Largest minus smallest TPR among groups with at least ``min_positives`` defaulters."""
    groups = np.asarray(groups, dtype=object)
    rates = []
    for group in pd.unique(groups[pd.notna(groups)]):
        member = groups == group
        if int(target[member].sum()) >= min_positives:
            rates.append(true_positive_rate(target[member], flagged[member]))
    return float(max(rates) - min(rates)) if len(rates) >= 2 else None


def choose_threshold(
    target: np.ndarray, probability: np.ndarray, groups: pd.Series | np.ndarray | None = None,
    tolerance: float = THRESHOLD_TOLERANCE,
) -> ThresholdChoice:
    """One threshold for everyone: the KS (Youden) point, or with ``groups`` the fairest near it.

    With ``groups`` (e.g. sex, read for the audit only), among the thresholds whose Youden J
    is within ``tolerance`` of the best, the one with the smallest TPR gap between groups
    is taken (the KS point itself is a candidate, so the gap never gets wider). The groups
    never reach the model or the decision: every customer faces the same threshold.
    """
    fpr, tpr, thresholds = roc_curve(target, probability)
    finite = np.isfinite(thresholds)
    fpr, tpr, thresholds = fpr[finite], tpr[finite], thresholds[finite]
    youden = tpr - fpr
    best = int(np.argmax(youden))
    ks_threshold = float(thresholds[best])
    if groups is None:
        return ThresholdChoice(threshold=ks_threshold, rule="max KS (Youden J)", ks_threshold=ks_threshold)
    gap_at_ks = tpr_gap(target, probability >= ks_threshold, groups)
    if gap_at_ks is None:
        return ThresholdChoice(threshold=ks_threshold, rule="max KS (Youden J); groups too small for a TPR gap",
                               ks_threshold=ks_threshold)
    near = np.unique(thresholds[youden >= youden[best] - tolerance])
    if len(near) > MAX_THRESHOLD_CANDIDATES:
        near = np.quantile(near, np.linspace(0, 1, MAX_THRESHOLD_CANDIDATES))
    candidates = np.append(ks_threshold, near)
    gaps = np.array([tpr_gap(target, probability >= t, groups) for t in candidates], dtype="float64")
    pick = int(np.nanargmin(gaps))  # the first minimum: the KS point wins ties
    return ThresholdChoice(
        threshold=float(candidates[pick]),
        rule=f"smallest TPR gap among thresholds with Youden J within {tolerance} of the best "
             f"(one threshold for all)",
        ks_threshold=ks_threshold, tpr_gap_at_ks_threshold=gap_at_ks, tpr_gap=float(gaps[pick]),
        meets_gap_target=bool(gaps[pick] <= MAX_TPR_GAP),
    )


def _training_frame(features: pd.DataFrame, layout: FeatureLayout) -> pd.DataFrame:
    assert_no_protected_features(features.columns)
    missing = [f for f in layout.features if f not in features.columns]
    if missing:
        raise FeatureInputError(f"features missing for layout {layout.name}: {', '.join(missing)}")
    return features[layout.features].astype("float64")


def _fit_booster(
    params: dict, train: tuple[np.ndarray, np.ndarray], rounds: int,
    valid: tuple[np.ndarray, np.ndarray] | None, early_stopping: int, names: list[str],
) -> lgb.Booster:
    train_set = lgb.Dataset(train[0], train[1], feature_name=names, free_raw_data=True)
    if valid is None:
        return lgb.train(params, train_set, num_boost_round=rounds)
    valid_set = lgb.Dataset(valid[0], valid[1], reference=train_set)
    return lgb.train(params, train_set, num_boost_round=rounds, valid_sets=[valid_set],
                     callbacks=[lgb.early_stopping(early_stopping, verbose=False)])


def _version(layout: str, booster: lgb.Booster, calibrated_oof: np.ndarray, threshold: float) -> str:
    """A fingerprint of the artefact: the trees, the calibration and the threshold."""
    digest = hashlib.sha256(booster.model_to_string().encode())
    digest.update(np.round(calibrated_oof, 12).tobytes())
    digest.update(repr(round(threshold, 12)).encode())
    return f"{layout}-{digest.hexdigest()[:10]}"


def _cross_fit(
    lgb_params: dict, matrix: np.ndarray, y: np.ndarray, folds: int, params: TrainParams, names: list[str],
) -> tuple[np.ndarray, list[int]]:
    """Out-of-fold raw scores of every row and each fold's early-stopped number of rounds."""
    oof = np.zeros(len(y))
    rounds = []
    splitter = StratifiedKFold(folds, shuffle=True, random_state=params.seed)
    for fit_idx, holdout_idx in splitter.split(matrix, y):
        booster = _fit_booster(lgb_params, (matrix[fit_idx], y[fit_idx]), params.max_rounds,
                               (matrix[holdout_idx], y[holdout_idx]), params.early_stopping_rounds, names)
        rounds.append(max(booster.best_iteration, 1))
        oof[holdout_idx] = booster.predict(matrix[holdout_idx], raw_score=True,
                                           num_iteration=booster.best_iteration, num_threads=params.num_threads)
    return oof, rounds


def _fairness(y: np.ndarray, flagged: np.ndarray, groups, threshold: ThresholdChoice) -> dict[str, object]:
    values = np.asarray(groups, dtype=object)
    return {
        "tpr_by_group": {str(g): true_positive_rate(y[values == g], flagged[values == g])
                         for g in pd.unique(values[pd.notna(values)])},
        "tpr_gap": threshold.tpr_gap,
    }


def train_risk_model(
    features: pd.DataFrame,
    target: pd.Series | np.ndarray,
    layout: FeatureLayout,
    target_name: str,
    groups: pd.Series | np.ndarray | None = None,
    params: TrainParams | None = None,
    notes: list[str] | None = None,
) -> RiskModel:
    """Train, calibrate and threshold a model on one layout's features.

    ``groups`` (a protected attribute such as sex) is used only to audit the TPR gap and
    to pick the single decision threshold; it is never a model input.
    """
    started = time.perf_counter()
    frame = _training_frame(features, layout)
    y = np.asarray(target, dtype="int64")
    if len(np.unique(y)) != 2:
        raise ValueError("the target needs both defaulters and non-defaulters to train on")
    params = params or default_params(layout, len(frame))
    lgb_params = params.lightgbm(layout)
    matrix = frame.to_numpy()
    names = layout.features
    positives = int(y.sum())
    folds = max(2, min(params.folds, positives, len(y) - positives))
    oof, rounds = _cross_fit(lgb_params, matrix, y, folds, params, names)
    method = params.calibration
    if method == "auto":
        method = "isotonic" if len(y) >= 2_000 and positives >= 200 else "sigmoid"
    calibrator = Calibrator.fit(oof, y, method)
    calibrated = calibrator(oof)
    threshold = choose_threshold(y, calibrated, groups)
    final_rounds = int(round(np.mean(rounds) * (1 + 1 / folds)))  # all rows: a little more boosting
    booster = _fit_booster(lgb_params, (matrix, y), final_rounds, None, 0, names)
    out_of_fold = {"auc": float(roc_auc_score(y, calibrated)), "ks": ks_statistic(y, calibrated),
                   "brier": float(brier_score_loss(y, calibrated)), "default_rate": float(y.mean())}
    fairness = None if groups is None else _fairness(y, calibrated >= threshold.threshold, groups, threshold)
    card = ModelCard(
        version=_version(layout.name, booster, calibrated, threshold.threshold), layout=layout.name,
        features=names,
        feature_reasons=layout.reasons, target=target_name, trained_at=datetime.now(timezone.utc),
        training_rows=len(y), positives=positives, training_seconds=round(time.perf_counter() - started, 3),
        rounds=final_rounds, calibration=method, threshold=threshold, params=params.model_dump(),
        out_of_fold=out_of_fold, fairness=fairness, notes=list(notes or []),
    )
    return RiskModel(booster=booster, calibrator=calibrator, card=card)

