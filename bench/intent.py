"""Text-model benchmark of the sentiment specialist: prints JSON.

- BANKING77 (../shared/datasets/banking77/train.csv): a stratified held-out split of the
  shared train file (the official test split is not here), for the TF-IDF model alone and
  the TF-IDF + MiniLM ensemble, with training time (encoding of the training texts
  included) and, with --cv K, K-fold cross-validation (texts embedded once per run).
- Sentiment: 5-fold CV Pearson of the ridge calibration on the SemEval-2017 headlines,
  and Pearson of the lexicon and calibrated scorers on a generated bank's texts against
  the generator's labels; lexicon throughput in texts/s.
- The default intent model: trained on one generated bank, accuracy on another seed's texts,
  and the time to classify and score one customer's 10 texts.

Usage: python bench/intent.py [--holdout 0.2] [--seeds 0 1] [--cv 0] [--customers 1000] [--skip-banking77]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from advisor import services
from advisor.settings import REPO_ROOT, Settings, apply_process_environment

DATASETS = (REPO_ROOT / ".." / "shared" / "datasets").resolve()


def banking77(settings: Settings, holdout: float, seeds: list[int], folds: int) -> dict:
    import pandas as pd

    from tools.intent import (
        IntentClassifier,
        IntentModelConfig,
        cross_validate,
        evaluate_classifier,
        stratified_holdout,
    )

    path = DATASETS / "banking77" / "train.csv"
    if not path.exists():
        return {"skipped": f"{path} not found"}
    frame = pd.read_csv(path)
    encoder = services.text_encoder(settings)
    results: dict = {
        "rows": len(frame),
        "classes": int(frame["category"].nunique()),
        "holdout": holdout,
        "runs": [],
    }
    for seed in seeds:
        train_idx, test_idx = stratified_holdout(frame["category"], holdout, seed)
        for use_embeddings in (False, True):
            started = time.perf_counter()
            model = IntentClassifier(IntentModelConfig(use_embeddings=use_embeddings), encoder).fit(
                frame["text"].iloc[train_idx], frame["category"].iloc[train_idx]
            )
            train_seconds = time.perf_counter() - started
            started = time.perf_counter()
            result = evaluate_classifier(
                model, frame["text"].iloc[test_idx].tolist(), frame["category"].iloc[test_idx].tolist()
            )
            results["runs"].append(
                {
                    "seed": seed,
                    "model": "tfidf+minilm" if use_embeddings else "tfidf",
                    "train_rows": len(train_idx),
                    "test_rows": len(test_idx),
                    "train_seconds": round(train_seconds, 1),
                    "predict_seconds": round(time.perf_counter() - started, 1),
                    "accuracy": result.accuracy,
                    "macro_f1": result.macro_f1,
                }
            )
            print(json.dumps(results["runs"][-1]), file=sys.stderr, flush=True)
    if folds:
        report = cross_validate(
            frame["text"].tolist(), frame["category"].tolist(), IntentModelConfig(), encoder, folds
        )
        results["cross_validation"] = report.model_dump()
    return results


def generated_texts(bank: Path):
    import pandas as pd

    labels = pd.read_csv(bank / "labels" / "texts.csv", dtype={"text_id": str})
    interactions = pd.read_csv(bank / "interactions.csv").rename(columns={"interaction_id": "text_id"})
    posts = pd.read_csv(bank / "social_posts.csv").rename(columns={"post_id": "text_id"})
    texts = pd.concat([interactions[["text_id", "text"]], posts[["text_id", "text"]]])
    return texts.merge(labels, on="text_id")


def sentiment(bank: Path) -> dict:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from tools.sentiment import SentimentScorer, load_scored_texts, pearson, train_calibration

    texts = generated_texts(bank)
    lexicon = SentimentScorer()
    started = time.perf_counter()
    lexicon_scores = lexicon.score_sentiment(texts["text"].tolist())
    rate = len(texts) / (time.perf_counter() - started)
    plain = SentimentIntensityAnalyzer()
    result = {
        "generated_rows": len(texts),
        "lexicon_texts_per_second": round(rate),
        "generated_pearson": {
            "plain_vader": round(
                pearson([plain.polarity_scores(t)["compound"] for t in texts["text"]], texts["sentiment"]), 4
            ),
            "lexicon": round(pearson(lexicon_scores, texts["sentiment"]), 4),
        },
    }
    for source, group in texts.assign(score=lexicon_scores).groupby("source"):
        result["generated_pearson"][f"lexicon_{source}"] = round(pearson(group["score"], group["sentiment"]), 4)
    headlines = DATASETS / "semeval2017_task5" / "headlines.json"
    if headlines.exists():
        calibration, report = train_calibration(*load_scored_texts(headlines), trained_on=headlines.name)
        result["semeval_headlines"] = report.model_dump()
        calibrated = SentimentScorer(calibration=calibration).score_sentiment(texts["text"].tolist())
        result["generated_pearson"]["calibrated"] = round(pearson(calibrated, texts["sentiment"]), 4)
        for source, group in texts.assign(score=calibrated).groupby("source"):
            result["generated_pearson"][f"calibrated_{source}"] = round(
                pearson(group["score"], group["sentiment"]), 4
            )
    return result


def default_intent(home: Path, customers: int) -> dict:
    from bank.generator import generate_bank
    from bank.ingest import Ingestor
    from tools.intent import ensure_intent_model, evaluate_classifier
    from tools.sentiment import SentimentScorer

    settings = Settings(home=home)
    generate_bank(customers=customers, months=12, seed=42, out_dir=settings.data_dir)
    other = home / "other-bank"
    generate_bank(customers=customers, months=12, seed=43, out_dir=other)
    store = services.open_store(settings)
    Ingestor(store).run(settings.data_dir, with_text=False)
    started = time.perf_counter()
    model = ensure_intent_model(settings, store)
    train_seconds = time.perf_counter() - started
    texts = generated_texts(other)
    texts = texts[texts["usable"].astype(str).str.lower() == "true"]
    unseen = evaluate_classifier(model, texts["text"].tolist(), texts["intent"].tolist())
    scorer = SentimentScorer()
    sample = texts["text"].head(10).tolist()
    model.predict(sample)
    started = time.perf_counter()
    for _ in range(50):
        model.predict(sample)
        scorer.score_sentiment(sample)
    return {
        "training_rows": model.meta.training_rows,
        "train_seconds_with_holdout_probe": round(train_seconds, 1),
        "holdout_same_bank": model.meta.holdout.model_dump() if model.meta.holdout else None,
        "other_seed_bank": unseen.model_dump(exclude={"per_class_f1"}),
        "ms_per_customer_10_texts": round((time.perf_counter() - started) / 50 * 1000, 2),
    }, settings.data_dir


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--cv", type=int, default=0)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--skip-banking77", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-intent-") as tmp:
        settings = Settings(home=Path(tmp) / "home")
        apply_process_environment(settings)
        intent_result, bank = default_intent(settings.home, args.customers)
        report = {"default_intent_model": intent_result, "sentiment": sentiment(bank)}
        if not args.skip_banking77:
            report["banking77"] = banking77(settings, args.holdout, args.seeds, args.cv)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
