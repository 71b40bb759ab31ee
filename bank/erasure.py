"""A customer's rights over their data, and retention: erase, export, purge.

``forget_customer`` removes one customer from every place the system keeps data:
the data store, the customer texts in Chroma, the conversation checkpoints, the
Chainlit threads and feedback, the advisors' feedback table, the ingest source folder
and the audit trail (which keeps a tombstone, see :mod:`graph.audit`). Each step is
idempotent and the store goes last, so a run cut short is finished by running it
again. SQLite files are vacuumed and their write-ahead logs truncated so the removed
rows do not linger in free pages.

The stores above the data layer (the checkpointer, the audit trail, the feedback
store) are passed in as objects with a small protocol, so this module imports
nothing from ``graph/`` or the UI.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
from pydantic import BaseModel, Field

from bank.contract import TABLES
from bank.store import BankStore
from bank.vectorstore import CUSTOMER_TEXTS

CUSTOMER_TABLES = ("customers", "accounts", "transactions", "payments", "interactions", "social_posts")
DATED_TABLES = {"transactions": "timestamp", "interactions": "timestamp", "social_posts": "timestamp",
                "payments": "due_date"}
TEXT_DOCUMENT_PREFIX = {"interactions": ("interaction_id", "interaction"),
                        "social_posts": ("post_id", "social_post")}
CHROMA_VACUUM_TIMEOUT_S = 300


def customer_hash(customer_id: str) -> str:
    """The tombstone's name for an erased customer: SHA-256 of the id, nothing else about the person.

    Unkeyed on purpose: whoever knows an id can check that it was erased (and an import can
    refuse to bring it back), and it stays checkable after a key rotation.
    """
    return hashlib.sha256(f"customer:{customer_id.strip()}".encode()).hexdigest()


# --- protocols of the stores above the data layer --------------------------------------------


class ErasableAudit(Protocol):
    def erase_customer(self, customer_id: str, identifiers: Sequence[str] = (),
                       details: dict[str, Any] | None = None, held_elsewhere: bool = True) -> Any: ...

    def list(self, advisor_id: str | None = None, customer_id: str | None = None, verdict: str | None = None,
             since: str | None = None, kind: str | None = None, limit: int = 100) -> list[Any]: ...


class Checkpointer(Protocol):
    def list(self, config: Any, *, filter: Any = None, before: Any = None, limit: Any = None) -> Iterator[Any]: ...

    def delete_thread(self, thread_id: str) -> None: ...


# --- reports ----------------------------------------------------------------------------------


class ErasureReport(BaseModel):
    customer_hash: str
    found: bool = Field(description="Whether anything about the customer was held anywhere.")
    store: dict[str, int] = Field(default_factory=dict, description="Rows removed per data-store table.")
    chroma_documents: int = 0
    chroma_vacuumed: bool = False
    checkpoint_threads: list[str] = Field(default_factory=list)
    ui_threads: int = 0
    ui_rows: dict[str, int] = Field(default_factory=dict, description="Rows removed per UI table.")
    feedback_rows: int = 0
    source_rows: dict[str, int] = Field(default_factory=dict, description="Rows removed per source CSV file.")
    audit_erased: list[int] = Field(default_factory=list)
    audit_redacted: list[int] = Field(default_factory=list)
    tombstone_seq: int | None = None
    trace_ids: list[str] = Field(default_factory=list,
                                 description="Traces of the customer's answers, for stores outside this system "
                                             "(LangSmith) that the operator must clear by hand.")
    warnings: list[str] = Field(default_factory=list)


class PurgeReport(BaseModel):
    cutoff: date
    store: dict[str, int] = Field(default_factory=dict, description="Rows removed per table.")
    chroma_documents: int = 0
    checkpoint_threads: int = 0
    ui_threads: int = 0
    warnings: list[str] = Field(default_factory=list)


# --- SQLite hygiene ----------------------------------------------------------------------------


def compact_sqlite(connection: sqlite3.Connection) -> None:
    """Rebuild the file without free pages and empty the write-ahead log."""
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.execute("VACUUM")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def compact_sqlite_file(path: Path) -> None:
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        compact_sqlite(connection)
    finally:
        connection.close()


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite path or ``sqlite[+driver]:///`` URL; None for a server database."""
    if "://" not in url:
        return Path(url)
    match = re.match(r"sqlite(\+\w+)?:///(.*)", url)
    return Path(match.group(2)) if match else None


