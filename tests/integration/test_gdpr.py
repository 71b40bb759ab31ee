"""`advisor forget`, `advisor export` and `advisor purge` on a home folder that has been used:
ingested texts, answered questions, conversation checkpoints, Chainlit threads, feedback, sign-offs."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from advisor.settings import Settings
from bank.erasure import customer_hash
from bank.vectorstore import CUSTOMER_TEXTS

REPO_ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ("Customer called about her card balance, what can I offer?", "How is her spending trending?")


def advisor_cli(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "ADVISOR_HOME": str(home), "PYTHONPATH": str(REPO_ROOT)}
    env.pop("ADVISOR_DATA_KEY", None)
    return subprocess.run([sys.executable, "-c", "from advisor.cli import main; main()", *args], env=env,
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)


def candidates(bank: Path) -> pd.DataFrame:
    """Customers with texts, posts, consents and contacts: the ones worth erasing in a test."""
    customers = pd.read_csv(bank / "customers.csv", dtype=str, keep_default_na=False)
    talkative = set(pd.read_csv(bank / "interactions.csv", dtype=str)["customer_id"])
    posting = set(pd.read_csv(bank / "social_posts.csv", dtype=str)["customer_id"])
    return customers[customers["customer_id"].isin(talkative & posting) & (customers["consent_social"] == "true")
                     & (customers["consent_marketing"] == "true") & customers["email"].ne("")
                     & customers["phone"].ne("")]


def pick_customers(runner, bank: Path) -> tuple[str, str, str]:
    """A customer who gets offers (the one to erase), another of the same advisor, and the trace of
    the target's first answer."""
    customers = pd.read_csv(bank / "customers.csv", dtype=str, keep_default_na=False)
    for row in candidates(bank).itertuples():
        result = runner.ask(QUESTIONS[0], row.customer_id, f"ui-{row.customer_id}", advisor_id=row.advisor_id)
        if result.get("recommendations"):
            other = customers[(customers["advisor_id"] == row.advisor_id)
                              & (customers["customer_id"] != row.customer_id)].iloc[0]
            return row.customer_id, other["customer_id"], result["trace_id"]
    pytest.fail("no customer of the bank gets an offer")


def write_ui_thread(settings: Settings, thread_id: str, customer_id: str, label: str, question: str) -> None:
    """A Chainlit thread as the app writes it: customer in the metadata, the label in a message, feedback."""
    from chainlit.context import init_http_context
    from chainlit.types import Feedback

    from ui.datalayer import make_data_layer

    async def write() -> None:
        layer = make_data_layer(settings.ui_database_url)
        init_http_context()
        await layer.update_thread(thread_id, name=question[:40], metadata={"customer_id": customer_id})
        header = str(uuid.uuid4())
        await layer.create_step({"id": header, "threadId": thread_id, "name": "Customer",
                                 "type": "assistant_message", "output": f"**{label}**",
                                 "createdAt": "2026-11-01T10:00:00Z"})
        await layer.create_step({"id": str(uuid.uuid4()), "threadId": thread_id, "name": "advisor",
                                 "type": "user_message", "output": question, "createdAt": "2026-11-01T10:00:01Z"})
        await layer.upsert_feedback(Feedback(forId=header, threadId=thread_id, value=0, comment="wrong customer?"))
        await layer.close()

    asyncio.run(write())


def ingested_home(bank_dir: Path, tmp_path_factory, name: str) -> Path:
    """A fresh copy of the session's bank ingested with its texts and the knowledge base, the
    source tables under the home folder as in the demo. The ingest runs once per test session
    (kept under the session's base temporary folder); the privacy, fault and consent tests each
    get their own copy to change."""
    base = tmp_path_factory.getbasetemp() / "ingested-base" / "home"
    ready = base.parent / "ready"
    if not ready.exists():
        from advisor import services
        from bank.ingest import Ingestor

        shutil.rmtree(base.parent, ignore_errors=True)
        settings = Settings(home=base, data_key=None)
        shutil.copytree(bank_dir, settings.data_dir)
        store = services.open_store(settings)
        Ingestor(store, services.open_chroma(settings), services.text_encoder(settings),
                 services.knowledge_base(settings)).run(settings.data_dir)
        store.close()
        ready.touch()
    home = tmp_path_factory.mktemp(name) / "home"
    shutil.copytree(base, home)
    return home


