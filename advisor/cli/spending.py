"""`advisor spending` and `advisor segments`: the spending specialist's analysis and its model."""

from __future__ import annotations

from datetime import date

import typer
from rich.table import Table

from advisor.cli.app import app, console, fail, print_json, settings

spending_app = typer.Typer(help="Spending analysis of one customer.", no_args_is_help=True)
segments_app = typer.Typer(help="The spending-segment model of the book.", no_args_is_help=True)
app.add_typer(spending_app, name="spending")
app.add_typer(segments_app, name="segments")


def _as_of(value: str | None, store, as_json: bool) -> date:
    if value:
        try:
            return date.fromisoformat(value)
        except ValueError:
            fail("bad_date", f"--as-of must be YYYY-MM-DD, got {value!r}", as_json)
    latest = store.latest_date()
    if latest is None:
        fail("no_data", "the data store holds no transactions; run `advisor ingest`", as_json)
    return latest


@spending_app.command("show")
def show(
    customer_id: str = typer.Argument(..., help="Customer id, e.g. C-00042."),
    as_of: str = typer.Option(None, "--as-of", help="Analysis date (default: the bank's last day with data)."),
    no_segment: bool = typer.Option(False, "--no-segment", help="Skip the segment model (and its training)."),
    as_json: bool = typer.Option(False, "--json", help="Print the finding as JSON."),
) -> None:
    """Categories, trends, subscriptions, overspending, budget, suspicious payments and segment."""
    from advisor import services
    from tools.spending import ensure_segmenter, spending_for_customer

    config = settings()
    store = services.open_store(config)
    if not store.customer_exists(customer_id):
        fail("unknown_customer", f"no customer with id {customer_id}", as_json)
    day = _as_of(as_of, store, as_json)
    segmenter = None if no_segment else ensure_segmenter(config, store)
    finding = spending_for_customer(store, customer_id, day, segmenter)
    if as_json:
        print_json(finding.model_dump(mode="json"))
        return
    if not finding.available:
        console.print(f"[yellow]no spending analysis[/]: {finding.missing_reason}")
        return
    console.print(f"[bold]{customer_id}[/] {finding.window_start} to {finding.window_end} "
                  f"({finding.months_covered} months), segment: {finding.segment or '-'}")
    console.print(f"income EUR {finding.monthly_income:,.2f} a month, "
                  f"spend EUR {finding.monthly_spend:,.2f} a month")
    categories = Table(title="Spend by category")
    for column in ("category", "monthly average", "last month", "share"):
        categories.add_column(column, justify="left" if column == "category" else "right")
    for row in finding.by_category:
        categories.add_row(row.category, f"{row.monthly_average:,.2f}", f"{row.last_month:,.2f}",
                           f"{row.share:.0%}")
    console.print(categories)
    subscriptions = Table(title=f"Subscriptions (EUR {finding.subscriptions_monthly_cost:,.2f} a month)")
    for column in ("merchant", "period", "amount", "charges", "notes"):
        subscriptions.add_column(column)
    for sub in finding.subscriptions:
        notes = []
        if sub.duplicate:
            notes.append("duplicate")
        if sub.overlaps_with:
            notes.append("overlaps " + ", ".join(sub.overlaps_with))
        if sub.price_rise_from is not None:
            notes.append(f"rose from {sub.price_rise_from:.2f} on {sub.price_rise_date}")
        subscriptions.add_row(sub.merchant, sub.period, f"{sub.amount:,.2f}", str(sub.charges), "; ".join(notes))
    console.print(subscriptions)
    for alert in finding.overspending:
        console.print(f"[yellow]overspending[/] {alert.category} {alert.month}: EUR {alert.amount:,.2f} "
                      f"vs usual EUR {alert.baseline:,.2f} (+{alert.excess_pct:.0f}%)")
    for suspicious in finding.suspicious:
        console.print(f"[red]suspicious[/] {suspicious.transaction_id} {suspicious.timestamp} "
                      f"EUR {suspicious.amount:,.2f} {suspicious.merchant or ''}: {'; '.join(suspicious.reasons)}")
    if finding.budget:
        console.print(f"[bold]savings target[/] EUR {finding.budget.monthly_savings_target:,.2f} a month")
        for action in finding.budget.actions:
            console.print(f"  - {action}")


@segments_app.command("train")
def train(as_json: bool = typer.Option(False, "--json", help="Print the model summary as JSON.")) -> None:
    """Train the spending-segment model (and the book's merchant profiles) from the data store."""
    import time

    from advisor import services
    from tools.spending import ensure_segmenter, segmenter_path

    config = settings()
    store = services.open_store(config)
    if store.count("transactions") == 0:
        fail("no_data", "the data store holds no transactions; run `advisor ingest`", as_json)
    started = time.perf_counter()
    segmenter = ensure_segmenter(config, store, retrain=True)
    summary = {
        "path": str(segmenter_path(config)),
        "customers": segmenter.trained_on,
        "seconds": round(time.perf_counter() - started, 2),
        "segments": [
            {"segment_id": i, "name": name, "customers": size, "leans_towards": dominant,
             "rewards": segmenter.rewards_for(i)}
            for i, (name, size, dominant) in enumerate(zip(segmenter.names, segmenter.sizes, segmenter.dominant))
        ],
    }
    if as_json:
        print_json(summary)
        return
    table = Table(title=f"Spending segments ({segmenter.trained_on:,} customers, {summary['seconds']}s)")
    for column in ("id", "name", "customers", "leans towards", "rewards"):
        table.add_column(column)
    for row in summary["segments"]:
        table.add_row(str(row["segment_id"]), row["name"], f"{row['customers']:,}",
                      ", ".join(row["leans_towards"]), "; ".join(row["rewards"]))
    console.print(table)
    console.print(f"saved to {summary['path']}")
