"""The Chainlit data layer: threads, steps, elements and feedback in SQLite or PostgreSQL.

Chainlit's ``SQLAlchemyDataLayer`` expects its tables to exist and does not create
them; :func:`ensure_ui_schema` does, idempotently, for both databases. Elements
(charts, source texts) are kept in the same database (:class:`DatabaseFileStorage`)
and served back as ``data:`` URLs, so a resumed thread shows its charts without a
bucket and several app replicas can share one PostgreSQL. The SQLite flavour also
JSON-encodes the lists and dicts Chainlit binds (tags, modes), which SQLite cannot
store, and decodes them when a thread is read back.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

# A writer waits this long for another connection's write to finish (several app
# workers, a GDPR erasure, a burst of steps) before SQLite answers "database is locked";
# Chainlit logs and drops a write that fails, so the wait is generous.
SQLITE_BUSY_TIMEOUT_S = 30.0

# Column lists follow Chainlit 2.12's StepDict, ElementDict and Feedback.
_SQLITE_SCHEMA = (
    'CREATE TABLE IF NOT EXISTS users ("id" TEXT PRIMARY KEY, "identifier" TEXT NOT NULL UNIQUE, '
    '"metadata" TEXT NOT NULL, "createdAt" TEXT)',
    'CREATE TABLE IF NOT EXISTS threads ("id" TEXT PRIMARY KEY, "createdAt" TEXT, "name" TEXT, "userId" TEXT, '
    '"userIdentifier" TEXT, "tags" TEXT, "metadata" TEXT, '
    'FOREIGN KEY ("userId") REFERENCES users("id") ON DELETE CASCADE)',
    'CREATE TABLE IF NOT EXISTS steps ("id" TEXT PRIMARY KEY, "name" TEXT NOT NULL, "type" TEXT NOT NULL, '
    '"threadId" TEXT NOT NULL, "parentId" TEXT, "streaming" BOOLEAN NOT NULL DEFAULT 0, "waitForAnswer" BOOLEAN, '
    '"isError" BOOLEAN, "metadata" TEXT, "tags" TEXT, "input" TEXT, "output" TEXT, "createdAt" TEXT, '
    '"command" TEXT, "modes" TEXT, "start" TEXT, "end" TEXT, "generation" TEXT, "showInput" TEXT, '
    '"language" TEXT, "indent" INTEGER, "defaultOpen" BOOLEAN, "autoCollapse" BOOLEAN, "icon" TEXT, '
    'FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE)',
    'CREATE TABLE IF NOT EXISTS elements ("id" TEXT PRIMARY KEY, "threadId" TEXT, "type" TEXT, "url" TEXT, '
    '"chainlitKey" TEXT, "name" TEXT NOT NULL, "display" TEXT, "objectKey" TEXT, "size" TEXT, "page" INTEGER, '
    '"language" TEXT, "forId" TEXT, "mime" TEXT, "props" TEXT, "autoPlay" BOOLEAN, "playerConfig" TEXT, '
    'FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE)',
    'CREATE TABLE IF NOT EXISTS feedbacks ("id" TEXT PRIMARY KEY, "forId" TEXT NOT NULL, "threadId" TEXT NOT NULL, '
    '"value" INTEGER NOT NULL, "comment" TEXT, '
    'FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE)',
    'CREATE TABLE IF NOT EXISTS element_files ("objectKey" TEXT PRIMARY KEY, "mime" TEXT NOT NULL, '
    '"data" BLOB NOT NULL)',
    'CREATE INDEX IF NOT EXISTS ix_steps_thread ON steps("threadId")',
    'CREATE INDEX IF NOT EXISTS ix_elements_thread ON elements("threadId")',
    'CREATE INDEX IF NOT EXISTS ix_feedbacks_for ON feedbacks("forId")',
    'CREATE INDEX IF NOT EXISTS ix_threads_user ON threads("userId")',
)

_POSTGRES_SCHEMA = (
    'CREATE TABLE IF NOT EXISTS users ("id" TEXT PRIMARY KEY, "identifier" TEXT NOT NULL UNIQUE, '
    '"metadata" JSONB NOT NULL, "createdAt" TEXT)',
    'CREATE TABLE IF NOT EXISTS threads ("id" TEXT PRIMARY KEY, "createdAt" TEXT, "name" TEXT, "userId" TEXT, '
    '"userIdentifier" TEXT, "tags" TEXT[], "metadata" JSONB, '
    'FOREIGN KEY ("userId") REFERENCES users("id") ON DELETE CASCADE)',
    'CREATE TABLE IF NOT EXISTS steps ("id" TEXT PRIMARY KEY, "name" TEXT NOT NULL, "type" TEXT NOT NULL, '
    '"threadId" TEXT NOT NULL, "parentId" TEXT, "streaming" BOOLEAN NOT NULL DEFAULT FALSE, '
    '"waitForAnswer" BOOLEAN, "isError" BOOLEAN, "metadata" JSONB, "tags" TEXT[], "input" TEXT, "output" TEXT, '
    '"createdAt" TEXT, "command" TEXT, "modes" JSONB, "start" TEXT, "end" TEXT, "generation" JSONB, '
    '"showInput" TEXT, "language" TEXT, "indent" INT, "defaultOpen" BOOLEAN, "autoCollapse" BOOLEAN, '
    '"icon" TEXT, FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE)',
    'CREATE TABLE IF NOT EXISTS elements ("id" TEXT PRIMARY KEY, "threadId" TEXT, "type" TEXT, "url" TEXT, '
    '"chainlitKey" TEXT, "name" TEXT NOT NULL, "display" TEXT, "objectKey" TEXT, "size" TEXT, "page" INT, '
    '"language" TEXT, "forId" TEXT, "mime" TEXT, "props" JSONB, "autoPlay" BOOLEAN, "playerConfig" JSONB, '
    'FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE)',
    'CREATE TABLE IF NOT EXISTS feedbacks ("id" TEXT PRIMARY KEY, "forId" TEXT NOT NULL, "threadId" TEXT NOT NULL, '
    '"value" INT NOT NULL, "comment" TEXT, FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE)',
    'CREATE TABLE IF NOT EXISTS element_files ("objectKey" TEXT PRIMARY KEY, "mime" TEXT NOT NULL, '
    '"data" BYTEA NOT NULL)',
    'CREATE INDEX IF NOT EXISTS ix_steps_thread ON steps("threadId")',
    'CREATE INDEX IF NOT EXISTS ix_elements_thread ON elements("threadId")',
    'CREATE INDEX IF NOT EXISTS ix_feedbacks_for ON feedbacks("forId")',
    'CREATE INDEX IF NOT EXISTS ix_threads_user ON threads("userId")',
)


def is_sqlite_url(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def async_url(url: str) -> str:
    """The URL with an async driver (aiosqlite, asyncpg), as Chainlit's layer needs."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError(f"the UI database must be SQLite or PostgreSQL, not {backend}")


