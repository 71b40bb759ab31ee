"""`advisor sentiment` and `advisor intent`: the text models of the sentiment specialist."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

from advisor.cli.app import app, console, fail, print_json, settings

sentiment_app = typer.Typer(help="Financial sentiment scoring (VADER + financial lexicon).", no_args_is_help=True)
intent_app = typer.Typer(help="Financial intent classification.", no_args_is_help=True)
app.add_typer(sentiment_app, name="sentiment")
app.add_typer(intent_app, name="intent")

SEMEVAL_HEADLINES = Path("semeval2017_task5") / "headlines.json"


def _shared_datasets() -> Path:
    from advisor.settings import REPO_ROOT

    return (REPO_ROOT / ".." / "shared" / "datasets").resolve()


def _read_csv(path: Path, as_json: bool):
    import pandas as pd

    if not path.exists():
        fail("file_not_found", f"{path} does not exist", as_json)
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        fail("unreadable_csv", f"{path}: {error}", as_json)


def _scorer():
    from tools.sentiment import load_sentiment_scorer

    return load_sentiment_scorer(settings())


# --- sentiment ---------------------------------------------------------------------------------
@sentiment_app.command("score")
def sentiment_score(
    csv: Path = typer.Option(..., "--csv", help="CSV with a text column; one score per row."),
    text_column: str = typer.Option("text", help="Name of the text column."),
    out: Path = typer.Option(None, help="Write the CSV back with a 'sentiment' column added."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Score each row's text from -1 (negative) to 1 (positive)."""
    frame = _read_csv(csv, as_json)
    if text_column not in frame.columns:
        fail(
            "missing_column",
            f"{csv} has no '{text_column}' column (columns: {', '.join(map(str, frame.columns))})",
            as_json,
        )
    scorer = _scorer()
    texts = frame[text_column].fillna("").astype(str).tolist()
    started = time.perf_counter()
    scores = scorer.score_sentiment(texts)
    seconds = time.perf_counter() - started
    if out is not None:
        frame.assign(sentiment=scores).to_csv(out, index=False)
    if as_json:
        print_json(
            {
                "method": scorer.method,
                "scorer_version": scorer.version,
                "rows": len(scores),
                "seconds": round(seconds, 3),
                "scores": scores,
            }
        )
        return
    table = Table(title=f"Sentiment ({scorer.version})")
    table.add_column("row", justify="right")
    table.add_column("sentiment", justify="right")
    table.add_column("text")
    for i, (text, score) in enumerate(zip(texts[:20], scores[:20], strict=True)):
        table.add_row(str(i), f"{score:+.3f}", text[:90])
    console.print(table)
    if len(scores) > 20:
        console.print(f"... {len(scores) - 20:,} more rows (use --json or --out for all)")
    if out is not None:
        console.print(f"wrote {out}")


