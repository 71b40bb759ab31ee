"""The app's Chainlit data layer: schema created idempotently, threads, steps, elements and
feedback stored and read back, in SQLite (and PostgreSQL where a server can start)."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from ui.datalayer import async_url, ensure_ui_schema, make_data_layer, sync_url


def test_urls_switch_drivers():
    assert async_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert sync_url("sqlite+aiosqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert async_url("postgresql://u:p@h:5/db") == "postgresql+asyncpg://u:p@h:5/db"
    assert sync_url("postgresql+asyncpg://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    with pytest.raises(ValueError, match="SQLite or PostgreSQL"):
        async_url("mysql://h/db")


def test_schema_is_created_once_and_in_wal_mode(tmp_path):
    path = tmp_path / "ui" / "ui.sqlite"
    url = f"sqlite+aiosqlite:///{path}"
    ensure_ui_schema(url)
    ensure_ui_schema(url)
    with sqlite3.connect(path) as connection:
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
    assert {"users", "threads", "steps", "elements", "feedbacks", "element_files"} <= tables
    assert mode == "wal"


async def _round_trip(url: str) -> None:
    import chainlit as cl
    from chainlit.context import init_http_context
    from chainlit.types import Feedback

    layer = make_data_layer(url)
    try:
        user = await layer.create_user(cl.User(identifier="advisor1", metadata={"role": "advisor",
                                                                                 "advisor_id": "A-001"}))
        assert user.metadata["advisor_id"] == "A-001"
        thread_id = "thread-1"
        init_http_context(thread_id=thread_id, user=user)
        await layer.update_thread(thread_id, name="C-00042 offers", user_id=user.id,
                                  metadata={"customer_id": "C-00042"}, tags=["Advisor"])
        await layer.create_step({"id": "step-1", "threadId": thread_id, "name": "Advisor", "type": "assistant_message",
                                 "output": "answer", "streaming": False, "metadata": {"trace_id": "abc"},
                                 "modes": {"mode": "x"}, "createdAt": "2026-01-01T00:00:00Z"})
        element = cl.Text(name="policy:POL-AFFORD:3.2", content="Affordability rules", display="side",
                          thread_id=thread_id, for_id="step-1")
        element.mime = "text/plain"
        await layer.create_element(element)
        feedback_id = await layer.upsert_feedback(Feedback(forId="step-1", value=0, threadId=thread_id,
                                                           comment="not suitable"))
        thread = await layer.get_thread(thread_id)
        assert thread["metadata"]["customer_id"] == "C-00042" and thread["tags"] == ["Advisor"]
        step = thread["steps"][0]
        assert step["metadata"] == {"trace_id": "abc"}
        assert step["feedback"]["value"] == 0 and step["feedback"]["comment"] == "not suitable"
        assert feedback_id == step["feedback"]["id"]
        (stored,) = thread["elements"]
        assert stored["url"].startswith("data:text/plain;base64,")
        import base64

        assert base64.b64decode(stored["url"].split(",", 1)[1]) == b"Affordability rules"
        assert (await layer.get_step("step-1"))["metadata"]["trace_id"] == "abc"
        threads = await layer.get_all_user_threads(user_id=user.id)
        assert [t["id"] for t in threads] == [thread_id]
        await layer.delete_thread(thread_id)
        assert await layer.get_thread(thread_id) is None
    finally:
        await layer.close()


def test_sqlite_round_trip(tmp_path):
    asyncio.run(_round_trip(f"sqlite+aiosqlite:///{tmp_path / 'ui.sqlite'}"))


@pytest.mark.server
def test_postgres_round_trip(postgres_url):
    asyncio.run(_round_trip(postgres_url))
    ensure_ui_schema(postgres_url)


from tests.integration.test_audit_postgres import postgres_url  # noqa: E402,F401  (the server fixture)


async def _concurrent_writes_while_locked(path, sessions: int, lock_s: float) -> tuple[int, int, int]:
    """``sessions`` sessions each write a thread, a step and feedback at the same time, while
    another connection holds the write lock for ``lock_s`` seconds (longer than SQLite's
    default 5 s wait); returns the named threads, steps and feedbacks stored (Chainlit logs
    a failed write and drops it)."""
    import sqlite3
    import threading
    import time

    import chainlit as cl
    from chainlit.context import init_http_context
    from chainlit.types import Feedback

    layer = make_data_layer(f"sqlite:///{path}")
    try:
        user = await layer.create_user(cl.User(identifier="advisor1", metadata={}))
        init_http_context(thread_id="setup", user=user)
        locked = threading.Event()

        def hold_write_lock() -> None:
            connection = sqlite3.connect(path, isolation_level=None)
            connection.execute("BEGIN IMMEDIATE")
            locked.set()
            time.sleep(lock_s)
            connection.execute("COMMIT")
            connection.close()

        holder = threading.Thread(target=hold_write_lock)
        holder.start()
        await asyncio.to_thread(locked.wait)

        async def session(number: int) -> None:
            thread_id = f"thread-{number}"
            await layer.update_thread(thread_id, name=f"Customer {number}", user_id=user.id,
                                      metadata={"customer_id": f"C-{number:05d}"})
            await layer.create_step({"id": f"step-{number}", "threadId": thread_id, "name": "Advisor",
                                     "type": "assistant_message", "output": "answer", "streaming": False,
                                     "metadata": {"trace_id": f"{number:032x}"}, "createdAt": "2026-01-01T00:00:00Z"})
            await layer.upsert_feedback(Feedback(forId=f"step-{number}", value=number % 2, threadId=thread_id,
                                                 comment="ok"))

        await asyncio.gather(*(session(n) for n in range(sessions)))
        await asyncio.to_thread(holder.join)
        named = await layer.execute_sql("SELECT count(*) AS n FROM threads WHERE name LIKE 'Customer %'", {})
        steps = await layer.execute_sql("SELECT count(*) AS n FROM steps", {})
        feedbacks = await layer.execute_sql("SELECT count(*) AS n FROM feedbacks", {})
        return named[0]["n"], steps[0]["n"], feedbacks[0]["n"]
    finally:
        await layer.close()


def test_concurrent_sessions_wait_for_a_held_write_lock_instead_of_losing_writes(tmp_path):
    assert asyncio.run(_concurrent_writes_while_locked(tmp_path / "ui.sqlite", sessions=20, lock_s=6.0)) == (
        20, 20, 20)


def test_every_sqlite_connection_is_in_wal_mode_with_a_busy_timeout(tmp_path):
    from ui.datalayer import SQLITE_BUSY_TIMEOUT_S

    async def pragmas():
        layer = make_data_layer(f"sqlite:///{tmp_path / 'ui.sqlite'}")
        try:
            async with layer.engine.connect() as connection:
                mode = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar()
                timeout_ms = (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar()
            return mode, timeout_ms
        finally:
            await layer.close()

    assert asyncio.run(pragmas()) == ("wal", int(SQLITE_BUSY_TIMEOUT_S * 1000))