# --- the data store ----------------------------------------------------------------------------


def customer_identifiers(store: BankStore, customer_id: str) -> list[str]:
    """The customer id and direct identifiers (name, e-mail, phone, postcode) held in the store."""
    customer = store.customer(customer_id)
    values = [customer_id]
    if customer is not None:
        values += [v for v in (customer.full_name, customer.email, customer.phone, customer.postcode) if v]
    return values


def store_counts(store: BankStore, customer_id: str) -> dict[str, int]:
    with store.transaction() as connection:
        return {name: int(connection.execute(f"SELECT COUNT(*) FROM {name} WHERE customer_id = ?",
                                             (customer_id,)).fetchone()[0])
                for name in CUSTOMER_TABLES}


def customer_text_ids(store: BankStore, customer_id: str) -> list[str]:
    """Chroma ids of the customer's interactions and social posts, as ingestion names them."""
    ids = []
    for table, (column, kind) in TEXT_DOCUMENT_PREFIX.items():
        frame = store.table(table, [column], "customer_id = ?", (customer_id,))
        ids += [f"{kind}:{value}" for value in frame[column]]
    return ids


def erase_from_store(store: BankStore, customer_id: str) -> dict[str, int]:
    removed = store.delete_customer(customer_id)
    with store.transaction() as connection:
        compact_sqlite(connection)
    return {name: count for name, count in removed.items() if count}


# --- Chroma --------------------------------------------------------------------------------------


def erase_from_chroma(client, customer_id: str, known_ids: Iterable[str] = ()) -> list[str]:
    """Delete the customer's documents from the customer-texts collection; returns their ids."""
    try:
        collection = client.get_collection(CUSTOMER_TEXTS)
    except Exception:  # Chroma raises NotFoundError or ValueError by version
        return []
    found = collection.get(where={"customer_id": customer_id}, include=[])["ids"]
    ids = sorted(set(found) | set(_existing(collection, list(known_ids))))
    if ids:
        collection.delete(ids=ids)
    return ids


def _existing(collection, ids: list[str]) -> list[str]:
    return collection.get(ids=ids, include=[])["ids"] if ids else []


CHROMA_DELETE_OPERATION = 3  # chromadb's code for a delete in its write log (embeddings_queue)


def scrub_chroma_log(path: Path, ids: Sequence[str]) -> int:
    """Drop the write-log entries that still carry deleted documents (text and metadata).

    Embedded Chroma keeps every write in ``embeddings_queue`` until its vector index has
    been flushed, which for a small collection may be never; the delete operations, which
    carry only the id, stay so a replay still removes the vectors. The full-text index is
    then merged so the deleted texts' terms leave it too.
    """
    database = Path(path) / "chroma.sqlite3"
    if not ids or not database.exists():
        return 0
    connection = sqlite3.connect(database, timeout=60, isolation_level=None)
    removed = 0
    try:
        connection.execute("PRAGMA secure_delete = ON")
        connection.execute("BEGIN IMMEDIATE")
        for start in range(0, len(ids), 500):
            batch = list(ids[start:start + 500])
            marks = ", ".join("?" for _ in batch)
            removed += connection.execute(
                f"DELETE FROM embeddings_queue WHERE operation != ? AND id IN ({marks})",
                (CHROMA_DELETE_OPERATION, *batch)).rowcount
        has_fts = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'embedding_fulltext_search'").fetchone()
        if has_fts:
            connection.execute(
                "INSERT INTO embedding_fulltext_search(embedding_fulltext_search) VALUES ('optimize')")
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    finally:
        connection.close()
    return removed