@sentiment_app.command("evaluate")
def sentiment_evaluate(
    csv: Path = typer.Option(None, "--csv", help="CSV or JSON with text (or title) and score (or sentiment)."),
    bank: Path = typer.Option(None, "--bank", help="A generated bank folder: its texts against labels/texts.csv."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Pearson correlation of the scorer with gold sentiment scores."""
    from tools.sentiment import evaluate_scorer, load_scored_texts

    if (csv is None) == (bank is None):
        fail("bad_arguments", "give exactly one of --csv FILE or --bank DIR", as_json)
    scorer = _scorer()
    results = {}
    if csv is not None:
        if not csv.exists():
            fail("file_not_found", f"{csv} does not exist", as_json)
        try:
            texts, gold = load_scored_texts(csv)
        except ValueError as error:
            fail("missing_column", str(error), as_json)
        results["all"] = evaluate_scorer(scorer, texts, gold)
    else:
        try:
            frame = _generated_texts(bank)
        except FileNotFoundError as error:
            fail("data_not_found", str(error), as_json)
        results["all"] = evaluate_scorer(scorer, frame["text"].tolist(), frame["sentiment"].tolist())
        for source, group in frame.groupby("source"):
            results[str(source)] = evaluate_scorer(scorer, group["text"].tolist(), group["sentiment"].tolist())
    if as_json:
        print_json({name: result.model_dump() for name, result in results.items()})
        return
    table = Table(title=f"Sentiment evaluation ({scorer.version})")
    for column in ("subset", "rows", "pearson", "spearman", "MAE"):
        table.add_column(column, justify="left" if column == "subset" else "right")
    for name, result in results.items():
        table.add_row(
            name,
            f"{result.rows:,}",
            f"{result.pearson:.3f}",
            f"{result.spearman:.3f}",
            f"{result.mean_absolute_error:.3f}",
        )
    console.print(table)


def _generated_texts(bank: Path):
    """A generated bank's interactions and social posts joined to their sentiment labels."""
    import pandas as pd

    labels_path = bank / "labels" / "texts.csv"
    for path in (bank / "interactions.csv", bank / "social_posts.csv", labels_path):
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist; generate a bank with `advisor data generate`")
    labels = pd.read_csv(labels_path, dtype={"text_id": str})
    interactions = pd.read_csv(bank / "interactions.csv").rename(columns={"interaction_id": "text_id"})
    posts = pd.read_csv(bank / "social_posts.csv").rename(columns={"post_id": "text_id"})
    texts = pd.concat([interactions[["text_id", "text"]], posts[["text_id", "text"]]], ignore_index=True)
    return texts.merge(labels[["text_id", "source", "sentiment"]], on="text_id").dropna(
        subset=["text", "sentiment"]
    )


@sentiment_app.command("train")
def sentiment_train(
    data: Path = typer.Option(
        None,
        help="Scored texts: CSV (text, score) or the SemEval-2017 headlines JSON "
        "(default: ../shared/datasets/semeval2017_task5/headlines.json).",
    ),
    alpha: float = typer.Option(10.0, min=0.0, help="Ridge regularisation."),
    embeddings: bool = typer.Option(
        False,
        "--embeddings/--no-embeddings",
        help="Add MiniLM sentence embeddings to the features (slower scoring).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Train the ridge calibration over the lexicon scorer; without it the lexicon scorer is used."""
    from advisor import services
    from tools.sentiment import load_scored_texts, sentiment_model_dir, train_calibration

    path = data or _shared_datasets() / SEMEVAL_HEADLINES
    if not path.exists():
        fail(
            "data_not_found",
            f"{path} does not exist; pass --data FILE with text and score columns "
            "(the lexicon scorer stays in use)",
            as_json,
        )
    try:
        texts, gold = load_scored_texts(path)
    except ValueError as error:
        fail("missing_column", str(error), as_json)
    encoder = services.text_encoder(settings()) if embeddings else None
    calibration, report = train_calibration(texts, gold, trained_on=path.name, encoder=encoder, alpha=alpha)
    saved = calibration.save(sentiment_model_dir(settings().models_dir))
    if as_json:
        print_json({"saved": str(saved), **report.model_dump()})
        return
    console.print(f"calibration saved to [bold]{saved}[/]")
    console.print(
        f"{report.rows:,} texts, {report.folds}-fold CV Pearson {report.cv_pearson:.3f} "
        f"(lexicon alone {report.cv_pearson_lexicon:.3f}, plain VADER {report.cv_pearson_plain_vader:.3f})"
    )


# --- intent ------------------------------------------------------------------------------------
def _encoder_if(embeddings: bool):
    from advisor import services

    return services.text_encoder(settings()) if embeddings else None


def _labelled(csv: Path, text_column: str, label_column: str, as_json: bool):
    from tools.intent import read_labelled_csv

    if not csv.exists():
        fail("file_not_found", f"{csv} does not exist", as_json)
    try:
        frame = read_labelled_csv(csv, text_column, label_column)
    except ValueError as error:
        fail("missing_column", str(error), as_json)
    if frame["category"].nunique() < 2:
        fail("too_few_categories", f"{csv} needs at least two categories to train on", as_json)
    return frame


@intent_app.command("train")
def intent_train(
    csv: Path = typer.Option(None, "--csv", help="Labelled CSV (text,category). Without it: the bank's labels."),
    out: Path = typer.Option(None, help="Model folder (default: <models_dir>/intent, the model the agents use)."),
    text_column: str = typer.Option("text", help="Name of the text column."),
    label_column: str = typer.Option("category", help="Name of the label column."),
    embeddings: bool = typer.Option(
        True,
        "--embeddings/--no-embeddings",
        help="Add the MiniLM embedding model (more accurate, slower to train).",
    ),
    labels_dir: Path = typer.Option(None, help="Generated-bank labels folder (default: <data_dir>/labels)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Train an intent classifier on a CSV, or the default model on the bank's labelled texts."""
    from advisor import services
    from tools.intent import (
        IntentClassifier,
        IntentModelConfig,
        IntentModelUnavailable,
        intent_model_dir,
        train_default_intent_model,
    )

    config = settings()
    out = out or intent_model_dir(config.models_dir)
    if csv is None:
        try:
            classifier = train_default_intent_model(
                services.open_store(config), labels_dir or config.data_dir / "labels", out
            )
        except IntentModelUnavailable as error:
            fail("no_labels", str(error), as_json)
    else:
        frame = _labelled(csv, text_column, label_column, as_json)
        encoder = _encoder_if(embeddings)
        classifier = IntentClassifier(IntentModelConfig(use_embeddings=embeddings), encoder)
        classifier.fit(frame["text"], frame["category"], trained_on=csv.name).save(out)
    meta = classifier.meta
    if as_json:
        print_json({"saved": str(out), **meta.model_dump(mode="json")})
        return
    console.print(
        f"intent model saved to [bold]{out}[/]: {len(meta.classes)} categories, "
        f"{meta.training_rows:,} texts, trained in {meta.train_seconds:.1f}s"
        + (f" with {meta.embedding_model} embeddings" if meta.embedding_model else "")
    )
    if meta.holdout is not None:
        console.print(
            f"held-out: accuracy {meta.holdout.accuracy:.4f}, macro-F1 {meta.holdout.macro_f1:.4f} "
            f"on {meta.holdout.rows:,} texts"
        )


@intent_app.command("evaluate")
def intent_evaluate(
    csv: Path = typer.Option(..., "--csv", help="Labelled CSV (text,category)."),
    model: Path = typer.Option(None, help="Model folder to evaluate (default: <models_dir>/intent)."),
    cv: int = typer.Option(0, "--cv", min=0, help="K-fold cross-validation on the CSV instead (e.g. 5)."),
    holdout: float = typer.Option(
        0.0,
        "--holdout",
        min=0.0,
        max=0.9,
        help="Train on the rest of the CSV and test on this stratified fraction.",
    ),
    text_column: str = typer.Option("text", help="Name of the text column."),
    label_column: str = typer.Option("category", help="Name of the label column."),
    embeddings: bool = typer.Option(
        True, "--embeddings/--no-embeddings", help="With --cv/--holdout: train with the embedding model."
    ),
    seed: int = typer.Option(0, help="Seed of the folds or the held-out split."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Accuracy and macro-F1 of a saved model on a CSV, or of fresh models by --cv / --holdout."""
    from tools.intent import (
        IntentClassifier,
        IntentModelConfig,
        cross_validate,
        evaluate_classifier,
        intent_model_dir,
        load_intent_model,
        stratified_holdout,
    )

    if cv and holdout:
        fail("bad_arguments", "give --cv or --holdout, not both", as_json)
    if cv == 1:
        fail("bad_arguments", "--cv needs at least 2 folds", as_json)
    frame = _labelled(csv, text_column, label_column, as_json)
    payload: dict
    if cv:
        report = cross_validate(
            frame["text"].tolist(),
            frame["category"].tolist(),
            IntentModelConfig(use_embeddings=embeddings),
            _encoder_if(embeddings),
            cv,
            seed,
        )
        payload = {"mode": "cv", **report.model_dump()}
    elif holdout:
        train_idx, test_idx = stratified_holdout(frame["category"], holdout, seed)
        encoder = _encoder_if(embeddings)
        started = time.perf_counter()
        classifier = IntentClassifier(IntentModelConfig(use_embeddings=embeddings), encoder).fit(
            frame["text"].iloc[train_idx], frame["category"].iloc[train_idx], trained_on=csv.name
        )
        train_seconds = time.perf_counter() - started
        result = evaluate_classifier(
            classifier, frame["text"].iloc[test_idx].tolist(), frame["category"].iloc[test_idx].tolist()
        )
        payload = {
            "mode": "holdout",
            "holdout_fraction": holdout,
            "train_rows": len(train_idx),
            "train_seconds": round(train_seconds, 1),
            "embeddings": classifier.uses_embeddings,
            **result.model_dump(),
        }
    else:
        folder = model or intent_model_dir(settings().models_dir)
        try:
            classifier = load_intent_model(folder, settings())
        except FileNotFoundError as error:
            fail("model_not_found", str(error), as_json)
        result = evaluate_classifier(classifier, frame["text"].tolist(), frame["category"].tolist())
        payload = {"mode": "model", "model": str(folder), **result.model_dump()}
    if as_json:
        print_json(payload)
        return
    console.print(
        f"[bold]{payload['mode']}[/] on {csv.name}: accuracy {payload['accuracy']:.4f}, "
        f"macro-F1 {payload['macro_f1']:.4f}"
        + (f" (± {payload['accuracy_std']:.4f} over {cv} folds)" if cv else "")
        + (f", trained in {payload['train_seconds']:.1f}s" if holdout else "")
    )


@intent_app.command("predict")
def intent_predict(
    texts: list[str] = typer.Argument(..., help="One or more texts."),
    model: Path = typer.Option(None, help="Model folder (default: <models_dir>/intent, trained on first use)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Classify texts with the intent model."""
    from advisor import services
    from tools.intent import IntentModelUnavailable, ensure_intent_model, load_intent_model

    config = settings()
    try:
        if model is not None:
            classifier = load_intent_model(model, config)
        else:
            classifier = ensure_intent_model(config, services.open_store(config))
    except IntentModelUnavailable as error:
        fail("no_labels", str(error), as_json)
    except FileNotFoundError as error:
        fail("model_not_found", str(error), as_json)
    predictions = classifier.predict(texts)
    if as_json:
        print_json([{"text": t, **p.model_dump()} for t, p in zip(texts, predictions, strict=True)])
        return
    for text, prediction in zip(texts, predictions, strict=True):
        console.print(f"{prediction.intent} ({prediction.confidence:.2f}): {text}")
