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
