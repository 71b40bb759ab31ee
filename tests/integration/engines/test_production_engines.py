"""The product on its production engines, switched by configuration only: a real `chroma run`
server for the vector store and a real PostgreSQL for the graph checkpointer, the audit
trail, the advisors' feedback and the Chainlit data layer (see docs/DEPLOYMENT.md)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from graph.audit import PostgresAuditTrail, open_audit_trail

pytestmark = pytest.mark.server

REPO_ROOT = Path(__file__).resolve().parents[3]
CUSTOMER = "C-00001"
THREAD = "engines-thread-1"
COLLECTIONS = ("customer_texts", "products", "policies")


def run_cli(production_env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """`advisor ARGS` in a fresh process that knows the servers only from its environment."""
    environment = {**os.environ, **production_env, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-c", "from advisor.cli import main; main()", *args], env=environment,
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=240)


def scalar(url: str, sql: str, params: tuple = ()):
    with psycopg.connect(url) as connection:
        return connection.execute(sql, params).fetchone()[0]


def ingest(settings):
    """The bank's tables and texts ingested with the services `advisor ingest` uses, built from the settings."""
    from advisor import services
    from bank.ingest import Ingestor

    store = services.open_store(settings)
    try:
        return Ingestor(store, services.open_chroma(settings), services.text_encoder(settings),
                        services.knowledge_base(settings)).run(settings.data_dir)
    finally:
        store.close()


@pytest.fixture(scope="session")
def ingest_report(production_settings):
    return ingest(production_settings)


@pytest.fixture(scope="session")
def two_turns(ingest_report, production_env, production_settings):
    """Turn 1 through `advisor ask` in its own process; turn 2 in this process on the same thread,
    without naming the customer, so only the PostgreSQL checkpointer can supply it."""
    from graph.runner import open_runner

    done = run_cli(production_env, "ask", "What products could I offer?", "--customer", CUSTOMER,
                   "--thread", THREAD, "--advisor", "A-001", "--json")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    first = json.loads(done.stdout)
    with open_runner(production_settings) as runner:
        second = runner.ask("Is a personal loan affordable for them?", thread_id=THREAD, advisor_id="A-001")
    return first, second


def test_ingestion_fills_the_chroma_server_and_no_local_folder(ingest_report, production_settings, chroma_server):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    assert ingest_report.error_count == 0
    assert all(ingest_report.texts_embedded[name] > 0 for name in COLLECTIONS), ingest_report.texts_embedded
    client = chromadb.HttpClient(host=chroma_server.host, port=chroma_server.port,
                                 settings=ChromaSettings(anonymized_telemetry=False))
    counts = {name: client.get_collection(name).count() for name in COLLECTIONS}
    assert counts == {name: ingest_report.texts_embedded[name] for name in COLLECTIONS}
    assert (chroma_server.path / "chroma.sqlite3").exists(), "the server keeps the documents in its --path"
    assert not production_settings.chroma_path.exists(), "nothing went to an embedded Chroma folder"


def test_ingesting_again_embeds_nothing_new(ingest_report, production_settings):
    report = ingest(production_settings)
    assert report.error_count == 0
    assert report.texts_embedded == {name: 0 for name in COLLECTIONS}
    assert report.texts_unchanged == {name: ingest_report.texts_embedded[name] for name in COLLECTIONS}


def test_ask_remembers_the_customer_across_processes_through_postgres(two_turns, production_settings,
                                                                     postgres_url):
    first, second = two_turns
    assert "error" not in first and "error" not in second, (first, second)
    assert first["customer_id"] == CUSTOMER and first["agents"]
    assert any(source["id"].startswith(("policy:", "product:", "interaction:")) for source in first["sources"]), \
        "the answer cites documents retrieved from the Chroma server"
    assert second["customer_id"] == CUSTOMER, "turn 2 named no customer: the thread's checkpoint supplied it"
    assert scalar(postgres_url, "SELECT count(*) FROM checkpoints WHERE thread_id = %s", (THREAD,)) >= 2
    assert not (production_settings.home / "checkpoints.sqlite").exists()