@pytest.fixture(scope="module")
def used_home(bank_dir, tmp_path_factory):
    """A home folder after a morning of work on two customers of one advisor."""
    from graph.feedback import record_offer_feedback
    from graph.runner import open_runner

    home = ingested_home(bank_dir, tmp_path_factory, "gdpr")
    settings = Settings(home=home, data_key=None)
    with open_runner(settings) as runner:
        target, other, first = pick_customers(runner, settings.data_dir)
        facts = runner.services.store.customer(target)
        traces = {target: [first]}
        for customer, questions in ((target, QUESTIONS[1:]), (other, QUESTIONS)):
            for question in questions:
                result = runner.ask(question, customer, f"ui-{customer}", advisor_id=facts.advisor_id)
                assert "error" not in result, result
                traces.setdefault(customer, []).append(result["trace_id"])
        runner.ask(f"Anything on {facts.full_name} ({facts.email})?", None, "ui-knowledge",
                   advisor_id=facts.advisor_id)
        for customer in (target, other):
            record_offer_feedback(settings, traces[customer][0], 1, "good call", facts.advisor_id, runner.audit)
        runner.audit.signoff(traces[target][0], "compliance-1", "signoff", f"checked with {facts.full_name}")
    for customer in (target, other):
        label = f"{customer} · {facts.full_name if customer == target else 'someone else'}"
        write_ui_thread(settings, f"ui-{customer}", customer, label, QUESTIONS[0])
    return {"home": home, "target": target, "other": other, "identifiers": facts, "traces": traces}