def vacuum_chroma(path: Path, timeout_s: float = CHROMA_VACUUM_TIMEOUT_S) -> tuple[bool, str]:
    """Run ``chroma vacuum`` on an embedded Chroma folder (purges its log and free pages).

    Chroma keeps deleted records in its write log and in free SQLite pages until it is
    vacuumed. Runs in a child process so that this process's own client does not hold the file.
    """
    if not (Path(path) / "chroma.sqlite3").exists():
        return True, "no embedded Chroma database"
    command = [sys.executable, "-c",
               "import sys, chromadb_rust_bindings; chromadb_rust_bindings.cli(sys.argv[1:])",
               "chroma", "vacuum", "--path", str(path), "--force"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                              env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    except subprocess.TimeoutExpired:
        return False, f"chroma vacuum did not finish within {timeout_s:.0f}s"
    output = (done.stdout + done.stderr).strip()
    return done.returncode == 0 and "Vacuum complete" in output, output[-500:]


# --- graph checkpoints ----------------------------------------------------------------------------


def checkpoint_threads(checkpointer: Checkpointer) -> dict[str, tuple[str | None, str]]:
    """Every thread of the checkpointer: thread id -> (customer id of its latest state, latest time)."""
    threads: dict[str, tuple[str | None, str]] = {}
    for item in checkpointer.list(None):
        thread_id = item.config["configurable"]["thread_id"]
        values = item.checkpoint.get("channel_values") or {}
        stamp = str(item.checkpoint.get("ts") or "")
        known = threads.get(thread_id)
        customer = values.get("customer_id") if isinstance(values, dict) else None
        if known is None or stamp > known[1]:
            threads[thread_id] = (customer or (known[0] if known else None), stamp)
        elif customer and known[0] is None:
            threads[thread_id] = (customer, known[1])
    return threads


def checkpoint_threads_mentioning(checkpointer: Checkpointer, needles: Sequence[str]) -> set[str]:
    """Threads whose saved state or pending writes quote any needle (a question naming the customer)."""
    patterns = needle_patterns(needles)
    found: set[str] = set()
    for item in checkpointer.list(None):
        thread_id = item.config["configurable"]["thread_id"]
        if thread_id in found:
            continue
        text = json.dumps([item.checkpoint.get("channel_values"), item.pending_writes or []], default=str,
                          ensure_ascii=False)
        if any(p.search(text) for p in patterns):
            found.add(thread_id)
    return found


def erase_checkpoints(checkpointer: Checkpointer, customer_id: str, thread_ids: Iterable[str] = (),
                      needles: Sequence[str] = ()) -> list[str]:
    """Delete every thread whose state is about the customer, quotes one of ``needles`` (the
    customer's identifiers) or is named in ``thread_ids``."""
    about = {tid for tid, (customer, _) in checkpoint_threads(checkpointer).items() if customer == customer_id}
    doomed = sorted(about | set(thread_ids) | checkpoint_threads_mentioning(checkpointer, needles))
    for thread_id in doomed:
        checkpointer.delete_thread(thread_id)
    compact_checkpointer(checkpointer)
    return doomed


def compact_checkpointer(checkpointer: Checkpointer) -> None:
    connection = getattr(checkpointer, "conn", None)
    if isinstance(connection, sqlite3.Connection):
        with getattr(checkpointer, "lock", _no_lock()):
            compact_sqlite(connection)


@contextmanager
def _no_lock():
    yield


# --- the Chainlit data layer --------------------------------------------------------------------

UI_TEXT_COLUMNS = {"threads": ("name", "metadata", "tags", "userIdentifier"),
                   "steps": ("name", "input", "output", "metadata"),
                   "elements": ("name", "props", "url"),
                   "feedbacks": ("comment",)}
UI_CHILD_TABLES = ("feedbacks", "elements", "steps")


def sync_database_url(url: str) -> str:
    """The same database through a synchronous driver (sqlite3, psycopg)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    driver = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}.get(parsed.get_backend_name())
    return parsed.set(drivername=driver).render_as_string(hide_password=False) if driver else url


def _ui_engine(url: str):
    from sqlalchemy import create_engine

    path = sqlite_path(sync_database_url(url))
    if path is not None and not path.exists():
        return None
    return create_engine(sync_database_url(url))


def _mentions(value: Any, patterns: Sequence[re.Pattern]) -> bool:
    return isinstance(value, str) and any(p.search(value) for p in patterns)


def needle_patterns(needles: Iterable[str]) -> list[re.Pattern]:
    """Case-insensitive patterns that match a needle not glued to more letters or digits
    (``C-00042`` does not match ``C-000421``)."""
    return [re.compile(rf"(?<![\w]){re.escape(n)}(?![\w])", re.IGNORECASE) for n in needles if n and len(n) >= 3]


def ui_threads_mentioning(url: str, needles: Sequence[str]) -> list[str]:
    """Chainlit threads whose name, metadata, steps or elements mention any needle."""
    from sqlalchemy import inspect, text

    engine = _ui_engine(url)
    if engine is None:
        return []
    patterns = needle_patterns(needles)
    found: set[str] = set()
    try:
        tables = set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            for table, columns in UI_TEXT_COLUMNS.items():
                if table not in tables:
                    continue
                present = {c["name"] for c in inspect(engine).get_columns(table)}
                columns = [c for c in columns if c in present]
                thread_column = "id" if table == "threads" else "threadId"
                if not columns or thread_column not in present:
                    continue
                selected = ", ".join(f'"{c}"' for c in (thread_column, *columns))
                for row in connection.execute(text(f'SELECT {selected} FROM "{table}"')):
                    if row[0] and any(_mentions(str(v) if v is not None else None, patterns) for v in row[1:]):
                        found.add(str(row[0]))
    finally:
        engine.dispose()
    return sorted(found)


def delete_ui_threads(url: str, thread_ids: Sequence[str]) -> dict[str, int]:
    """Delete the threads and their steps, elements and feedback; compact a SQLite file."""
    from sqlalchemy import bindparam, inspect, text

    if not thread_ids:
        return {}
    engine = _ui_engine(url)
    if engine is None:
        return {}
    removed: dict[str, int] = {}
    try:
        tables = set(inspect(engine).get_table_names())
        with engine.begin() as connection:
            if "element_files" in tables and "elements" in tables:
                keys = [r[0] for r in connection.execute(text(
                    'SELECT "objectKey" FROM "elements" WHERE "threadId" IN :ids AND "objectKey" IS NOT NULL'
                ).bindparams(bindparam("ids", expanding=True)), {"ids": list(thread_ids)})]
                if keys:
                    removed["element_files"] = connection.execute(text(
                        'DELETE FROM "element_files" WHERE "objectKey" IN :keys'
                    ).bindparams(bindparam("keys", expanding=True)), {"keys": keys}).rowcount
            for table in (*UI_CHILD_TABLES, "threads"):
                if table not in tables:
                    continue
                column = "id" if table == "threads" else "threadId"
                statement = text(f'DELETE FROM "{table}" WHERE "{column}" IN :ids').bindparams(
                    bindparam("ids", expanding=True))
                count = connection.execute(statement, {"ids": list(thread_ids)}).rowcount
                if count:
                    removed[table] = count
    finally:
        engine.dispose()
    path = sqlite_path(sync_database_url(url))
    if path is not None and path.exists():
        compact_sqlite_file(path)
    return removed


def ui_thread_contents(url: str, thread_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The threads with their messages and feedback, as stored (for an export)."""
    from sqlalchemy import bindparam, inspect, text

    engine = _ui_engine(url) if thread_ids else None
    if engine is None:
        return []
    try:
        tables = set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            def rows(table: str, column: str, order: str | None = None) -> list[dict[str, Any]]:
                if table not in tables:
                    return []
                sql = f'SELECT * FROM "{table}" WHERE "{column}" IN :ids'
                sql += f' ORDER BY "{order}"' if order else ""
                statement = text(sql).bindparams(bindparam("ids", expanding=True))
                return [dict(r._mapping) for r in connection.execute(statement, {"ids": list(thread_ids)})]

            steps, feedbacks = rows("steps", "threadId", "createdAt"), rows("feedbacks", "threadId")
            threads = rows("threads", "id", "createdAt")
    finally:
        engine.dispose()
    keep = ("id", "type", "name", "input", "output", "createdAt")
    for thread in threads:
        thread["steps"] = [{k: s.get(k) for k in keep} for s in steps if s["threadId"] == thread["id"]]
        thread["feedback"] = [f for f in feedbacks if f["threadId"] == thread["id"]]
    return threads


def ui_threads_older_than(url: str, cutoff: datetime) -> list[str]:
    from sqlalchemy import inspect, text

    engine = _ui_engine(url)
    if engine is None:
        return []
    try:
        if "threads" not in inspect(engine).get_table_names():
            return []
        with engine.connect() as connection:
            rows = connection.execute(text('SELECT "id", "createdAt" FROM "threads"')).fetchall()
    finally:
        engine.dispose()
    limit = cutoff.isoformat()
    return [str(tid) for tid, created in rows if created and str(created) < limit]


# --- the ingest source folder ---------------------------------------------------------------------


def scrub_source_tables(folder: Path, customer_id: str) -> dict[str, int]:
    """Remove the customer's rows from every CSV under ``folder`` that has a customer_id column.

    The bank's exports (and the generator's labels) would otherwise bring the customer back on
    the next ingest. Each file is rewritten to a temporary file and swapped in atomically.
    """
    removed: dict[str, int] = {}
    if not folder.is_dir():
        return removed
    for path in sorted(folder.rglob("*.csv")):
        count = _drop_customer_rows(path, customer_id)
        if count:
            removed[str(path.relative_to(folder))] = count
    return removed


def _drop_customer_rows(path: Path, customer_id: str) -> int:
    with path.open(newline="", encoding="utf-8", errors="surrogateescape") as source:
        reader = csv.reader(source)
        header = next(reader, None)
        if not header or "customer_id" not in [h.strip() for h in header]:
            return 0
        column = [h.strip() for h in header].index("customer_id")
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        removed = 0
        try:
            with os.fdopen(handle, "w", newline="", encoding="utf-8", errors="surrogateescape") as target:
                writer = csv.writer(target, lineterminator="\n")
                writer.writerow(header)
                for row in reader:
                    if len(row) > column and row[column].strip() == customer_id:
                        removed += 1
                        continue
                    writer.writerow(row)
            if removed:
                os.chmod(temporary, path.stat().st_mode & 0o777)
                os.replace(temporary, path)
        finally:
            Path(temporary).unlink(missing_ok=True)
    return removed


# --- feedback stores (the advisors' thumbs on answers) --------------------------------------------


def erase_feedback_tables(path: Path, customer_id: str, trace_ids: Sequence[str],
                          thread_ids: Sequence[str]) -> int:
    """Delete feedback rows about the customer from every table of a SQLite feedback file.

    A row goes when its customer_id matches, or its trace_id / thread_id names one of the
    customer's answers or conversations (whichever of those columns the table has).
    """
    if not path.exists():
        return 0
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    removed = 0
    try:
        connection.execute("PRAGMA secure_delete = ON")
        tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                                   "AND name NOT LIKE 'sqlite_%'")]
        connection.execute("BEGIN IMMEDIATE")
        for table in tables:
            columns = {r[1] for r in connection.execute(f'PRAGMA table_info("{table}")')}
            for column, values in (("customer_id", [customer_id]), ("trace_id", list(trace_ids)),
                                   ("thread_id", list(thread_ids))):
                if column in columns and values:
                    marks = ", ".join("?" for _ in values)
                    removed += connection.execute(f'DELETE FROM "{table}" WHERE "{column}" IN ({marks})',
                                                  values).rowcount
        connection.execute("COMMIT")
        if removed:
            compact_sqlite(connection)
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    finally:
        connection.close()
    return removed


