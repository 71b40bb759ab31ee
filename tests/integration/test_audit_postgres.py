"""The PostgreSQL audit trail behaves like the SQLite one (a real server, started for the test)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from graph.audit import PostgresAuditTrail, open_audit_trail

pytestmark = pytest.mark.server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the `postgres` user when we are root."""
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@pytest.fixture(scope="module")
def postgres_url():
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    # Not under pytest's tmp folder: its parents are private to us, and the server user must reach it.
    folder = Path(tempfile.mkdtemp(prefix="advisor-audit-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    port = _free_port()
    subprocess.run(_as_server_user([initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"]),
                   check=True, capture_output=True)
    subprocess.run(_as_server_user([pg_ctl, "-D", str(data), "-l", str(folder / "server.log"), "-w", "-o",
                                    f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off",
                                    "start"]), check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_server_user([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


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
