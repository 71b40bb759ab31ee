"""Financial intent classification, trainable on any ``text,category`` table.

The classifier averages the class probabilities of two calibrated models: a logistic
regression over word (1-2 gram) and character (2-5 gram) TF-IDF features, and,
optionally, a logistic regression over MiniLM sentence embeddings (weighted higher: it
generalises better to new wordings). Without an encoder it is the TF-IDF model alone,
which trains in seconds and classifies a customer's texts in a few milliseconds.

The shipped default model (:func:`ensure_intent_model`) is trained on the labelled
texts of the project's generated bank (``labels/texts.csv``) the first time it is
needed and cached under ``<models_dir>/intent``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from bank.generator.templates import INTENTS as GENERATOR_INTENTS

MODEL_FILE = "model.joblib"
META_FILE = "meta.json"
INTENT_MODEL_FOLDER = "intent"
FORMAT_VERSION = 1

# The intents of the project's generated bank (its labelled interactions train the default model).
GENERATED_INTENTS = GENERATOR_INTENTS


class TextEncoder(Protocol):
    name: str
    dimension: int

    def encode(self, texts: list[str]) -> np.ndarray: ...


class IntentModelUnavailable(RuntimeError):
    """No trained model and nothing labelled to train one from."""


class IntentModelConfig(BaseModel):
    use_embeddings: bool = Field(True, description="Add a model over sentence embeddings (needs an encoder).")
    tfidf_c: float = Field(30.0, gt=0, description="Inverse regularisation of the TF-IDF logistic regression.")
    embedding_c: float = Field(30.0, gt=0, description="Inverse regularisation of the embedding model.")
    tfidf_weight: float = Field(1.0, ge=0)
    embedding_weight: float = Field(2.0, ge=0)
    char_min_df: int = Field(2, ge=1, description="Drop character n-grams seen in fewer texts.")
    max_iter: int = Field(3000, ge=100)


class IntentPrediction(BaseModel):
    intent: str
    confidence: float = Field(ge=0, le=1)
    runner_up: str | None = None
    runner_up_confidence: float | None = None


class IntentEvaluation(BaseModel):
    rows: int
    accuracy: float
    macro_f1: float
    per_class_f1: dict[str, float] = Field(default_factory=dict)
    unknown_labels: int = Field(0, description="Rows whose label the model has never seen (counted as errors).")


class IntentModelMeta(BaseModel):
    format_version: int = FORMAT_VERSION
    classes: list[str]
    config: IntentModelConfig
    embedding_model: str | None = None
    training_rows: int
    train_seconds: float
    trained_on: str
    trained_at: str
    holdout: IntentEvaluation | None = None


class CrossValidationReport(BaseModel):
    folds: int
    rows: int
    accuracy: float
    accuracy_std: float
    macro_f1: float
    macro_f1_std: float
    fold_accuracy: list[float]
    train_seconds_per_fold: float
    embedding_seconds: float = 0.0


class IntentClassifier:
    """Probability-averaging ensemble of TF-IDF and (optionally) embedding classifiers."""

    def __init__(self, config: IntentModelConfig | None = None, encoder: TextEncoder | None = None):
        self.config = config or IntentModelConfig()
        self.encoder = encoder if self.config.use_embeddings else None
        self.classes: list[str] = []
        self.meta: IntentModelMeta | None = None
        self._tfidf = None
        self._embedding_model = None

    @property
    def uses_embeddings(self) -> bool:
        return self._embedding_model is not None

    # --- training ----------------------------------------------------------------------
    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        embeddings: np.ndarray | None = None,
        trained_on: str = "texts",
    ) -> IntentClassifier:
        """Train on texts and labels; ``embeddings`` (aligned with texts) skip re-encoding."""
        from sklearn.linear_model import LogisticRegression

        started = time.perf_counter()
        texts = [str(t) for t in texts]
        labels = [str(label) for label in labels]
        if len(set(labels)) < 2:
            raise ValueError("need at least two categories to train an intent classifier")
        self._tfidf = _tfidf_pipeline(self.config).fit(texts, labels)
        self.classes = [str(c) for c in self._tfidf.classes_]
        if self.config.use_embeddings and (self.encoder is not None or embeddings is not None):
            vectors = embeddings if embeddings is not None else self._encode(texts)
            self._embedding_model = LogisticRegression(C=self.config.embedding_c, max_iter=self.config.max_iter)
            self._embedding_model.fit(vectors, labels)
        else:
            self._embedding_model = None
        self.meta = IntentModelMeta(
            classes=self.classes,
            config=self.config,
            embedding_model=getattr(self.encoder, "name", "precomputed") if self._embedding_model else None,
            training_rows=len(texts),
            train_seconds=round(time.perf_counter() - started, 2),
            trained_on=trained_on,
            trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        return self

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self.encoder is None:
            raise ValueError("this intent model uses sentence embeddings: pass an encoder")
        return np.asarray(self.encoder.encode(texts), dtype=np.float32)

    # --- inference ---------------------------------------------------------------------
    def predict_proba(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        if self._tfidf is None:
            raise ValueError("the intent classifier is not trained")
        texts = [str(t) for t in texts]
        if not texts:
            return np.zeros((0, len(self.classes)))
        probabilities = self.config.tfidf_weight * self._tfidf.predict_proba(texts)
        total_weight = self.config.tfidf_weight
        if self._embedding_model is not None:
            vectors = embeddings if embeddings is not None else self._encode(texts)
            probabilities = probabilities + self.config.embedding_weight * self._embedding_model.predict_proba(
                vectors
            )
            total_weight += self.config.embedding_weight
        return probabilities / total_weight

    def predict(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> list[IntentPrediction]:
        probabilities = self.predict_proba(texts, embeddings)
        predictions = []
        for row in probabilities:
            order = np.argsort(-row)
            second = order[1] if len(order) > 1 else None
            predictions.append(
                IntentPrediction(
                    intent=self.classes[order[0]],
                    confidence=round(float(row[order[0]]), 4),
                    runner_up=self.classes[second] if second is not None else None,
                    runner_up_confidence=round(float(row[second]), 4) if second is not None else None,
                )
            )
        return predictions

    def predict_labels(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> list[str]:
        probabilities = self.predict_proba(texts, embeddings)
        return [self.classes[i] for i in probabilities.argmax(axis=1)]

    # --- persistence -------------------------------------------------------------------
    def save(self, folder: Path) -> Path:
        import joblib

        if self.meta is None:
            raise ValueError("the intent classifier is not trained")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump({"tfidf": self._tfidf, "embedding_model": self._embedding_model}, folder / MODEL_FILE)
        (folder / META_FILE).write_text(self.meta.model_dump_json(indent=2), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: Path, encoder: TextEncoder | None = None) -> IntentClassifier:
        """Load a saved model; one that uses embeddings needs the encoder it was trained with."""
        import joblib

        folder = Path(folder)
        if not (folder / MODEL_FILE).exists() or not (folder / META_FILE).exists():
            raise FileNotFoundError(f"no intent model in {folder} (expected {MODEL_FILE} and {META_FILE})")
        meta = IntentModelMeta.model_validate_json((folder / META_FILE).read_text(encoding="utf-8"))
        if meta.format_version != FORMAT_VERSION:
            raise ValueError(
                f"{folder}: model format {meta.format_version}, expected {FORMAT_VERSION}; retrain it"
            )
        parts = joblib.load(folder / MODEL_FILE)
        if parts["embedding_model"] is not None and encoder is None:
            raise ValueError(
                f"the intent model in {folder} uses {meta.embedding_model} embeddings: pass the encoder"
            )
        classifier = cls(meta.config, encoder)
        classifier._tfidf = parts["tfidf"]
        classifier._embedding_model = parts["embedding_model"]
        classifier.classes = meta.classes
        classifier.meta = meta
        return classifier


def _tfidf_pipeline(config: IntentModelConfig):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode"),
        TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(2, 5),
            sublinear_tf=True,
            min_df=config.char_min_df,
            strip_accents="unicode",
        ),
    )
    return make_pipeline(features, LogisticRegression(C=config.tfidf_c, max_iter=config.max_iter))


# --- data and evaluation ---------------------------------------------------------------------
def read_labelled_csv(path: Path, text_column: str = "text", label_column: str = "category") -> pd.DataFrame:
    """Rows of a ``text,category`` CSV (other column names can be given); empty rows dropped."""
    frame = pd.read_csv(path)
    missing = [c for c in (text_column, label_column) if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {list(frame.columns)}")
    frame = frame[[text_column, label_column]].dropna()
    frame = frame[frame[text_column].astype(str).str.strip() != ""]
    return frame.rename(columns={text_column: "text", label_column: "category"}).reset_index(drop=True)


def score_predictions(
    gold: Sequence[str], predicted: Sequence[str], known: Sequence[str] = ()
) -> IntentEvaluation:
    from sklearn.metrics import accuracy_score, f1_score

    gold, predicted = [str(g) for g in gold], [str(p) for p in predicted]
    labels = sorted(set(gold))
    per_class = f1_score(gold, predicted, labels=labels, average=None, zero_division=0)
    known_set = set(known)
    return IntentEvaluation(
        rows=len(gold),
        accuracy=round(float(accuracy_score(gold, predicted)), 4),
        macro_f1=round(float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)), 4),
        per_class_f1={label: round(float(v), 4) for label, v in zip(labels, per_class)},
        unknown_labels=sum(1 for g in gold if known_set and g not in known_set),
    )


def evaluate_classifier(
    classifier: IntentClassifier, texts: Sequence[str], labels: Sequence[str]
) -> IntentEvaluation:
    return score_predictions(labels, classifier.predict_labels(texts), classifier.classes)


def cross_validate(
    texts: Sequence[str],
    labels: Sequence[str],
    config: IntentModelConfig,
    encoder: TextEncoder | None = None,
    folds: int = 5,
    seed: int = 0,
) -> CrossValidationReport:
    """Stratified k-fold accuracy and macro-F1; texts are embedded once for all folds."""
    from sklearn.model_selection import StratifiedKFold

    texts, labels = [str(t) for t in texts], np.asarray([str(label) for label in labels])
    embedding_seconds = 0.0
    vectors = None
    if config.use_embeddings and encoder is not None:
        started = time.perf_counter()
        vectors = np.asarray(encoder.encode(texts), dtype=np.float32)
        embedding_seconds = time.perf_counter() - started
    accuracies, f1s, seconds = [], [], []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in splitter.split(np.zeros(len(labels)), labels):
        started = time.perf_counter()
        classifier = IntentClassifier(config, encoder).fit(
            [texts[i] for i in train_idx], labels[train_idx], None if vectors is None else vectors[train_idx]
        )
        seconds.append(time.perf_counter() - started)
        predicted = classifier.predict_labels(
            [texts[i] for i in test_idx], None if vectors is None else vectors[test_idx]
        )
        result = score_predictions(labels[test_idx], predicted, classifier.classes)
        accuracies.append(result.accuracy)
        f1s.append(result.macro_f1)
    return CrossValidationReport(
        folds=folds,
        rows=len(texts),
        accuracy=round(float(np.mean(accuracies)), 4),
        accuracy_std=round(float(np.std(accuracies)), 4),
        macro_f1=round(float(np.mean(f1s)), 4),
        macro_f1_std=round(float(np.std(f1s)), 4),
        fold_accuracy=accuracies,
        train_seconds_per_fold=round(float(np.mean(seconds)), 2),
        embedding_seconds=round(embedding_seconds, 2),
    )


def stratified_holdout(labels: Sequence[str], fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Train and held-out row positions, stratified by label (labels with one row stay in train)."""
    from sklearn.model_selection import train_test_split

    labels = np.asarray([str(label) for label in labels])
    positions = np.arange(len(labels))
    counts = pd.Series(labels).value_counts()
    splittable = np.isin(labels, counts[counts >= 2].index)
    train, held = train_test_split(
        positions[splittable], test_size=fraction, stratify=labels[splittable], random_state=seed
    )
    return np.sort(np.concatenate([train, positions[~splittable]])), np.sort(held)