def sync_url(url: str) -> str:
    """The same database through a synchronous driver (for creating the schema)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"the UI database must be SQLite or PostgreSQL, not {backend}")


def ensure_ui_schema(url: str) -> None:
    """Create Chainlit's tables (and the element store) if they are missing; safe to repeat."""
    sqlite = is_sqlite_url(url)
    if sqlite:
        database = make_url(url).database
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(sync_url(url), connect_args=sqlite_connect_args() if sqlite else {})
    try:
        with engine.begin() as connection:
            if sqlite:
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")
            else:
                # Replicas starting together create the tables once.
                connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('advisor_ui_schema'))"))
            for statement in _SQLITE_SCHEMA if sqlite else _POSTGRES_SCHEMA:
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def sqlite_connect_args() -> dict[str, Any]:
    return {"timeout": SQLITE_BUSY_TIMEOUT_S}


def configure_sqlite_connection(dbapi_connection, _record) -> None:
    """Every new SQLite connection: WAL (readers never block the writer) and a busy timeout."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    finally:
        cursor.close()


def _data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def _decode_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def make_data_layer(url: str):
    """Chainlit's SQLAlchemy data layer over ``url`` with elements stored in the same database."""
    from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
    from chainlit.data.storage_clients.base import BaseStorageClient

    class DatabaseFileStorage(BaseStorageClient):
        """Element contents in the ``element_files`` table, read back as ``data:`` URLs."""

        def __init__(self) -> None:
            self.engine = None

        async def _execute(self, sql: str, parameters: dict) -> list[Any]:
            async with self.engine.begin() as connection:
                result = await connection.execute(text(sql), parameters)
                return list(result.fetchall()) if result.returns_rows else []

        async def upload_file(self, object_key: str, data: bytes | str, mime: str = "application/octet-stream",
                              overwrite: bool = True, content_disposition: str | None = None) -> dict[str, Any]:
            payload = data.encode() if isinstance(data, str) else bytes(data)
            conflict = 'DO UPDATE SET "mime" = EXCLUDED."mime", "data" = EXCLUDED."data"' if overwrite else "DO NOTHING"
            await self._execute(
                f'INSERT INTO element_files ("objectKey", "mime", "data") VALUES (:key, :mime, :data) '
                f'ON CONFLICT ("objectKey") {conflict}', {"key": object_key, "mime": mime, "data": payload})
            return {"object_key": object_key, "url": _data_url(mime, payload)}

        async def delete_file(self, object_key: str) -> bool:
            await self._execute('DELETE FROM element_files WHERE "objectKey" = :key', {"key": object_key})
            return True

        async def get_read_url(self, object_key: str) -> str:
            rows = await self._execute('SELECT "mime", "data" FROM element_files WHERE "objectKey" = :key',
                                       {"key": object_key})
            if not rows:
                raise KeyError(object_key)
            return _data_url(rows[0][0], bytes(rows[0][1]))

        async def close(self) -> None:
            return None

    class AdvisorDataLayer(SQLAlchemyDataLayer):
        def __init__(self, conninfo: str):
            storage = DatabaseFileStorage()
            self.sqlite = is_sqlite_url(conninfo)
            super().__init__(conninfo, storage_provider=storage,
                             connect_args=sqlite_connect_args() if self.sqlite else None)
            if self.sqlite:
                event.listen(self.engine.sync_engine, "connect", configure_sqlite_connection)
            storage.engine = self.engine

        async def execute_sql(self, query: str, parameters: dict):
            return await super().execute_sql(query, {k: self._bindable(v) for k, v in parameters.items()})

        def _bindable(self, value: Any) -> Any:
            if isinstance(value, dict) or (self.sqlite and isinstance(value, list)):
                return json.dumps(value)
            return value

        async def get_all_user_threads(self, user_id: str | None = None, thread_id: str | None = None):
            threads = await super().get_all_user_threads(user_id=user_id, thread_id=thread_id)
            for thread in threads or []:
                thread["metadata"] = _decode_json(thread.get("metadata")) or {}
                thread["tags"] = _decode_json(thread.get("tags"))
                for step in thread.get("steps", []):
                    step["metadata"] = _decode_json(step.get("metadata")) or {}
                    step["tags"] = _decode_json(step.get("tags"))
                    step["generation"] = _decode_json(step.get("generation"))
            return threads

        async def get_step(self, step_id: str):
            step = await super().get_step(step_id)
            if step is not None:
                step["metadata"] = _decode_json(step.get("metadata")) or {}
            return step

    ensure_ui_schema(url)
    return AdvisorDataLayer(async_url(url))