def feedback_rows(path: Path, customer_id: str, trace_ids: Sequence[str], thread_ids: Sequence[str]
                  ) -> dict[str, list[dict[str, Any]]]:
    """The rows :func:`erase_feedback_tables` would delete, per table (for an export)."""
    if not path.exists():
        return {}
    connection = sqlite3.connect(path, timeout=30)
    connection.row_factory = sqlite3.Row
    found: dict[str, list[dict[str, Any]]] = {}
    try:
        tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                                   "AND name NOT LIKE 'sqlite_%'")]
        for table in tables:
            columns = {r[1] for r in connection.execute(f'PRAGMA table_info("{table}")')}
            clauses, params = [], []
            for column, values in (("customer_id", [customer_id]), ("trace_id", list(trace_ids)),
                                   ("thread_id", list(thread_ids))):
                if column in columns and values:
                    clauses.append(f'"{column}" IN ({", ".join("?" for _ in values)})')
                    params += values
            if clauses:
                rows = connection.execute(f'SELECT * FROM "{table}" WHERE {" OR ".join(clauses)}', params)
                found[table] = [dict(r) for r in rows]
    finally:
        connection.close()
    return {table: rows for table, rows in found.items() if rows}


# --- erasure ------------------------------------------------------------------------------------------


def forget_customer(
    customer_id: str,
    store: BankStore,
    *,
    chroma_client=None,
    chroma_path: Path | None = None,
    checkpointer: Checkpointer | None = None,
    audit: ErasableAudit | None = None,
    ui_database_url: str | None = None,
    feedback_paths: Sequence[Path] = (),
    source_dir: Path | None = None,
) -> ErasureReport:
    """Erase one customer everywhere (see the module docstring); safe to run again after a crash.

    ``chroma_path`` (embedded Chroma) is vacuumed after the delete; ``feedback_paths`` are
    SQLite files whose tables carry customer_id / trace_id / thread_id columns.
    """
    customer_id = customer_id.strip()
    report = ErasureReport(customer_hash=customer_hash(customer_id), found=False)
    needles = customer_identifiers(store, customer_id)
    counts = store_counts(store, customer_id)
    text_ids = customer_text_ids(store, customer_id)
    answers = audit.list(customer_id=customer_id, limit=10_000_000) if audit is not None else []
    report.trace_ids = sorted({r.trace_id for r in answers})
    audit_threads = {r.payload.get("thread_id") for r in answers if isinstance(r.payload.get("thread_id"), str)}

    if chroma_client is not None:
        deleted = erase_from_chroma(chroma_client, customer_id, text_ids)
        report.chroma_documents = len(deleted)
        if chroma_path is not None:
            scrub_chroma_log(chroma_path, sorted(set(deleted) | set(text_ids)))
            report.chroma_vacuumed, message = vacuum_chroma(chroma_path)
            if not report.chroma_vacuumed:
                report.warnings.append(f"Chroma was not vacuumed: {message}")
        elif report.chroma_documents:
            report.warnings.append("Chroma runs as a server: run `chroma vacuum` on its data folder so the "
                                   "deleted documents leave its log")
    if checkpointer is not None:
        report.checkpoint_threads = erase_checkpoints(checkpointer, customer_id, audit_threads, needles)
    if ui_database_url:
        ui_threads = sorted(set(ui_threads_mentioning(ui_database_url, needles))
                            | _ui_threads_behind(ui_database_url, report.checkpoint_threads))
        report.ui_threads = len(ui_threads)
        report.ui_rows = delete_ui_threads(ui_database_url, ui_threads)
    for path in feedback_paths:
        report.feedback_rows += erase_feedback_tables(Path(path), customer_id, report.trace_ids,
                                                      report.checkpoint_threads)
    if source_dir is not None:
        report.source_rows = scrub_source_tables(Path(source_dir), customer_id)
    held = bool(sum(counts.values()) or answers or report.chroma_documents or report.checkpoint_threads
                or report.ui_threads or report.feedback_rows or report.source_rows)
    if audit is not None:
        erasure = audit.erase_customer(customer_id, needles[1:], details={
            "store_rows": sum(counts.values()), "chroma_documents": report.chroma_documents,
            "checkpoint_threads": len(report.checkpoint_threads), "ui_threads": report.ui_threads,
            "feedback_rows": report.feedback_rows, "source_rows": sum(report.source_rows.values()),
        }, held_elsewhere=held)
        report.audit_erased, report.audit_redacted = erasure.erased, erasure.redacted
        report.tombstone_seq = erasure.tombstone.seq if erasure.tombstone is not None else None
    report.store = erase_from_store(store, customer_id)
    report.found = held or bool(report.audit_erased or report.audit_redacted)
    return report