# --- the default model, trained on the generated bank ------------------------------------
def labelled_bank_texts(store, labels_dir: Path) -> pd.DataFrame:
    """The bank's texts joined to the generator's intent labels: text_id, text, intent, source.

    Only usable texts are kept: social posts of customers without ``consent_social`` are
    never used, not even for training.
    """
    path = Path(labels_dir) / "texts.csv"
    if not path.exists():
        raise IntentModelUnavailable(
            f"no intent labels at {path}: the default intent model is trained on a generated bank's "
            "labels (`advisor data generate`), or train one on your own `text,category` CSV with "
            "`advisor intent train --csv FILE`"
        )
    labels = pd.read_csv(path, dtype={"text_id": str, "intent": str})
    if "usable" in labels.columns:
        labels = labels[labels["usable"].astype(str).str.lower().isin(("true", "1"))]
    interactions = store.table("interactions", ["interaction_id", "text"]).rename(
        columns={"interaction_id": "text_id"}
    )
    customers = store.table("customers", ["customer_id", "consent_social"])
    consenting = set(customers.loc[customers["consent_social"].fillna(False).astype(bool), "customer_id"])
    posts = store.table("social_posts", ["post_id", "customer_id", "text"])
    posts = posts[posts["customer_id"].isin(consenting)].rename(columns={"post_id": "text_id"})
    texts = pd.concat([interactions[["text_id", "text"]], posts[["text_id", "text"]]], ignore_index=True)
    joined = texts.merge(labels[["text_id", "intent", "source"]], on="text_id", how="inner")
    if joined.empty:
        raise IntentModelUnavailable(
            f"the intent labels in {path} match no interaction or consented social post in the data store; "
            "ingest the bank they belong to (`advisor ingest`)"
        )
    return joined.sort_values("text_id").reset_index(drop=True)


