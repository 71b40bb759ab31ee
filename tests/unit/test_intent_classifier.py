"""The intent classifier: training, probabilities, persistence, evaluation helpers."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from tools.intent import (
    IntentClassifier,
    IntentModelConfig,
    cross_validate,
    evaluate_classifier,
    read_labelled_csv,
    score_predictions,
    stratified_holdout,
)

DATA = {
    "card_arrival": [
        "my card has not arrived yet",
        "when will my new card come",
        "still waiting for the card",
        "the card never arrived in the post",
        "how long until my card is delivered",
    ],
    "exchange_rate": [
        "what exchange rate do you use",
        "how much is a euro in dollars",
        "is the exchange rate fair",
        "why was the currency conversion so bad",
        "which rate applies when I pay abroad",
    ],
    "lost_card": [
        "I lost my card",
        "my card was stolen yesterday",
        "cannot find my card anywhere",
        "someone took my wallet with the card",
        "please block my lost card",
    ],
}


def labelled() -> tuple[list[str], list[str]]:
    texts = [t for examples in DATA.values() for t in examples]
    labels = [label for label, examples in DATA.items() for _ in examples]
    return texts, labels


class HashEncoder:
    """A deterministic stand-in for a sentence encoder: bag of hashed words, unit norm."""

    name = "hash-encoder"
    dimension = 64

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                vectors[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)


def test_tfidf_model_learns_and_reports_probabilities():
    texts, labels = labelled()
    model = IntentClassifier(IntentModelConfig(use_embeddings=False)).fit(texts, labels)
    assert model.classes == sorted(DATA)
    predictions = model.predict(["my card still has not arrived", "what is the exchange rate for dollars"])
    assert [p.intent for p in predictions] == ["card_arrival", "exchange_rate"]
    assert all(
        0 < p.confidence <= 1 and p.runner_up and p.runner_up_confidence <= p.confidence for p in predictions
    )
    probabilities = model.predict_proba(["I lost my card"])
    assert probabilities.shape == (1, 3) and np.isclose(probabilities.sum(), 1.0)
    assert not model.uses_embeddings


def test_embedding_model_is_averaged_in_and_needs_its_encoder(tmp_path):
    texts, labels = labelled()
    encoder = HashEncoder()
    model = IntentClassifier(IntentModelConfig(), encoder).fit(texts, labels, trained_on="unit")
    assert model.uses_embeddings and model.meta.embedding_model == "hash-encoder"
    expected = model.predict_proba(["please block my stolen card"])
    model.save(tmp_path / "intent")
    with pytest.raises(ValueError, match="encoder"):
        IntentClassifier.load(tmp_path / "intent")
    loaded = IntentClassifier.load(tmp_path / "intent", HashEncoder())
    assert np.allclose(loaded.predict_proba(["please block my stolen card"]), expected)
    assert loaded.meta.training_rows == len(texts)


def test_precomputed_embeddings_skip_the_encoder():
    texts, labels = labelled()
    encoder = HashEncoder()
    vectors = encoder.encode(texts)
    model = IntentClassifier(IntentModelConfig(), encoder).fit(texts, labels, embeddings=vectors)
    assert encoder.calls == 1
    model.predict_labels(texts[:2], embeddings=vectors[:2])
    assert encoder.calls == 1


def test_untrained_or_single_class_models_refuse():
    with pytest.raises(ValueError, match="not trained"):
        IntentClassifier(IntentModelConfig(use_embeddings=False)).predict(["hello"])
    with pytest.raises(ValueError, match="two categories"):
        IntentClassifier(IntentModelConfig(use_embeddings=False)).fit(["a", "b"], ["x", "x"])


def test_load_missing_folder_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no intent model"):
        IntentClassifier.load(tmp_path / "nothing")


def test_scores_and_unknown_labels():
    result = score_predictions(["a", "a", "b", "c"], ["a", "b", "b", "a"], known=["a", "b"])
    assert result.accuracy == 0.5
    assert result.unknown_labels == 1
    assert result.per_class_f1["c"] == 0.0
    assert 0 < result.macro_f1 < 1


def test_stratified_holdout_keeps_every_class_and_singletons_in_train():
    labels = ["a"] * 10 + ["b"] * 10 + ["c"]
    train, held = stratified_holdout(labels, 0.2, seed=1)
    assert len(set(train) & set(held)) == 0 and len(train) + len(held) == len(labels)
    assert sorted({labels[i] for i in held}) == ["a", "b"]
    assert 20 in train


def test_cross_validation_and_evaluation():
    texts, labels = labelled()
    report = cross_validate(texts, labels, IntentModelConfig(use_embeddings=False), folds=5)
    assert report.folds == 5 and len(report.fold_accuracy) == 5 and 0 <= report.accuracy <= 1
    model = IntentClassifier(IntentModelConfig(use_embeddings=False)).fit(texts, labels)
    assert evaluate_classifier(model, texts, labels).accuracy == 1.0


def test_read_labelled_csv_checks_columns(tmp_path):
    path = tmp_path / "data.csv"
    pd.DataFrame({"utterance": ["hi"], "category": ["x"]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="missing column"):
        read_labelled_csv(path)
    frame = read_labelled_csv(path, text_column="utterance")
    assert list(frame.columns) == ["text", "category"]
