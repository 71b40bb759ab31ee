"""`advisor eval`: the evaluation suites, run offline through LangSmith's `evaluate`."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import typer
from rich.table import Table

from advisor.cli.app import app, console, fail, print_json, settings


@app.command("eval")
def evaluate(
    suite: list[str] = typer.Option(None, "--suite", help="Suite to run (repeat for several; default: all). "
                                                         "routing, retrieval, compliance, grounded, fairness, "
                                                         "adversarial."),
    as_json: bool = typer.Option(False, "--json", help="Print the full report as JSON."),
    upload: bool = typer.Option(False, "--upload", help="Also record datasets and experiments in LangSmith "
                                                        "(needs LANGSMITH_API_KEY)."),
    limit: int = typer.Option(None, "--limit", min=1, help="Run at most this many examples per suite."),
    thresholds_file: Path = typer.Option(None, "--thresholds", help="Thresholds TOML (default: "
                                                                     "evals/thresholds.toml)."),
) -> None:
    """Evaluate routing, retrieval, compliance, grounding, fairness and robustness against the ingested bank.

    Reports go to <home>/reports as JSON and HTML; the exit code is 1 when a suite falls
    below its threshold in evals/thresholds.toml.
    """
    from evals.suites import SUITES

    config = settings()
    names = suite or list(SUITES)
    unknown = [name for name in names if name not in SUITES]
    if unknown:
        fail("unknown_suite", f"unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}", as_json)
    if upload and config.langsmith_api_key is None:
        fail("no_langsmith_key", "--upload records datasets and experiments in LangSmith and needs "
                                 "LANGSMITH_API_KEY set in the environment; without --upload the suites run "
                                 f"offline and the results stay under {config.reports_dir}", as_json)
    if thresholds_file is not None and not thresholds_file.exists():
        fail("thresholds_not_found", f"{thresholds_file} does not exist", as_json)
    if not config.store_path.exists():
        fail("no_data", f"No ingested bank under {config.home}: run `make demo` (or `advisor data generate` and "
                        "`advisor ingest`) first", as_json)

    from evals.report import THRESHOLDS_FILE, EvalReport, judge, load_thresholds, report_json, write_reports
    from evals.suites import EvalContext, run_suite
    from evals.upload import ensure_dataset, experiment_metadata, git_revision, model_name, upload_client

    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    started = time.perf_counter()
    ctx = EvalContext(config, limit=limit)
    try:
        if not ctx.customer_ids:
            fail("no_data", f"The data store at {config.store_path} holds no customers: run `advisor ingest` "
                            "first", as_json)
        if any(SUITES[n].uses_graph or n == "retrieval" for n in names) and not _knowledge_indexed(ctx):
            fail("no_knowledge_index", "The knowledge base is not in ChromaDB: run `advisor ingest` (without "
                                       "--skip-text) first", as_json)
        thresholds = load_thresholds(thresholds_file or THRESHOLDS_FILE)
        revision = git_revision()
        warm_up_seconds = None
        if any(SUITES[n].uses_graph for n in names):
            warm_up_seconds, warm_up_error = ctx.warm_up()
            console.print(f"models loaded in {warm_up_seconds:.0f} s (trained where missing); the latencies "
                          "below are of turns on loaded models, as in the app")
            if warm_up_error:
                console.print(f"[yellow]a model failed to load ({warm_up_error}); the examples that need it "
                              "will fail[/]")
        verdicts = []
        for name in names:
            chosen = SUITES[name]
            console.print(f"[bold]{name}[/]: {chosen.description}")
            metadata = experiment_metadata(config, name, _version(chosen.dataset), revision)
            if upload:
                client = upload_client(config, ctx.store)
                ctx.trace_client = client
                dataset = ensure_dataset(client, _version(chosen.dataset), chosen.examples(ctx))
                result = run_suite(chosen, ctx, client=client, data=dataset, metadata=metadata, upload=True)
            else:
                result = run_suite(chosen, ctx, metadata=metadata)
            verdicts.append(judge(result, thresholds.get(name, [])))
        report = EvalReport(started_at=started_at, seconds=round(time.perf_counter() - started, 1),
                            backend=config.llm_backend, model=model_name(config), git_revision=revision,
                            advisor_home=str(config.home.resolve()), as_of=str(ctx.as_of),
                            warm_up_seconds=warm_up_seconds, verdicts=verdicts)
    finally:
        ctx.close()
    json_path, html_path = write_reports(report, config.reports_dir)
    _print_table(report)
    console.print(f"reports: {json_path} and {html_path} ({report.seconds:.0f} s)")
    if as_json:
        print_json(report_json(report) | {"report_files": {"json": str(json_path), "html": str(html_path)}})
    if not report.passed:
        raise typer.Exit(1)


def _version(dataset: str):
    from evals.data import dataset_version

    return dataset_version(dataset)


def _knowledge_indexed(ctx) -> bool:
    from bank.vectorstore import POLICIES, PRODUCTS

    collections = ctx.services.retriever.collections
    return all(collections[name].count() > 0 for name in (PRODUCTS, POLICIES))


def _print_table(report) -> None:
    table = Table(title=f"Evaluation ({report.backend}, {report.model})")
    for column in ("suite", "metric", "value", "threshold", ""):
        table.add_column(column, justify="right" if column in ("value", "threshold") else "left")
    for verdict in report.verdicts:
        suite = verdict.suite
        bounds = {check.metric: check for check in verdict.checks}
        first = True
        for metric, value in suite.metrics.items():
            check = bounds.get(metric)
            if check is None and not _headline(metric):
                continue
            bound = f"{'>=' if check.kind == 'min' else '<='} {check.bound:g}" if check else ""
            mark = ("[green]ok[/]" if check.passed else "[red]FAIL[/]") if check else ""
            table.add_row(f"{suite.name} ({suite.examples}, {suite.seconds:.0f}s)" if first else "", metric,
                          f"{value:.4g}", bound, mark)
            first = False
        for check in verdict.checks:
            if check.metric not in suite.metrics:
                table.add_row(suite.name if first else "", check.metric, "-", f"{check.kind} {check.bound:g}",
                              "[red]not measured[/]")
                first = False
        for note in suite.notes:
            table.add_row("", f"[yellow]{note}[/]", "", "", "")
    console.print(table)
    console.print("[green]all suites passed[/]" if report.passed
                  else "[red]some suites fell below their thresholds[/]")


def _headline(metric: str) -> bool:
    """Metrics worth a row even without a threshold (the per-agent and per-mode details are in the reports)."""
    return metric.startswith(("recall@", "mrr_", "latency_", "micro_")) or "_" not in metric or metric in (
        "trajectory_exact", "facts_in_answer", "sources_hit", "injection_flagged", "has_offers")