def intent_model_dir(models_dir: Path) -> Path:
    return Path(models_dir) / INTENT_MODEL_FOLDER


def train_default_intent_model(
    store, labels_dir: Path, out_dir: Path, holdout_fraction: float = 0.2, seed: int = 0
) -> IntentClassifier:
    """Train the TF-IDF intent model on the bank's labelled texts, report a held-out score, save.

    The held-out score comes from a model trained on the other rows; the saved model is then
    refitted on every row.
    """
    data = labelled_bank_texts(store, labels_dir)
    config = IntentModelConfig(use_embeddings=False)
    holdout = None
    if data["intent"].nunique() >= 2 and len(data) >= 20:
        train_idx, held_idx = stratified_holdout(data["intent"], holdout_fraction, seed)
        probe = IntentClassifier(config).fit(data["text"].iloc[train_idx], data["intent"].iloc[train_idx])
        holdout = evaluate_classifier(probe, data["text"].iloc[held_idx].tolist(), data["intent"].iloc[held_idx])
    classifier = IntentClassifier(config).fit(data["text"], data["intent"], trained_on=f"bank labels {labels_dir}")
    classifier.meta.holdout = holdout
    classifier.save(out_dir)
    return classifier


def ensure_intent_model(settings, store, labels_dir: Path | None = None) -> IntentClassifier:
    """The cached default intent model, trained from the bank's labels on first use.

    ``labels_dir`` defaults to ``<settings.data_dir>/labels``. A model trained with embeddings
    (``advisor intent train --out <models_dir>/intent``) is loaded with the shared encoder.
    Raises :class:`IntentModelUnavailable` with the reason when there is neither a model nor labels.
    """
    folder = intent_model_dir(settings.models_dir)
    if (folder / META_FILE).exists():
        return load_intent_model(folder, settings)
    labels_dir = Path(labels_dir) if labels_dir is not None else Path(settings.data_dir) / "labels"
    return train_default_intent_model(store, labels_dir, folder)


def load_intent_model(folder: Path, settings) -> IntentClassifier:
    """A saved model, with the process-wide shared encoder when it was trained with embeddings."""
    meta_path = Path(folder) / META_FILE
    if not meta_path.exists():
        raise FileNotFoundError(f"no intent model in {folder}; train one with `advisor intent train`")
    uses_embeddings = bool(json.loads(meta_path.read_text(encoding="utf-8")).get("embedding_model"))
    return IntentClassifier.load(folder, _shared_encoder(settings) if uses_embeddings else None)


def _shared_encoder(settings) -> TextEncoder:
    from bank.embeddings import encoder_from_settings

    return encoder_from_settings(settings)