def _ui_threads_behind(url: str, graph_threads: Sequence[str]) -> set[str]:
    """UI threads whose conversations the graph kept under their id (or ``<id>-<suffix>``)."""
    if not graph_threads:
        return set()
    return {ui for ui in _ui_thread_ids(url)
            if any(graph == ui or graph.startswith(f"{ui}-") for graph in graph_threads)}


def _ui_thread_ids(url: str) -> set[str]:
    from sqlalchemy import inspect, text

    engine = _ui_engine(url)
    if engine is None:
        return set()
    try:
        if "threads" not in inspect(engine).get_table_names():
            return set()
        with engine.connect() as connection:
            return {str(r[0]) for r in connection.execute(text('SELECT "id" FROM "threads"'))}
    finally:
        engine.dispose()


# --- export (right of access / portability) --------------------------------------------------------


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    frame = frame.copy()
    if "extra" in frame.columns:
        frame["extra"] = [json.loads(v) if isinstance(v, str) and v else {} for v in frame["extra"]]
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def export_customer(
    customer_id: str,
    store: BankStore,
    *,
    audit: ErasableAudit | None = None,
    checkpointer: Checkpointer | None = None,
    ui_database_url: str | None = None,
    feedback_paths: Sequence[Path] = (),
) -> dict[str, Any] | None:
    """Everything held about the customer, identifiers decrypted, as JSON-ready data; None if unknown."""
    customer = store.customer(customer_id)
    if customer is None:
        return None
    records = audit.list(customer_id=customer_id, limit=10_000_000)[::-1] if audit is not None else []
    trace_ids = sorted({r.trace_id for r in records})
    threads = sorted({tid for tid, (owner, _) in checkpoint_threads(checkpointer).items()
                      if owner == customer_id}) if checkpointer is not None else []
    feedback: dict[str, Any] = {}
    for path in feedback_paths:
        for table, rows in feedback_rows(Path(path), customer_id, trace_ids, threads).items():
            feedback.setdefault(table, []).extend(rows)
    ui_threads = ui_thread_contents(ui_database_url, ui_threads_mentioning(
        ui_database_url, customer_identifiers(store, customer_id))) if ui_database_url else []
    return {
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "customer_id": customer_id,
        "profile": customer.model_dump(mode="json"),
        "accounts": _records(store.accounts(customer_id)),
        "transactions": _records(store.transactions(customer_id)),
        "payments": _records(store.payments(customer_id)),
        "interactions": _records(store.interactions(customer_id)),
        "social_posts": _records(store.social_posts(customer_id, consented_only=False)),
        "audit_records": [r.model_dump(mode="json") for r in records],
        "conversation_threads": threads,
        "ui_threads": ui_threads,
        "feedback": feedback,
    }


