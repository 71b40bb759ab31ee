"""`advisor finetune`: export approved answers, train a LoRA adapter, gate its activation on the evals."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import typer
from rich.table import Table

from advisor.cli.app import app, console, fail, print_json, settings

finetune_app = typer.Typer(help="Continuous learning for the zephyr backend: export, train, evaluate.",
                           no_args_is_help=True)
app.add_typer(finetune_app, name="finetune")


def _identifiers_lookup(config):
    """customer id -> the identifiers redaction must hide (from the data store, when there is one)."""
    if not config.store_path.exists():
        return (lambda _customer_id: []), None
    from advisor.services import open_store

    store = open_store(config)

    def identifiers_for(customer_id: str) -> list[str]:
        customer = store.customer(customer_id)
        return customer.identifiers if customer else []

    return identifiers_for, store


def _counts_table(counts) -> Table:
    table = Table(title="Fine-tuning set")
    table.add_column("what")
    table.add_column("count", justify="right")
    for name, value in counts.model_dump(exclude={"by_topic"}).items():
        table.add_row(name.replace("_", " "), str(value))
    for topic, value in counts.by_topic.items():
        table.add_row(f"  topic {topic}", str(value))
    return table


@finetune_app.command("export")
def export(
    out: Path = typer.Option(None, "--out", help="SFT file to write (default: <home>/finetune/sft.jsonl); the "
                                                 "negatives and a manifest are written beside it."),
    min_examples: int = typer.Option(None, "--min-examples", min=1,
                                     help="Refuse with fewer approved answers (default: finetune_min_examples)."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts and files as JSON."),
) -> None:
    """Build the chat-format SFT set from signed-off and rated-up answers in the audit trail.

    Rated-down, flagged and blocked answers go to a separate negatives file. Exits 1,
    writing nothing, when the set is too small or unbalanced.
    """
    from finetune.adapters import export_dir
    from finetune.export import build_export, refusal, write_export
    from graph.audit import is_postgres_url, open_audit_trail

    config = settings()
    if not is_postgres_url(config.audit_url) and not Path(config.audit_url).exists():
        fail("no_audit_trail", f"no audit trail at {config.audit_url}: answer and review questions first", as_json)
    trail = open_audit_trail(config.audit_url)
    identifiers_for, store = _identifiers_lookup(config)
    try:
        result = build_export(trail.all(), identifiers_for, similarity=config.finetune_dedupe_similarity)
    finally:
        trail.close()
        if store is not None:
            store.close()
    console.print(_counts_table(result.counts))
    reason = refusal(result, min_examples or config.finetune_min_examples, config.finetune_max_share)
    if reason:
        if as_json:
            print_json({"error": {"code": "refused", "message": reason}, "counts": result.counts.model_dump()})
            raise typer.Exit(1)
        fail("refused", reason, as_json=False, exit_code=1)
    manifest = {"created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "audit_url": config.audit_url if not is_postgres_url(config.audit_url) else "postgresql",
                "dedupe_similarity": config.finetune_dedupe_similarity}
    files = write_export(result, out or export_dir(config) / "sft.jsonl", manifest)
    console.print(f"[green]wrote[/] {result.counts.positives} examples to {files.sft}, "
                  f"{result.counts.negatives} negatives to {files.negatives}")
    if as_json:
        print_json({"counts": result.counts.model_dump(), "files": files.model_dump(mode="json")})


def training_config(config, base_model: str | None = None, max_steps: int | None = None):
    from finetune.training import LoraTrainingConfig

    return LoraTrainingConfig(
        base_model=base_model or config.zephyr_model, rank=config.finetune_lora_rank,
        alpha=config.finetune_lora_alpha, dropout=config.finetune_lora_dropout,
        target_modules=tuple(config.finetune_target_modules), learning_rate=config.finetune_learning_rate,
        epochs=config.finetune_epochs, max_steps=max_steps or config.finetune_max_steps,
        max_length=config.finetune_max_length, batch_size=config.finetune_batch_size,
        grad_accumulation=config.finetune_grad_accumulation,
        gradient_checkpointing=config.finetune_gradient_checkpointing, load_in_4bit=config.load_in_4bit,
    )


@finetune_app.command("train")
def train(
    data: Path = typer.Option(None, "--data", help="SFT file (default: <home>/finetune/sft.jsonl)."),
    max_steps: int = typer.Option(None, "--max-steps", min=1, help="Stop after this many optimiser steps."),
    as_json: bool = typer.Option(False, "--json", help="Print the model card as JSON."),
) -> None:
    """Train a LoRA adapter of zephyr_model on the SFT file (QLoRA nf4 on a GPU, float32 on a CPU).

    Writes the adapter, MODEL_CARD.md and model_card.json to <home>/adapters/<timestamp>/.
    The adapter is not used until `advisor finetune evaluate` activates it.
    """
    from evals.upload import git_revision
    from finetune.adapters import export_dir, new_adapter_dir, write_model_card
    from finetune.export import read_manifest
    from finetune.training import read_chat_examples, train_lora

    config = settings()
    data = data or export_dir(config) / "sft.jsonl"
    if not data.is_file():
        fail("no_data", f"{data} does not exist: run `advisor finetune export` first", as_json)
    try:
        conversations = read_chat_examples(data)
    except (ValueError, KeyError) as error:
        fail("bad_data", str(error), as_json)
    if not conversations:
        fail("no_data", f"{data} holds no examples", as_json)
    plan = training_config(config, max_steps=max_steps)
    adapter = new_adapter_dir(config)
    console.print(f"training a LoRA adapter of {plan.base_model} on {len(conversations)} examples ...")
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        result = train_lora(plan, conversations, adapter)
    except (OSError, ValueError) as error:
        fail("training_failed", str(error), as_json)
    manifest = read_manifest(data) or {}
    card = {
        "base_model": plan.base_model,
        "created_at": started_at,
        "git_revision": git_revision(),
        "data": {"file": str(data.resolve()), "examples_in_file": len(conversations),
                 "counts": manifest.get("counts", {}), "exported_at": manifest.get("created_at")},
        "settings": plan.as_dict(),
        "training": result.as_dict(),
    }
    json_path, markdown_path = write_model_card(adapter, card)
    console.print(f"[green]adapter[/] {adapter} ({result.steps} steps, loss {result.loss_first} -> "
                  f"{result.loss_last}); card {markdown_path}. Activate it with "
                  f"`advisor finetune evaluate --adapter {adapter}`.")
    if as_json:
        print_json(card | {"adapter": str(adapter)})


def _comparison_table(decision) -> Table:
    table = Table(title=f"Base vs adapter ({decision.base_model})")
    for column in ("suite", "metric", "base", "adapter", "threshold", ""):
        table.add_column(column, justify="right" if column in ("base", "adapter") else "left")
    for name in decision.suites:
        base, adapted = decision.base.get(name), decision.adapted.get(name)
        metrics = list((adapted or base).metrics) if (adapted or base) else []
        for index, metric in enumerate(metrics):
            values = [_value((side.metrics if side else {}).get(metric)) for side in (base, adapted)]
            bound = (adapted or base).bounds.get(metric, "")
            mark = "[red]FAIL[/]" if adapted is None or metric in adapted.failed else "[green]ok[/]"
            table.add_row(name if index == 0 else "", metric, *values, bound, mark)
    return table


def _value(value) -> str:
    return "-" if value is None else f"{value:.4g}"


@finetune_app.command("evaluate")
def evaluate(
    adapter: Path = typer.Option(..., "--adapter", help="Adapter folder written by `advisor finetune train`."),
    suite: list[str] = typer.Option(None, "--suite", help="Suite to compare (repeat; default: every suite with "
                                                         "thresholds that runs the model)."),
    limit: int = typer.Option(None, "--limit", min=1, help="Run at most this many examples per suite."),
    thresholds_file: Path = typer.Option(None, "--thresholds", help="Thresholds TOML (default: "
                                                                     "evals/thresholds.toml)."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
) -> None:
    """Compare the gated suites with the base model and with the adapter; activate it if all pass.

    Both runs use the zephyr backend on the adapter's base model. The adapter becomes
    <home>/adapters/ACTIVE only when no gated suite falls below its threshold; otherwise
    the command names the failing suites and exits 1.
    """
    from functools import partial

    from evals.report import THRESHOLDS_FILE, load_thresholds
    from finetune.gate import evaluate_adapter, gated_suites, run_gated_suites

    config = settings()
    if not adapter.is_dir():
        fail("adapter_not_found", f"{adapter} is not a folder", as_json)
    if thresholds_file is not None and not thresholds_file.exists():
        fail("thresholds_not_found", f"{thresholds_file} does not exist", as_json)
    if not config.store_path.exists():
        fail("no_data", f"No ingested bank under {config.home}: run `advisor ingest` first", as_json)
    try:
        suites = gated_suites(load_thresholds(thresholds_file or THRESHOLDS_FILE), suite)
        runner = partial(run_gated_suites, limit=limit, thresholds_file=thresholds_file)
        decision = evaluate_adapter(config, adapter, suites, runner)
    except ValueError as error:
        fail("cannot_evaluate", str(error), as_json)
    console.print(_comparison_table(decision))
    console.print(f"[green]{decision.reason}[/]" if decision.activated else f"[red]{decision.reason}[/]")
    if as_json:
        print_json(decision.model_dump(mode="json"))
    if not decision.activated:
        raise typer.Exit(1)
