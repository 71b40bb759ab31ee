"""Financial sentiment in [-1, 1]: VADER with a financial lexicon, optionally calibrated.

The lexicon path (:class:`SentimentScorer` without a calibration) is VADER's rule-based
scorer with the versioned financial lexicon in ``knowledge/lexicon/financial/`` merged
into VADER's own: finance words VADER misses ("overdraft", "plunge", "downgrade") get a
valence, phrases ("missed payment", "lost my job") are scored as one token, and VADER's
negation, boosters and punctuation rules still apply around them.

The calibrated path adds a ridge regression over VADER's sub-scores and lexicon
features (and optionally MiniLM sentence embeddings), trained deterministically on
scored texts such as the SemEval-2017 Task 5 headlines. Without a calibration file the
lexicon path is used, so scoring never depends on the shared datasets.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

REPO_ROOT = Path(__file__).resolve().parents[2]
FINANCIAL_LEXICON_PATH = REPO_ROOT / "knowledge" / "lexicon" / "financial" / "financial_lexicon_v1.tsv"
CALIBRATION_FILE = "calibration.json"
LEXICON_FEATURES = (
    "compound",
    "positive",
    "negative",
    "neutral",
    "financial_positive",
    "financial_negative",
    "financial_hits",
    "question",
    "exclamation",
)
ScoringMethod = Literal["lexicon", "calibrated"]
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})


def normalise_apostrophes(text: str) -> str:
    return text.translate(_APOSTROPHES)


class LexiconEntry(BaseModel):
    term: str
    valence: float = Field(ge=-4, le=4)
    group: str


class FinancialLexicon(BaseModel):
    version: str
    path: str
    entries: list[LexiconEntry]

    @property
    def words(self) -> dict[str, float]:
        return {e.term: e.valence for e in self.entries if " " not in e.term}

    @property
    def phrases(self) -> dict[str, float]:
        return {e.term: e.valence for e in self.entries if " " in e.term}


def load_financial_lexicon(path: Path = FINANCIAL_LEXICON_PATH) -> FinancialLexicon:
    """Read the tab-separated lexicon (``term, valence, group``; ``#`` lines are comments)."""
    entries: list[LexiconEntry] = []
    seen: set[str] = set()
    rows = [
        line for line in path.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")
    ]
    header, *body = rows
    if header.split("\t") != ["term", "valence", "group"]:
        raise ValueError(f"{path}: expected the header 'term<TAB>valence<TAB>group', got {header!r}")
    for number, line in enumerate(body, start=2):
        parts = line.split("\t")
        if len(parts) != 3:
            raise ValueError(f"{path}: line {number} needs three tab-separated fields: {line!r}")
        term = normalise_apostrophes(parts[0].strip().lower())
        if term in seen:
            raise ValueError(f"{path}: term {term!r} is listed twice")
        seen.add(term)
        entries.append(LexiconEntry(term=term, valence=float(parts[1]), group=parts[2].strip()))
    version_match = re.search(r"_v(\d+)\.tsv$", path.name)
    version = f"v{version_match.group(1)}" if version_match else path.stem
    return FinancialLexicon(version=version, path=str(path), entries=entries)


def _phrase_token(phrase: str) -> str:
    """The one token a phrase is scored as: 'can't afford' -> 'cant_afford'."""
    return re.sub(r"[^a-z0-9]+", "_", phrase.lower().replace("'", "")).strip("_")


def _phrase_pattern(phrases: Sequence[str]) -> re.Pattern[str] | None:
    if not phrases:
        return None
    alternatives = []
    for phrase in sorted(phrases, key=len, reverse=True):
        words = [re.escape(w).replace("'", "'?") for w in phrase.split()]
        alternatives.append(r"\s+".join(words))
    return re.compile(r"(?<![\w'])(?:" + "|".join(alternatives) + r")(?![\w'])", re.IGNORECASE)


class SentimentCalibration(BaseModel):
    """A ridge regression from scorer features to a sentiment score (stored as JSON)."""

    lexicon_version: str
    feature_names: list[str]
    uses_embeddings: bool = False
    embedding_model: str | None = None
    mean: list[float]
    scale: list[float]
    coefficients: list[float]
    intercept: float
    alpha: float
    trained_on: str
    training_rows: int
    cv_pearson: float | None = None
    trained_at: str

    def predict(self, features: np.ndarray) -> np.ndarray:
        standardised = (features - np.asarray(self.mean)) / np.asarray(self.scale)
        return np.clip(standardised @ np.asarray(self.coefficients) + self.intercept, -1.0, 1.0)

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / CALIBRATION_FILE
        path.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        return path

    @classmethod
    def load(cls, folder: Path) -> SentimentCalibration | None:
        path = folder / CALIBRATION_FILE
        return cls.model_validate_json(path.read_text(encoding="utf-8")) if path.exists() else None


class SentimentScorer:
    """Scores texts in [-1, 1]; load once, reuse (VADER and the lexicon are read at init)."""

    def __init__(
        self,
        lexicon: FinancialLexicon | None = None,
        calibration: SentimentCalibration | None = None,
        encoder=None,
    ):
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.lexicon = lexicon or load_financial_lexicon()
        if calibration is not None and calibration.lexicon_version != self.lexicon.version:
            raise ValueError(
                f"calibration was trained with lexicon {calibration.lexicon_version}, not {self.lexicon.version}"
            )
        if calibration is not None and calibration.uses_embeddings and encoder is None:
            raise ValueError("this calibration uses sentence embeddings: pass the encoder")
        self.calibration = calibration
        self.encoder = encoder if calibration is not None and calibration.uses_embeddings else None
        self._analyzer = SentimentIntensityAnalyzer()
        self._financial_valence: dict[str, float] = dict(self.lexicon.words)
        self._phrase_tokens = {_phrase_token(p): v for p, v in self.lexicon.phrases.items()}
        self._financial_valence.update(self._phrase_tokens)
        self._analyzer.lexicon.update(self._financial_valence)
        self._phrases = _phrase_pattern(list(self.lexicon.phrases))

    @property
    def method(self) -> ScoringMethod:
        return "lexicon" if self.calibration is None else "calibrated"

    @property
    def version(self) -> str:
        suffix = f"+ridge({self.calibration.trained_on})" if self.calibration else ""
        return f"vader+financial-{self.lexicon.version}{suffix}"

    def _prepare(self, text: str) -> str:
        text = normalise_apostrophes(text or "")
        if self._phrases is None:
            return text
        return self._phrases.sub(lambda m: " " + _phrase_token(m.group(0)) + " ", text)

    def lexicon_features(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text: VADER's compound/pos/neg/neu plus financial-lexicon counts."""
        lookup = self._financial_valence
        rows = np.zeros((len(texts), len(LEXICON_FEATURES)), dtype=np.float64)
        for i, text in enumerate(texts):
            prepared = self._prepare(text)
            scores = self._analyzer.polarity_scores(prepared)
            tokens = [t.strip('.,!?;:"()[]').lower() for t in prepared.split()]
            valences = [lookup[t] for t in tokens if t in lookup]
            positive = sum(v for v in valences if v > 0)
            negative = -sum(v for v in valences if v < 0)
            rows[i] = (
                scores["compound"],
                scores["pos"],
                scores["neg"],
                scores["neu"],
                positive,
                negative,
                len(valences),
                "?" in text,
                "!" in text,
            )
        return rows

    def features(self, texts: Sequence[str]) -> np.ndarray:
        lexical = self.lexicon_features(texts)
        if self.encoder is None:
            return lexical
        return np.hstack([lexical, np.asarray(self.encoder.encode(list(texts)), dtype=np.float64)])

    def score_sentiment(self, texts: list[str]) -> list[float]:
        """One score in [-1, 1] per text (negative = unhappy, worried, bad news)."""
        if not texts:
            return []
        if self.calibration is None:
            return [round(self._analyzer.polarity_scores(self._prepare(t))["compound"], 4) for t in texts]
        return [round(float(v), 4) for v in self.calibration.predict(self.features(texts))]

    def score_one(self, text: str) -> float:
        return self.score_sentiment([text])[0]


# --- evaluation and calibration ------------------------------------------------------------
class SentimentEvaluation(BaseModel):
    rows: int
    pearson: float
    spearman: float
    mean_absolute_error: float
    method: ScoringMethod
    scorer_version: str


def pearson(a: Sequence[float], b: Sequence[float]) -> float:
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def evaluate_scorer(scorer: SentimentScorer, texts: list[str], gold: Sequence[float]) -> SentimentEvaluation:
    from scipy.stats import spearmanr

    predicted = scorer.score_sentiment(texts)
    rho = spearmanr(predicted, gold).statistic if len(texts) > 1 else float("nan")
    return SentimentEvaluation(
        rows=len(texts),
        pearson=round(pearson(predicted, gold), 4),
        spearman=round(float(rho), 4),
        mean_absolute_error=round(float(np.mean(np.abs(np.asarray(predicted) - np.asarray(gold)))), 4),
        method=scorer.method,
        scorer_version=scorer.version,
    )


class CalibrationReport(BaseModel):
    rows: int
    folds: int
    alpha: float
    uses_embeddings: bool
    cv_pearson: float = Field(description="Pearson of out-of-fold predictions with the gold scores.")
    cv_pearson_lexicon: float = Field(description="Pearson of the uncalibrated lexicon scores, same rows.")
    cv_pearson_plain_vader: float = Field(description="Pearson of VADER without the financial lexicon.")
    seconds: float


def load_scored_texts(path: Path) -> tuple[list[str], list[float]]:
    """Texts and gold scores from a CSV (``text``, ``score`` or ``sentiment``) or the SemEval JSON."""
    import pandas as pd

    if path.suffix.lower() == ".json":
        records = json.loads(path.read_text(encoding="utf-8"))
        frame = pd.DataFrame(records)
    else:
        frame = pd.read_csv(path)
    text_column = next((c for c in ("text", "title") if c in frame.columns), None)
    score_column = next((c for c in ("score", "sentiment") if c in frame.columns), None)
    if text_column is None or score_column is None:
        raise ValueError(
            f"{path}: needs a 'text' (or 'title') column and a 'score' (or 'sentiment') column; "
            f"found {list(frame.columns)}"
        )
    frame = frame.dropna(subset=[text_column, score_column])
    return frame[text_column].astype(str).tolist(), frame[score_column].astype(float).tolist()


def train_calibration(
    texts: list[str],
    gold: Sequence[float],
    trained_on: str,
    lexicon: FinancialLexicon | None = None,
    encoder=None,
    alpha: float = 10.0,
    folds: int = 5,
    seed: int = 0,
) -> tuple[SentimentCalibration, CalibrationReport]:
    """Fit a ridge regression on scorer features; deterministic for the same inputs and seed."""
    import time

    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    started = time.perf_counter()
    lexicon = lexicon or load_financial_lexicon()
    lexicon_scorer = SentimentScorer(lexicon)
    lexical = lexicon_scorer.lexicon_features(texts)
    features = lexical if encoder is None else np.hstack([lexical, np.asarray(encoder.encode(texts), dtype=float)])
    target = np.asarray(gold, dtype=float)
    out_of_fold = np.zeros_like(target)
    for train_idx, test_idx in KFold(folds, shuffle=True, random_state=seed).split(features):
        mean, scale = _standardiser(features[train_idx])
        model = Ridge(alpha=alpha).fit((features[train_idx] - mean) / scale, target[train_idx])
        out_of_fold[test_idx] = np.clip(model.predict((features[test_idx] - mean) / scale), -1, 1)
    mean, scale = _standardiser(features)
    model = Ridge(alpha=alpha).fit((features - mean) / scale, target)
    names = list(LEXICON_FEATURES) + ([f"embedding_{i}" for i in range(features.shape[1] - len(LEXICON_FEATURES))])
    plain = SentimentIntensityAnalyzer()
    cv = pearson(out_of_fold, target)
    calibration = SentimentCalibration(
        lexicon_version=lexicon.version,
        feature_names=names,
        uses_embeddings=encoder is not None,
        embedding_model=getattr(encoder, "name", None) if encoder is not None else None,
        mean=mean.tolist(),
        scale=scale.tolist(),
        coefficients=model.coef_.tolist(),
        intercept=float(model.intercept_),
        alpha=alpha,
        trained_on=trained_on,
        training_rows=len(texts),
        cv_pearson=round(cv, 4),
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    report = CalibrationReport(
        rows=len(texts),
        folds=folds,
        alpha=alpha,
        uses_embeddings=encoder is not None,
        cv_pearson=round(cv, 4),
        cv_pearson_lexicon=round(pearson(lexical[:, 0], target), 4),
        cv_pearson_plain_vader=round(pearson([plain.polarity_scores(t)["compound"] for t in texts], target), 4),
        seconds=round(time.perf_counter() - started, 2),
    )
    return calibration, report


def _standardiser(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    return mean, np.where(scale > 0, scale, 1.0)


def sentiment_model_dir(models_dir: Path) -> Path:
    return Path(models_dir) / "sentiment"


def load_sentiment_scorer(settings_or_models_dir=None, encoder=None) -> SentimentScorer:
    """The calibrated scorer when ``advisor sentiment train`` saved a calibration, else the lexicon scorer.

    ``settings_or_models_dir`` is the :class:`advisor.settings.Settings` (its ``models_dir``; its shared
    encoder is loaded when the calibration uses embeddings) or a models folder. A calibration made for
    another lexicon version, or one needing an encoder that is not given, is ignored.
    """
    if settings_or_models_dir is None:
        models_dir = None
    elif hasattr(settings_or_models_dir, "models_dir"):
        models_dir = settings_or_models_dir.models_dir
    else:
        models_dir = Path(settings_or_models_dir)
    calibration = SentimentCalibration.load(sentiment_model_dir(models_dir)) if models_dir else None
    lexicon = load_financial_lexicon()
    if calibration is not None and calibration.lexicon_version != lexicon.version:
        calibration = None
    if calibration is not None and calibration.uses_embeddings and encoder is None:
        if hasattr(settings_or_models_dir, "resolved_embedding_model"):
            from bank.embeddings import encoder_from_settings

            encoder = encoder_from_settings(settings_or_models_dir)
        else:
            calibration = None
    return SentimentScorer(lexicon, calibration, encoder)


def mood_label(score: float | None, threshold: float = 0.15) -> Literal["negative", "neutral", "positive"] | None:
    if score is None or math.isnan(score):
        return None
    if score <= -threshold:
        return "negative"
    if score >= threshold:
        return "positive"
    return "neutral"