# --- retention -----------------------------------------------------------------------------------


def retention_cutoff(days: int, today: date | None = None) -> date:
    return (today or datetime.now(timezone.utc).date()) - timedelta(days=days)


def purge_older_than(
    store: BankStore,
    cutoff: date,
    *,
    chroma_client=None,
    chroma_path: Path | None = None,
    checkpointer: Checkpointer | None = None,
    ui_database_url: str | None = None,
) -> PurgeReport:
    """Remove activity dated before ``cutoff`` (transactions, payments, interactions, posts), their
    Chroma documents and embedding records, and conversation threads last touched before it.

    Customers and accounts stay: they are the relationship, not its history.
    """
    report = PurgeReport(cutoff=cutoff)
    limit = cutoff.isoformat()
    doomed_documents: list[str] = []
    for table, (column, kind) in TEXT_DOCUMENT_PREFIX.items():
        frame = store.table(table, [column], f"{DATED_TABLES[table]} < ?", (limit,))
        doomed_documents += [f"{kind}:{value}" for value in frame[column]]
    with store.transaction() as connection:
        for table, column in DATED_TABLES.items():
            count = connection.execute(f"DELETE FROM {TABLES[table].name} WHERE {column} < ?", (limit,)).rowcount
            if count:
                report.store[table] = count
        connection.executemany("DELETE FROM embedded_texts WHERE doc_id = ?", [(d,) for d in doomed_documents])
    with store.transaction() as connection:
        compact_sqlite(connection)
    if chroma_client is not None and doomed_documents:
        try:
            collection = chroma_client.get_collection(CUSTOMER_TEXTS)
        except Exception:
            collection = None
        if collection is not None:
            for start in range(0, len(doomed_documents), 5000):
                batch = _existing(collection, doomed_documents[start:start + 5000])
                if batch:
                    collection.delete(ids=batch)
                    report.chroma_documents += len(batch)
        if chroma_path is not None and report.chroma_documents:
            scrub_chroma_log(chroma_path, doomed_documents)
            vacuumed, message = vacuum_chroma(chroma_path)
            if not vacuumed:
                report.warnings.append(f"Chroma was not vacuumed: {message}")
    if checkpointer is not None:
        stale = [tid for tid, (_, stamp) in checkpoint_threads(checkpointer).items()
                 if stamp and stamp[:10] < limit]
        for thread_id in stale:
            checkpointer.delete_thread(thread_id)
        if stale:
            compact_checkpointer(checkpointer)
        report.checkpoint_threads = len(stale)
    if ui_database_url:
        old = ui_threads_older_than(ui_database_url, datetime.combine(cutoff, datetime.min.time()))
        delete_ui_threads(ui_database_url, old)
        report.ui_threads = len(old)
    return report