def test_audit_chain_on_postgres_holds_both_turns_and_catches_an_edit(two_turns, production_settings,
                                                                     postgres_url):
    first, second = two_turns
    trail = open_audit_trail(production_settings.audit_url)
    try:
        assert isinstance(trail, PostgresAuditTrail)
        for turn in (first, second):
            (answer,) = [r for r in trail.get(turn["trace_id"]) if r.kind == "answer"]
            assert answer.customer_id == CUSTOMER and answer.advisor_id == "A-001"
        assert trail.verify() == []
        seq = [r for r in trail.get(first["trace_id"]) if r.kind == "answer"][0].seq
        original = scalar(postgres_url, "SELECT payload FROM audit WHERE seq = %s", (seq,))
        with psycopg.connect(postgres_url) as connection:
            connection.execute("UPDATE audit SET payload = %s WHERE seq = %s",
                               (original.replace("What products", "Which products", 1), seq))
        try:
            assert [b.seq for b in trail.verify()] == [seq]
        finally:
            with psycopg.connect(postgres_url) as connection:
                connection.execute("UPDATE audit SET payload = %s WHERE seq = %s", (original, seq))
        assert trail.verify() == []
    finally:
        trail.close()
    assert not (production_settings.home / "audit.sqlite").exists()


def test_feedback_is_kept_in_postgres_lowers_the_rejected_offers_and_is_exported_and_erased(
        two_turns, production_settings, production_env, postgres_url, tmp_path):
    from graph.feedback import feedback_path, load_feedback_adjustments, record_offer_feedback

    first, _ = two_turns
    offered = [r["product_code"] for r in first["recommendations"]]
    assert offered, "the test needs an answer that made offers"
    result = record_offer_feedback(production_settings, first["trace_id"], 0, "customer not interested",
                                   advisor_id="A-001")
    assert result.product_codes == offered and result.customer_id == CUSTOMER
    assert scalar(postgres_url, "SELECT count(*) FROM offer_feedback WHERE trace_id = %s AND accepted = 0",
                  (first["trace_id"],)) == len(offered)
    rejected = load_feedback_adjustments(production_settings).outcomes
    group = f"segment:{result.segment}" if result.segment else f"band:{result.risk_band}"
    assert all(rejected[group][code].rejected == 1 for code in offered), rejected
    assert not feedback_path(production_settings).exists(), "no SQLite verdicts file beside PostgreSQL"
    trail = open_audit_trail(production_settings.audit_url)
    try:
        assert [r.kind for r in trail.get(first["trace_id"])] == ["answer", "feedback"]
        assert trail.verify() == []
    finally:
        trail.close()
    exported = run_cli(production_env, "export", CUSTOMER, "--out", str(tmp_path / "export.json"), "--json")
    assert exported.returncode == 0, exported.stderr[-2000:]
    held = json.loads((tmp_path / "export.json").read_text())["feedback"]["offer_feedback"]
    assert sorted(row["product_code"] for row in held) == sorted(offered)
    erased = run_cli(production_env, "forget", CUSTOMER, "--yes", "--json")
    assert erased.returncode == 0, erased.stderr[-2000:]
    assert json.loads(erased.stdout)["feedback_rows"] >= len(offered)
    assert scalar(postgres_url, "SELECT count(*) FROM offer_feedback WHERE customer_id = %s", (CUSTOMER,)) == 0
    assert load_feedback_adjustments(production_settings).outcomes == {}


def test_chainlit_data_layer_round_trips_on_postgres(production_settings, postgres_url):
    from tests.integration.test_chainlit_datalayer import _round_trip

    assert production_settings.ui_database_url == postgres_url
    asyncio.run(_round_trip(production_settings.ui_database_url))
    with psycopg.connect(postgres_url) as connection:
        tables = {r for (r,) in connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"threads", "steps", "elements", "feedbacks", "element_files"} <= tables