def copy_home(used_home, tmp_path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(used_home["home"], home)
    return home


def files_holding(home: Path, needles: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(home.rglob("*")):
        if not path.is_file():
            continue
        content = path.read_bytes().lower()
        hits = [n for n in needles if n.lower().encode() in content]
        if hits:
            found[str(path.relative_to(home))] = hits
    return found


def test_forget_leaves_nothing_of_the_customer_anywhere(used_home, tmp_path):
    home = copy_home(used_home, tmp_path)
    target, facts = used_home["target"], used_home["identifiers"]
    needles = [target, facts.full_name, facts.email, facts.phone]
    before = " ".join(files_holding(home, needles))
    assert all(name in before for name in ("bank/customers.csv", "bank.db", "checkpoints.sqlite", "ui.sqlite",
                                           "audit.sqlite", "chroma/")), before

    done = advisor_cli(home, "forget", target, "--yes", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["found"] and report["store"]["customers"] == 1 and report["chroma_documents"] > 0
    assert report["chroma_vacuumed"] and f"ui-{target}" in report["checkpoint_threads"]
    assert report["ui_threads"] >= 1 and report["feedback_rows"] >= 1 and report["source_rows"]
    # The general question naming the customer was redacted when it was asked (the runner looks
    # the names up), so erasure finds nothing of theirs left to redact in other records.
    assert len(report["audit_erased"]) >= 4, report

    leftovers = files_holding(home, needles)
    assert leftovers == {}, f"the customer is still in {leftovers}"
    assert files_holding(home, [used_home["other"]]), "other customers are untouched"

    verify = advisor_cli(home, "audit", "verify", "--json")
    assert verify.returncode == 0 and json.loads(verify.stdout)["ok"], verify.stdout
    tombstones = json.loads(advisor_cli(home, "audit", "list", "--kind", "erasure", "--json").stdout)
    assert len(tombstones) == 1
    shown = json.loads(advisor_cli(home, "audit", "show", tombstones[0]["trace_id"], "--json").stdout)
    assert shown[0]["payload"]["customer_hash"] == customer_hash(target)


def test_after_forget_the_system_still_serves_other_customers_and_refuses_the_erased_one(used_home, tmp_path):
    from advisor import services
    from graph.runner import open_runner

    home = copy_home(used_home, tmp_path)
    assert advisor_cli(home, "forget", used_home["target"], "--yes").returncode == 0
    settings = Settings(home=home, data_key=None)
    with open_runner(settings) as runner:
        assert runner.ask(QUESTIONS[0], used_home["target"])["error"]["code"] == "unknown_customer"
        assert "error" not in runner.ask(QUESTIONS[1], used_home["other"], f"ui-{used_home['other']}")
    client = services.open_chroma(settings)
    texts = client.get_collection(CUSTOMER_TEXTS)
    assert texts.get(where={"customer_id": used_home["other"]}, include=[])["ids"]
    again = advisor_cli(home, "forget", used_home["target"], "--yes", "--json")
    assert again.returncode != 0 and json.loads(again.stdout)["error"]["code"] == "unknown_customer"
    rerun_ingest = advisor_cli(home, "ingest", "--skip-text", "--json")
    assert rerun_ingest.returncode == 0
    store = services.open_store(settings)
    assert not store.customer_exists(used_home["target"]), "the scrubbed source files do not bring them back"
    store.close()


def test_export_holds_everything_about_the_customer(used_home, tmp_path):
    home = copy_home(used_home, tmp_path)
    target, facts = used_home["target"], used_home["identifiers"]
    out = tmp_path / "export.json"
    done = advisor_cli(home, "export", target, "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    data = json.loads(out.read_text())
    assert data["profile"]["full_name"] == facts.full_name and data["profile"]["email"] == facts.email
    bank = home / "bank"
    for table in ("accounts", "transactions", "payments", "interactions", "social_posts"):
        source = pd.read_csv(bank / f"{table}.csv", dtype=str)
        assert len(data[table]) == int((source["customer_id"] == target).sum()), table
    answers = [r for r in data["audit_records"] if r["kind"] == "answer"]
    assert sorted(r["trace_id"] for r in answers) == sorted(used_home["traces"][target])
    assert {r["kind"] for r in data["audit_records"]} >= {"answer", "signoff", "feedback"}
    assert data["feedback"]["offer_feedback"] and all(
        row["customer_id"] == target for row in data["feedback"]["offer_feedback"])
    assert data["conversation_threads"] == [f"ui-{target}"]
    [thread] = data["ui_threads"]
    assert thread["id"] == f"ui-{target}" and any(facts.full_name in (s["output"] or "") for s in thread["steps"])
    assert thread["feedback"][0]["comment"] == "wrong customer?"
    assert used_home["other"] not in json.dumps(data)
    missing = advisor_cli(home, "export", "C-99999", "--out", str(tmp_path / "none.json"), "--json")
    assert missing.returncode != 0 and json.loads(missing.stdout)["error"]["code"] == "unknown_customer"


def test_purge_removes_activity_older_than_the_retention_period(used_home, tmp_path):
    from advisor import services

    home = copy_home(used_home, tmp_path)
    settings = Settings(home=home, data_key=None)
    store = services.open_store(settings)
    as_of = store.latest_date()
    cutoff = (as_of - timedelta(days=90)).isoformat()
    before = {t: store.count(t) for t in ("transactions", "payments", "interactions", "social_posts")}
    old_texts = [f"interaction:{i}" for i in store.table("interactions", ["interaction_id"], "timestamp < ?",
                                                          (cutoff,))["interaction_id"]]
    store.close()
    assert old_texts, "the bank has interactions older than the cut-off"

    done = advisor_cli(home, "purge", "--older-than-days", "90", "--as-of", as_of.isoformat(), "--yes", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["cutoff"] == cutoff and report["checkpoint_threads"] == 0
    store = services.open_store(settings)
    try:
        for table, column in (("transactions", "timestamp"), ("payments", "due_date"),
                              ("interactions", "timestamp"), ("social_posts", "timestamp")):
            assert store.table(table, [column], f"{column} < ?", (cutoff,)).empty, table
            assert store.count(table) == before[table] - report["store"].get(table, 0) > 0, table
        assert store.customer_exists(used_home["target"]), "customers and accounts stay"
    finally:
        store.close()
    texts = services.open_chroma(settings).get_collection(CUSTOMER_TEXTS)
    assert texts.get(ids=old_texts, include=[])["ids"] == []
    assert report["chroma_documents"] >= len(old_texts)


def test_purge_removes_conversations_last_active_before_the_cut_off(used_home, tmp_path):
    home = copy_home(used_home, tmp_path)
    with sqlite3.connect(home / "checkpoints.sqlite") as connection:
        threads = connection.execute("SELECT COUNT(DISTINCT thread_id) FROM checkpoints").fetchone()[0]
    later = (datetime.now(timezone.utc).date() + timedelta(days=40)).isoformat()
    done = advisor_cli(home, "purge", "--older-than-days", "30", "--as-of", later, "--yes", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["checkpoint_threads"] == threads >= 3 and report["ui_threads"] == 2
    with sqlite3.connect(home / "checkpoints.sqlite") as connection:
        assert connection.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0] == 0
    with sqlite3.connect(home / "ui.sqlite") as connection:
        assert connection.execute("SELECT COUNT(*) FROM threads").fetchone()[0] == 0


def test_purge_and_forget_ask_before_deleting(used_home, tmp_path):
    home = copy_home(used_home, tmp_path)
    for command in (("forget", used_home["target"]), ("purge", "--older-than-days", "1")):
        done = advisor_cli(home, *command, "--json")
        assert done.returncode == 1 and json.loads(done.stdout)["error"]["code"] == "not_confirmed"
    assert files_holding(home, [used_home["target"]])
    assert date.fromisoformat(json.loads(advisor_cli(home, "purge", "--older-than-days", "99999", "--yes",
                                                     "--json").stdout)["cutoff"]) < date(2000, 1, 1)
