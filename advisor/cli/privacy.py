"""`advisor forget`, `advisor export`, `advisor purge` and `advisor keys rotate`: data protection."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import typer

from advisor.cli.app import app, console, fail, print_json, settings

keys_app = typer.Typer(help="Manage the data key that encrypts customers' identifiers.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _confirmed(question: str) -> bool:
    """Ask on stderr and read the answer from stdin, so --json output stays clean; no answer means no."""
    sys.stderr.write(f"{question} [y/N]: ")
    sys.stderr.flush()
    try:
        answer = sys.stdin.readline()
    except (KeyboardInterrupt, OSError):
        return False
    return answer.strip().lower() in ("y", "yes")


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


@contextmanager
def _checkpointer(url: str) -> Iterator[Any]:
    """The graph's checkpointer when one exists (None otherwise); never creates a database."""
    if _is_postgres(url):
        from langgraph.checkpoint.postgres import PostgresSaver

        with PostgresSaver.from_conn_string(url) as saver:
            saver.setup()
            yield saver
        return
    if not Path(url).exists():
        yield None
        return
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    connection = sqlite3.connect(url, check_same_thread=False, timeout=30)
    try:
        saver = SqliteSaver(connection)
        saver.setup()
        yield saver
    finally:
        connection.close()


def _audit(url: str):
    from graph.audit import is_postgres_url, open_audit_trail

    if not is_postgres_url(url) and not Path(url).exists():
        return None
    return open_audit_trail(url)


def _chroma(config, as_json: bool):
    """The Chroma client, or None for an embedded store that was never created."""
    from advisor import services
    from bank.vectorstore import VectorStoreUnavailable

    if config.chroma_mode == "embedded" and not (config.chroma_path / "chroma.sqlite3").exists():
        return None
    try:
        return services.open_chroma(config)
    except VectorStoreUnavailable as error:
        fail("vector_store_unavailable", str(error), as_json)


def _feedback_paths(config) -> list[Path]:
    """The SQLite file of advisors' verdicts on offers (graph.feedback), when there is one."""
    from graph.feedback import feedback_path

    path = feedback_path(config)
    return [path] if path.is_file() else []


@contextmanager
def _stores(config, as_json: bool, with_chroma: bool = True) -> Iterator[dict[str, Any]]:
    from advisor import services

    with ExitStack() as stack:
        store = services.open_store(config)
        stack.callback(store.close)
        audit = _audit(config.audit_url)
        if audit is not None:
            stack.callback(audit.close)
        checkpointer = stack.enter_context(_checkpointer(config.checkpoint_url))
        yield {
            "store": store, "audit": audit, "checkpointer": checkpointer,
            "chroma_client": _chroma(config, as_json) if with_chroma else None,
            "chroma_path": config.chroma_path if config.chroma_mode == "embedded" else None,
            "ui_database_url": config.ui_database_url, "feedback_paths": _feedback_paths(config),
        }


