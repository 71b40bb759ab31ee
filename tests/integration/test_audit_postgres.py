"""The PostgreSQL audit trail behaves like the SQLite one (a real server, started for the test)."""

from __future__ import annotations

import threading

import pytest

from graph.audit import PostgresAuditTrail, open_audit_trail
from tests.integration.engines.servers import running_postgres

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def postgres_url():
    """A real PostgreSQL on 127.0.0.1 for this module (other modules import this fixture)."""
    with running_postgres("audit") as url:
        yield url


@pytest.fixture()
def trail(postgres_url):
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS audit, audit_head")
    trail = open_audit_trail(postgres_url)
    assert isinstance(trail, PostgresAuditTrail)
    yield trail
    trail.close()


def _fill(trail, count: int = 4) -> None:
    for number in range(1, count + 1):
        trail.append(f"trace-{number}", "answer", {"question": f"q{number}", "figures": [number, 1.5]},
                     advisor_id="ADV-1", customer_id=f"C-0000{number}", verdict="approved")


def test_chain_signoff_list_export(trail):
    _fill(trail)
    review = trail.signoff("trace-2", "qa", "signoff", "fine; card 4111 1111 1111 1111 was not shown")
    assert review.seq == 5 and review.payload["comment"] == "fine; card [CARD] was not shown"
    assert trail.verify() == []
    assert [r.trace_id for r in trail.list(customer_id="C-00002")] == ["trace-2", "trace-2"]
    assert [r.kind for r in trail.get("trace-2")] == ["answer", "signoff"]
    assert len(list(trail.export_jsonl())) == 5 and trail.head().seq == 5


def test_edit_and_removals_are_caught(trail, postgres_url):
    import psycopg

    _fill(trail, 5)
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("UPDATE audit SET payload = replace(payload, 'q2', 'qX') WHERE seq = 2")
        connection.execute("DELETE FROM audit WHERE seq = 4")
        connection.execute("DELETE FROM audit WHERE seq = 5")
    problems = [(b.seq, b.problem.split(" (")[0]) for b in trail.verify()]
    assert (2, "content does not match its hash") in problems
    assert (4, "records 4..5 at the end are missing") in problems


def test_concurrent_writers_keep_one_chain(trail, postgres_url):
    """Two processes' worth of writers (two connections, several threads) append without forking the chain."""
    other = open_audit_trail(postgres_url)

    def write(target, prefix: str) -> None:
        for number in range(15):
            target.append(f"{prefix}-{number}", "answer", {"n": number})

    threads = [threading.Thread(target=write, args=(t, p)) for t, p in ((trail, "a"), (other, "b"), (trail, "c"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.close()
    assert len(trail.all()) == 45 and trail.verify() == []
