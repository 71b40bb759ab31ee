"""Faults: a Chroma server that is not there, processes killed in the middle of writing."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from advisor.settings import Settings
from bank.vectorstore import VectorStoreUnavailable, connect_chroma
from graph.audit import AuditTrail
from tests.fixtures.openai_server import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
OFFERS = ["CC-BT", "SAV-GOAL", "LOAN-PERS"]


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from advisor.cli import main; main()", *args]


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "ADVISOR_HOME": str(home), "PYTHONPATH": str(REPO_ROOT), **extra}


# --- Chroma server unreachable -----------------------------------------------------------------------


def test_an_unreachable_chroma_server_fails_clearly_after_backing_off(tmp_path, monkeypatch):
    import chromadb

    import bank.vectorstore

    attempts: list[float] = []
    waits: list[float] = []
    real_client, real_sleep = chromadb.HttpClient, time.sleep

    def counting_client(*args, **kwargs):
        attempts.append(time.monotonic())
        return real_client(*args, **kwargs)

    caller = threading.current_thread()

    def recorded_sleep(seconds: float) -> None:
        # `time` is one module: background threads of earlier tests sleep through it too.
        if threading.current_thread() is caller:
            waits.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(chromadb, "HttpClient", counting_client)
    monkeypatch.setattr(bank.vectorstore.time, "sleep", recorded_sleep)
    port = free_port()  # nothing listens there
    started = time.monotonic()
    with pytest.raises(VectorStoreUnavailable, match=rf"127\.0\.0\.1:{port}.*within 3s"):
        connect_chroma("http", tmp_path, "127.0.0.1", port, timeout_s=3.0)
    elapsed = time.monotonic() - started
    assert elapsed < 3.0 + 1.5, f"gave up after {elapsed:.1f}s, past the 3 s budget"
    assert len(attempts) >= 3, "it retries before giving up"
    assert len(waits) == len(attempts) - 1 and all(later > earlier for earlier, later in zip(waits, waits[1:])), (
        f"backoff grows: {waits}")


@pytest.mark.parametrize("command", [("forget", "C-00001", "--yes", "--json"),
                                     ("purge", "--older-than-days", "30", "--yes", "--json")])
def test_privacy_commands_report_an_unreachable_chroma_without_a_stack_trace(tmp_path, command):
    from advisor.services import open_store

    open_store(Settings(home=tmp_path)).close()
    env = cli_env(tmp_path, ADVISOR_CHROMA_MODE="http", ADVISOR_CHROMA_PORT=str(free_port()),
                  ADVISOR_CHROMA_TIMEOUT_S="2")
    started = time.monotonic()
    done = subprocess.run(cli_command(*command), env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "vector_store_unavailable" and "did not answer within 2s" in error["message"]
    assert time.monotonic() - started < 60


def test_ingest_reports_an_unreachable_chroma_without_a_stack_trace(tmp_path):
    from bank.generator import generate_bank

    generate_bank(customers=3, months=1, seed=1, out_dir=tmp_path / "bank")
    env = cli_env(tmp_path, ADVISOR_CHROMA_MODE="http", ADVISOR_CHROMA_PORT=str(free_port()),
                  ADVISOR_CHROMA_TIMEOUT_S="2")
    done = subprocess.run(cli_command("ingest", "--json"), env=env, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "vector_store_unavailable" and "did not answer within 2s" in error["message"]

    plain = subprocess.run(cli_command("ingest"), env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                           timeout=120)
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    error_lines = [line for line in plain.stderr.splitlines()
                   if line.startswith("error (vector_store_unavailable)")]
    assert len(error_lines) == 1 and "did not answer within 2s" in error_lines[0], plain.stderr

    debug = subprocess.run(cli_command("--debug", "ingest"), env=env, cwd=REPO_ROOT, capture_output=True,
                           text=True, timeout=120)
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "VectorStoreUnavailable" in debug.stderr


# --- disk full during ingest ----------------------------------------------------------------------------

CAPPED_INGEST = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the cap fails (EFBIG) as on a full disk
cap = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))
sys.argv = ["advisor", *sys.argv[2:]]
from advisor.cli import main
main()
"""


