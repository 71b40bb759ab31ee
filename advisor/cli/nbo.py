"""`advisor nbo` (next-best offers and alerts for the whole book) and `advisor segments report`."""

from __future__ import annotations

import os
import time
from pathlib import Path

import typer
from rich.table import Table

from advisor.cli.app import app, console, fail, print_json, settings
from advisor.cli.spending import _as_of, segments_app

TABLE_SUFFIXES = (".csv", ".parquet")


def _write_table(frame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def _services(config, store):
    from advisor import services
    from graph.context import AdvisorServices

    labels = config.data_dir / "labels"
    return AdvisorServices(settings=config, store=store, knowledge=services.knowledge_base(config),
                           labels_dir=labels if labels.is_dir() else None)


@app.command("nbo")
def nbo(
    out: Path = typer.Option(..., "--out", help="Offers file: .csv or .parquet."),
    segment: str = typer.Option(None, "--segment", help="Only customers of this spending segment."),
    product: str = typer.Option(None, "--product", help="Which customers to offer this product code, ranked."),
    limit: int = typer.Option(None, "--limit", min=1, help="At most this many customers, strongest first."),
    alerts: bool = typer.Option(False, "--alerts", help="Also write overspending and risk alerts to "
                                                        "<out stem>-alerts<suffix>."),
    top_k: int = typer.Option(3, "--top-k", min=1, help="Offers per customer."),
    no_voice: bool = typer.Option(False, "--no-voice", help="Leave customers' texts out (no stated needs, "
                                                            "complaints or vulnerability signals from them)."),
    workers: int = typer.Option(0, "--workers", min=0, help="Processes for the per-customer step "
                                                           "(0: one per CPU)."),
    as_of: str = typer.Option(None, "--as-of", help="Analysis date (default: the bank's last day with data)."),
    as_json: bool = typer.Option(False, "--json", help="Print the run summary as JSON."),
) -> None:
    """Next-best offers for every customer, with the agents' eligibility, affordability, fit, risk and
    compliance rules and no LLM: ranked offers with price tier, fit, reasons and disclosures."""
    from advisor import services
    from tools.book import BookModels, book_alerts, book_findings, customers_for_product, next_best_offers
    from tools.book.findings import read_book

    if out.suffix.lower() not in TABLE_SUFFIXES:
        fail("bad_output", f"--out must end in .csv or .parquet, got {out.name}", as_json)
    config = settings()
    store = services.open_store(config)
    if store.count("customers") == 0:
        fail("no_data", "the data store holds no customers; run `advisor ingest`", as_json)
    day = _as_of(as_of, store, as_json)
    started, cpu_started = time.perf_counter(), time.process_time()
    context = _services(config, store)
    if product is not None and product not in {p.code for p in context.knowledge.products}:
        fail("unknown_product", f"no product {product} in the catalogue", as_json)
    models = BookModels(
        risk_model=context.risk_model,
        segmenter=context.segmenter,
        sentiment_scorer=None if no_voice else context.sentiment_scorer,
        intent_classifier=None if no_voice else context.intent_classifier,
    )
    models_seconds = time.perf_counter() - started
    tables = read_book(store, with_text=not no_voice)
    read_seconds = time.perf_counter() - started - models_seconds
    findings = book_findings(tables, context.knowledge, models, day, workers=workers or os.cpu_count() or 1)
    segments = set(findings.features["segment"])
    if segment is not None and segment not in segments:
        fail("unknown_segment", f"no customer in segment {segment!r}; segments: {', '.join(sorted(segments))}",
             as_json)
    if product is not None:
        frame = customers_for_product(findings.profiles, findings.features, context.knowledge, day, product,
                                      top_k=top_k, feedback=context.feedback, segment=segment, limit=limit)
    else:
        frame = next_best_offers(findings.profiles, findings.features, context.knowledge, day, top_k=top_k,
                                 feedback=context.feedback, segment=segment, limit=limit)
    written = {"offers": str(_write_table(frame, out))}
    if alerts:
        alert_frame = book_alerts(findings.overspending, findings.credit)
        if segment is not None:
            members = set(findings.features.loc[findings.features["segment"] == segment, "customer_id"])
            alert_frame = alert_frame[alert_frame["customer_id"].isin(members)]
        written["alerts"] = str(_write_table(alert_frame, out.with_name(f"{out.stem}-alerts{out.suffix}")))
    summary = {
        "as_of": day.isoformat(),
        "customers_scored": len(findings.profiles),
        "rows": len(frame),
        "customers_in_output": int(frame["customer_id"].nunique()),
        "voice": models.with_voice,
        "files": written,
        "seconds": {"models": round(models_seconds, 2), "read": round(read_seconds, 2),
                    "total": round(time.perf_counter() - started, 2)},
        "workers": workers or os.cpu_count() or 1,
        "cpu_seconds_main_process": round(time.process_time() - cpu_started, 2),
    }
    if as_json:
        print_json(summary)
        return
    what = f"customers for {product}" if product else "offers"
    console.print(f"[bold]{summary['rows']:,}[/] rows of {what} for {summary['customers_in_output']:,} of "
                  f"{summary['customers_scored']:,} customers as of {summary['as_of']} "
                  f"in {summary['seconds']['total']}s")
    for kind, path in written.items():
        console.print(f"{kind}: {path}")


@segments_app.command("report")
def report(
    out_chart: Path = typer.Option(None, "--out-chart", help="Chart file: .html (works offline) or .png "
                                                             "(needs kaleido)."),
    as_of: str = typer.Option(None, "--as-of", help="Analysis date (default: the bank's last day with data)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Spending segments across the book: size, typical monthly spend, top categories and rewards."""
    from advisor import services
    from tools.book.segments import segment_report, write_segment_chart
    from tools.spending import ensure_segmenter

    if out_chart is not None and out_chart.suffix.lower() not in (".html", ".png"):
        fail("bad_output", f"--out-chart must end in .html or .png, got {out_chart.name}", as_json)
    if out_chart is not None and out_chart.suffix.lower() == ".png":
        try:
            import kaleido  # noqa: F401
        except ImportError:
            fail("no_png_engine", "writing PNG needs the kaleido package; write .html instead", as_json)
    config = settings()
    store = services.open_store(config)
    if store.count("transactions") == 0:
        fail("no_data", "the data store holds no transactions; run `advisor ingest`", as_json)
    day = _as_of(as_of, store, as_json)
    segmenter = ensure_segmenter(config, store)
    transactions = store.table("transactions", ["customer_id", "timestamp", "amount", "category"])
    table = segment_report(transactions, segmenter, day)
    chart = str(write_segment_chart(table, out_chart)) if out_chart is not None else None
    if as_json:
        print_json({"as_of": day.isoformat(), "chart": chart, "segments": table.to_dict(orient="records")})
        return
    view = Table(title=f"Spending segments, {int(table['customers'].sum()):,} customers, as of {day}")
    numeric = ("customers", "share", "typical spend / month")
    for column in ("segment", *numeric, "top categories", "suggested rewards"):
        view.add_column(column, justify="right" if column in numeric else "left")
    for row in table.itertuples(index=False):
        view.add_row(row.segment, f"{row.customers:,}", f"{row.share_of_book:.0%}",
                     f"EUR {row.typical_monthly_spend:,.0f}", row.top_categories, row.rewards or "-")
    console.print(view)
    if chart:
        console.print(f"chart: {chart}")