@app.command("forget")
def forget(
    customer_id: str = typer.Argument(..., help="The customer to erase, e.g. C-00042."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    keep_source: bool = typer.Option(False, "--keep-source",
                                     help="Leave the ingest source CSVs (under data_dir) untouched."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Erase a customer everywhere (store, Chroma, conversations, UI, feedback, audit trail).

    The audit trail keeps a tombstone (a hash of the id and the date) and stays verifiable.
    """
    from bank.erasure import forget_customer

    config = settings()
    if not config.store_path.exists():
        fail("no_data", f"No data store at {config.store_path}: nothing to erase", as_json)
    if not yes and not _confirmed(f"Erase every record of {customer_id}? This cannot be undone"):
        fail("not_confirmed", "erasure not confirmed (pass --yes to skip the question)", as_json, exit_code=1)
    with _stores(config, as_json) as stores:
        report = forget_customer(customer_id, stores["store"], chroma_client=stores["chroma_client"],
                                 chroma_path=stores["chroma_path"], checkpointer=stores["checkpointer"],
                                 audit=stores["audit"], ui_database_url=stores["ui_database_url"],
                                 feedback_paths=stores["feedback_paths"],
                                 source_dir=None if keep_source else config.data_dir)
    if report.found:
        from graph.feedback import erase_postgres_feedback

        report.feedback_rows += erase_postgres_feedback(config, customer_id, report.trace_ids)
    if not report.found:
        fail("unknown_customer", f"nothing is held about {customer_id}", as_json)
    if as_json:
        print_json(report.model_dump(mode="json"))
        return
    console.print(f"[green]erased[/] {customer_id}: {sum(report.store.values()):,} store rows, "
                  f"{report.chroma_documents} texts, {len(report.checkpoint_threads)} conversations, "
                  f"{report.ui_threads} UI threads, {report.feedback_rows} feedback rows, "
                  f"{sum(report.source_rows.values()):,} source rows, "
                  f"{len(report.audit_erased) + len(report.audit_redacted)} audit records "
                  f"(tombstone #{report.tombstone_seq})")
    if report.trace_ids and config.tracing_enabled:
        console.print(f"[yellow]LangSmith[/]: delete the runs of traces {', '.join(report.trace_ids)}")
    for warning in report.warnings:
        console.print(f"[yellow]warning[/]: {warning}")


def _export_trace_ids(data: dict) -> list[str]:
    """The trace ids of the answers an export holds (feedback rows are keyed by them)."""
    records = data.get("audit_records") or []
    return sorted({str(r.get("trace_id")) for r in records if isinstance(r, dict) and r.get("trace_id")})


@app.command("export")
def export(
    customer_id: str = typer.Argument(..., help="The customer, e.g. C-00042."),
    out: Path = typer.Option(..., "--out", help="JSON file to write (created with mode 0600)."),
    as_json: bool = typer.Option(False, "--json", help="Print a summary as JSON."),
) -> None:
    """Everything held about a customer (profile decrypted, activity, audit records, feedback) as JSON."""
    from bank.erasure import export_customer

    config = settings()
    if not config.store_path.exists():
        fail("no_data", f"No data store at {config.store_path}", as_json)
    with _stores(config, as_json, with_chroma=False) as stores:
        data = export_customer(customer_id, stores["store"], audit=stores["audit"],
                               checkpointer=stores["checkpointer"], ui_database_url=stores["ui_database_url"],
                               feedback_paths=stores["feedback_paths"])
    if data is None:
        fail("unknown_customer", f"no customer with id {customer_id}", as_json)
    from graph.feedback import postgres_feedback_rows

    held_in_postgres = postgres_feedback_rows(config, customer_id, _export_trace_ids(data))
    if held_in_postgres:
        data.setdefault("feedback", {}).setdefault("offer_feedback", []).extend(held_in_postgres)
    out.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(out, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False, default=str)
    summary = {"customer_id": customer_id, "file": str(out),
               **{k: len(v) for k, v in data.items() if isinstance(v, list)}}
    if as_json:
        print_json(summary)
        return
    console.print(f"exported {customer_id} to {out}: " + ", ".join(
        f"{v} {k}" for k, v in summary.items() if isinstance(v, int)))


@app.command("purge")
def purge(
    older_than_days: int = typer.Option(None, "--older-than-days", min=1,
                                        help="Retention period (default: settings.retention_days)."),
    as_of: str = typer.Option(None, "--as-of", help="Count the period back from this date (default: today)."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Remove transactions, payments, interactions, posts and conversations older than the retention period."""
    from bank.erasure import purge_older_than, retention_cutoff

    config = settings()
    if not config.store_path.exists():
        fail("no_data", f"No data store at {config.store_path}", as_json)
    try:
        today = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        fail("bad_date", f"--as-of must be a date like 2026-10-31, not {as_of!r}", as_json)
    days = older_than_days or config.retention_days
    cutoff = retention_cutoff(days, today)
    if not yes and not _confirmed(f"Delete activity dated before {cutoff}?"):
        fail("not_confirmed", "purge not confirmed (pass --yes to skip the question)", as_json, exit_code=1)
    with _stores(config, as_json) as stores:
        report = purge_older_than(stores["store"], cutoff, chroma_client=stores["chroma_client"],
                                  chroma_path=stores["chroma_path"], checkpointer=stores["checkpointer"],
                                  ui_database_url=stores["ui_database_url"])
    if as_json:
        print_json(report.model_dump(mode="json"))
        return
    removed = ", ".join(f"{count:,} {table}" for table, count in report.store.items()) or "no rows"
    console.print(f"purged activity before {report.cutoff}: {removed}; {report.chroma_documents:,} texts, "
                  f"{report.checkpoint_threads} conversations, {report.ui_threads} UI threads")
    for warning in report.warnings:
        console.print(f"[yellow]warning[/]: {warning}")


@keys_app.command("rotate")
def rotate(
    keep_backup: bool = typer.Option(False, "--keep-backup", help="Keep the old key as <key file>.old."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Generate a new data key, re-encrypt every identifier and rebuild the name indexes.

    Stop the app first (or restart it afterwards): running processes hold the old key.
    """
    from bank.keyrotation import rotate_data_key
    from bank.privacy import DataKeyError, DecryptionError

    config = settings()
    if config.data_key is not None:
        fail("key_from_environment",
             "the data key comes from ADVISOR_DATA_KEY, which this command cannot change: unset it to rotate the "
             "key file, or re-key by hand (see docs/SECURITY.md)", as_json)
    try:
        report = rotate_data_key(config.store_path, config.key_file, keep_backup=keep_backup)
    except (DataKeyError, DecryptionError) as error:
        fail("key_rotation_failed", str(error), as_json)
    if as_json:
        print_json(report.model_dump(mode="json"))
        return
    console.print(f"[green]rotated[/] data key {', '.join(report.old_key_ids) or '-'} -> {report.new_key_id}: "
                  f"{report.values_reencrypted:,} values re-encrypted for {report.customers:,} customers, "
                  f"{report.name_tokens:,} name tokens re-indexed in {report.seconds:.1f}s"
                  + (" (finished an interrupted rotation)" if report.resumed else ""))
    if report.backup:
        console.print(f"old key kept at {report.backup}: delete it once backups made with it have expired")