def test_a_disk_that_fills_during_ingest_stops_it_clearly_and_a_rerun_loses_and_duplicates_nothing(tmp_path):
    from advisor.services import open_store
    from bank.generator import generate_bank

    bank = tmp_path / "bank"
    generate_bank(customers=40, months=4, seed=3, out_dir=bank)
    home = tmp_path / "home"
    capped = subprocess.run([sys.executable, "-c", CAPPED_INGEST, str(256 * 1024), "ingest", "--data", str(bank),
                             "--skip-text", "--json"], env=cli_env(home), cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=300)
    assert capped.returncode == 2 and "Traceback" not in capped.stderr, capped.stderr[-2000:]
    assert json.loads(capped.stdout)["error"]["code"] in ("database_error", "disk_full", "os_error")
    with sqlite3.connect(home / "bank.db") as connection:
        loaded = connection.execute("SELECT COUNT(*) FROM customers").fetchone()[0]
        transactions = connection.execute("SELECT COUNT(*) FROM transactions").fetchone()[0]
    assert loaded and transactions < len(pd.read_csv(bank / "transactions.csv")), "the disk filled mid-ingest"

    rerun = subprocess.run(cli_command("ingest", "--data", str(bank), "--skip-text", "--json"), env=cli_env(home),
                           cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    report = json.loads(rerun.stdout)
    store = open_store(Settings(home=home))
    try:
        for table, result in report["tables"].items():
            rows = len(pd.read_csv(bank / f"{table}.csv", dtype=str))
            withheld = report["social_posts_without_consent"] if table == "social_posts" else 0
            assert store.count(table) == result["loaded"] == rows - result["rejected"] - withheld, table
    finally:
        store.close()
    with sqlite3.connect(home / "bank.db") as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


# --- killed while writing feedback ---------------------------------------------------------------------

FEEDBACK_LOOP = """
import sys
from advisor.settings import Settings
from graph.audit import AuditTrail
from graph.feedback import record_offer_feedback

settings = Settings(home=sys.argv[1])
trail = AuditTrail(settings.audit_url)
for number in range(int(sys.argv[2])):
    record_offer_feedback(settings, f"t-{number}", number % 2, comment=f"verdict {number}", audit=trail)
"""


def _answers(home: Path, count: int) -> None:
    trail = AuditTrail(home / "audit.sqlite")
    for number in range(count):
        trail.append(f"t-{number}", "answer", {
            "question": "What can I offer?", "recommendations": [{"product_code": c} for c in OFFERS],
            "findings": {"spending": {"segment": "Saver"}, "credit": {"risk_band": "B"}},
        }, advisor_id="A-001", customer_id=f"C-{number % 7:05d}", verdict="approved")
    trail.close()


def _feedback_rows(home: Path) -> list[tuple]:
    with sqlite3.connect(home / "feedback.sqlite", timeout=30) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return connection.execute(
            "SELECT trace_id, product_code, accepted, comment FROM offer_feedback").fetchall()


def test_a_process_killed_while_writing_feedback_leaves_whole_verdicts_only(tmp_path):
    answers = 300
    _answers(tmp_path, answers)
    script = tmp_path / "feedback_loop.py"
    script.write_text(FEEDBACK_LOOP)
    process = subprocess.Popen([sys.executable, str(script), str(tmp_path), str(answers)], cwd=REPO_ROOT,
                               env=cli_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline, written = time.monotonic() + 120, 0
    while time.monotonic() < deadline and process.poll() is None:
        try:
            written = len(_feedback_rows(tmp_path))
        except (sqlite3.Error, AssertionError):
            written = 0
        if written >= 30:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the writer was killed mid-loop"

    rows = _feedback_rows(tmp_path)
    by_trace: dict[str, list[tuple]] = {}
    for row in rows:
        by_trace.setdefault(row[0], []).append(row)
    assert 0 < len(by_trace) < answers
    for trace_id, verdicts in by_trace.items():
        number = int(trace_id.split("-")[1])
        assert sorted(v[1] for v in verdicts) == sorted(OFFERS), f"{trace_id} holds part of a verdict"
        assert {(v[2], v[3]) for v in verdicts} == {(number % 2, f"verdict {number}")}
    trail = AuditTrail(tmp_path / "audit.sqlite")
    try:
        assert trail.verify() == []
        audited = {r.trace_id for r in trail.list(kind="feedback", limit=10_000)}
    finally:
        trail.close()
    # The verdict is committed before its audit record: at most the last one lacks its record.
    assert audited <= set(by_trace) and len(set(by_trace) - audited) <= 1

    rerun = subprocess.run([sys.executable, str(script), str(tmp_path), str(answers)], cwd=REPO_ROOT,
                           env=cli_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    rows = _feedback_rows(tmp_path)
    assert len(rows) == answers * len(OFFERS) == len({(r[0], r[1]) for r in rows})
    trail = AuditTrail(tmp_path / "audit.sqlite")
    assert trail.verify() == []
    trail.close()


# --- a used home folder, for faults during answering ---------------------------------------------------


@pytest.fixture(scope="module")
def answering_home(bank_dir, tmp_path_factory):
    from tests.integration.test_gdpr import ingested_home

    home = ingested_home(bank_dir, tmp_path_factory, "faults")
    customer = sorted(pd.read_csv(bank_dir / "customers.csv", dtype=str)["customer_id"])[0]
    return home, customer


QUESTION = "The customer called about her card balance, what can I offer?"


@pytest.mark.parametrize("failure", ["hang", "error", "down"])
def test_an_llm_server_that_hangs_fails_or_is_down_gives_the_offline_answer_in_time(answering_home, failure):
    from graph.backend import reset_backends
    from graph.runner import open_runner
    from tests.fixtures.openai_server import OpenAIStubServer

    home, customer = answering_home
    timeout_s = 2.0
    server = OpenAIStubServer("never used", mode="error" if failure == "error" else "hang", hang_s=30)
    if failure != "down":
        server.start()
    base_url = server.base_url if failure != "down" else f"http://127.0.0.1:{free_port()}/v1"
    settings = Settings(home=home, data_key=None, llm_backend="openai", openai_base_url=base_url,
                        llm_timeout_s=timeout_s)
    reset_backends()
    try:
        with open_runner(settings) as runner:
            runner.ask(QUESTION, customer)  # models load on the first turn; time the next one
            started = time.monotonic()
            result = runner.ask(QUESTION, customer)
            elapsed = time.monotonic() - started
    finally:
        server.stop()
        reset_backends()
    assert "error" not in result, result
    assert result["answer"], "the offline composer answered"
    assert result["llm"]["fallback_reason"], result["llm"]
    calls_allowed = 3  # composer, one critic revision, router refinement: each bounded by the timeout
    assert elapsed < calls_allowed * timeout_s + 5, f"{elapsed:.1f}s for a turn with a {timeout_s}s LLM timeout"


ASK_LOOP = """
import sys
from advisor.settings import Settings
from graph.runner import open_runner

settings = Settings(home=sys.argv[1])
with open_runner(settings) as runner:
    for number in range(1000):
        runner.ask("How is the customer's spending trending?", sys.argv[2], f"kill-thread-{number % 3}")
"""


def test_a_process_killed_during_answers_leaves_a_verifiable_trail_and_a_working_home(answering_home, tmp_path):
    import shutil

    source, customer = answering_home
    home = tmp_path / "home"
    shutil.copytree(source, home)
    script = tmp_path / "ask_loop.py"
    script.write_text(ASK_LOOP)
    process = subprocess.Popen([sys.executable, str(script), str(home), customer], cwd=REPO_ROOT,
                               env=cli_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline, answered = time.monotonic() + 240, 0
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with sqlite3.connect(home / "audit.sqlite", timeout=1) as connection:
                answered = connection.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
        except sqlite3.Error:
            answered = 0
        if answered >= 3:
            time.sleep(0.05 * (answered % 7))  # land somewhere inside the next turn
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, process.stderr.read()[-2000:] if process.stderr else ""

    verify = subprocess.run(cli_command("audit", "verify", "--json"), env=cli_env(home), cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0 and json.loads(verify.stdout)["ok"], verify.stdout
    for database in ("checkpoints.sqlite", "audit.sqlite", "bank.db"):
        with sqlite3.connect(home / database, timeout=30) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",), database
    records_before = answered_after(home)
    rerun = subprocess.run(cli_command("ask", QUESTION, "--customer", customer, "--thread", "kill-thread-0",
                                       "--json"), env=cli_env(home), cwd=REPO_ROOT, capture_output=True,
                           text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert json.loads(rerun.stdout)["answer"]
    verify = subprocess.run(cli_command("audit", "verify", "--json"), env=cli_env(home), cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert json.loads(verify.stdout) == {"ok": True, "records": records_before + 1, "breaks": []}


def answered_after(home: Path) -> int:
    with sqlite3.connect(home / "audit.sqlite") as connection:
        return connection.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
