"""`advisor data`, `advisor ingest` and `advisor customers`: the bank's data."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from advisor.cli.app import app, console, fail, print_json, settings

data_app = typer.Typer(help="Generate synthetic banks.", no_args_is_help=True)
customers_app = typer.Typer(help="Look at the customers in the data store.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(customers_app, name="customers")


@data_app.command("generate")
def generate(
    customers: int = typer.Option(2000, min=1, help="Number of customers."),
    months: int = typer.Option(12, min=1, max=60, help="Months of history."),
    seed: int = typer.Option(42, help="Random seed; the same seed gives the same bank."),
    out: Path = typer.Option(None, help="Output folder for the CSV tables (default: <home>/bank)."),
    labels: Path = typer.Option(None, help="Ground-truth folder (default: <out>/labels)."),
) -> None:
    """Generate a deterministic synthetic bank as CSV tables plus ground-truth labels."""
    from bank.generator import generate_bank

    out = out or settings().data_dir
    report = generate_bank(customers=customers, months=months, seed=seed, out_dir=out, labels_dir=labels)
    console.print(f"generated bank in [bold]{out}[/] in {report.seconds:.1f}s")
    print_json(report.model_dump(mode="json"))


@app.command("ingest")
def ingest(
    data: Path = typer.Option(None, help="Folder with the bank's CSV tables (default: <home>/bank)."),
    skip_text: bool = typer.Option(False, "--skip-text", help="Load structured tables only; embed no text."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Load the bank's tables into the data store and its texts into ChromaDB (idempotent)."""
    from advisor import services
    from bank.ingest import Ingestor

    config = settings()
    data = data or config.data_dir
    if not data.exists():
        fail("data_not_found", f"{data} does not exist; run `advisor data generate` or pass --data", as_json)
    store = services.open_store(config)
    client = encoder = knowledge = None
    if not skip_text:
        client = services.open_chroma(config)
        encoder = services.text_encoder(config)
        knowledge = services.knowledge_base(config)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=not console.is_terminal) as progress:
        tasks: dict[str, int] = {}

        def progress_factory(label: str, total: int):
            tasks[label] = progress.add_task(label, total=total)
            return lambda advance: progress.advance(tasks[label], advance)

        report = Ingestor(store, client, encoder, knowledge, progress=_rows_only(progress_factory),
                            batch_size=config.ingest_batch_size).run(
            data, with_text=not skip_text)
    if as_json:
        print_json(report.model_dump(mode="json") | {"error_count": report.error_count})
        return
    table = Table(title=f"Ingested {data}")
    for column in ("table", "loaded", "rejected", "rows/s"):
        table.add_column(column, justify="right" if column != "table" else "left")
    for name, result in report.tables.items():
        table.add_row(name, f"{result.loaded:,}", f"{result.rejected:,}", f"{result.rows_per_second:,.0f}")
    console.print(table)
    for name, count in report.texts_embedded.items():
        console.print(f"{name}: {count:,} texts embedded, {report.texts_unchanged[name]:,} unchanged")
    if report.social_posts_without_consent:
        console.print(f"{report.social_posts_without_consent:,} social posts skipped: no consent_social")
    for error in report.errors[:20]:
        console.print(f"[yellow]rejected[/] {error}")
    if report.error_count > 20:
        console.print(f"... {report.error_count - 20:,} more rejected rows (use --json for the first 500)")
    console.print(f"done in {report.seconds:.1f}s")


def _rows_only(factory):
    """Table loading reports bytes as its total but advances by rows: show rows alone."""
    def make(label: str, total: int):
        if label.startswith("load "):
            return factory(label, None)
        return factory(label, total)
    return make


@customers_app.command("list")
def list_customers(
    advisor: str = typer.Option(None, help="Only the book of this advisor."),
    search: str = typer.Option(None, help="Search by customer id or name."),
    limit: int = typer.Option(20, min=1, help="Rows to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List customers (pseudonymous ids and non-identifying fields)."""
    from advisor import services

    store = services.open_store(settings())
    if search:
        rows = [c.model_dump(include={"customer_id", "advisor_id", "annual_income", "tenure_months",
                                      "employment_status"}) for c in store.search_customers(search, limit)]
    else:
        where, params = ("advisor_id = ?", (advisor,)) if advisor else ("", ())
        frame = store.table("customers", ["customer_id", "advisor_id", "annual_income", "tenure_months",
                                          "employment_status"], where, params)
        rows = frame.head(limit).to_dict("records")
    if as_json:
        print_json(rows)
        return
    table = Table(title="Customers")
    for column in ("customer_id", "advisor_id", "annual_income", "tenure_months", "employment_status"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row[c]) for c in ("customer_id", "advisor_id", "annual_income", "tenure_months",
                                               "employment_status")))
    console.print(table)


@customers_app.command("show")
def show_customer(
    customer_id: str = typer.Argument(..., help="Customer id, e.g. C-00042."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one customer: profile, accounts and activity counts."""
    from advisor import services

    store = services.open_store(settings())
    customer = store.customer(customer_id)
    if customer is None:
        fail("unknown_customer", f"no customer with id {customer_id}", as_json)
    accounts = store.accounts(customer_id)
    summary = {
        "customer": customer.model_dump(mode="json"),
        "accounts": accounts.drop(columns=["extra"]).to_dict("records"),
        "transactions": len(store.transactions(customer_id)),
        "payments": len(store.payments(customer_id)),
        "interactions": len(store.interactions(customer_id)),
        "social_posts": len(store.social_posts(customer_id)),
    }
    if as_json:
        print_json(summary)
        return
    console.print(summary)
