"""Erasing a customer from the hash-chained audit trail: the customer's data leaves, the chain
still verifies, a tombstone records the erasure, and erased records stay tamper-evident."""

from __future__ import annotations

import json
import sqlite3

import pytest

from bank.erasure import customer_hash
from graph.audit import ERASED_MARK, ERASURE_KIND, AuditRecord, AuditTrail, verify_records
from tests.integration.test_audit_postgres import postgres_url  # noqa: F401  (a real server per module)

CUSTOMER = "C-00042"
NAME, EMAIL, PHONE = "Aoife Byrne", "aoife.byrne@example.ie", "087 123 4567"


@pytest.fixture()
def trail(tmp_path):
    trail = AuditTrail(tmp_path / "audit.sqlite")
    trail.append("t-1", "answer", {"question": "card balance?", "thread_id": "thread-a", "agents": ["credit"],
                                    "answer": "Utilisation is 82% (`acct:AC-1`).", "llm": {"backend": "offline"},
                                    "recommendations": [{"product_code": "CC-BT"}]},
                 advisor_id="A-001", customer_id=CUSTOMER, verdict="approved")
    trail.append("t-2", "answer", {"question": f"Is {NAME} ({EMAIL}) the same person as C-00043?",
                                   "answer": "I can only answer about one customer."}, advisor_id="A-001")
    trail.signoff("t-1", "reviewer-7", "signoff", "offer fits the policy")
    trail.append("t-3", "answer", {"question": "loan?", "thread_id": "thread-b", "answer": "No offer."},
                 advisor_id="A-002", customer_id="C-00043", verdict="approved")
    trail.append("t-4", "feedback", {"value": 0, "comment": f"call {PHONE} first", "offers": ["CC-BT"]},
                 advisor_id="A-001", customer_id=CUSTOMER)
    yield trail
    trail.close()


def test_erasure_strips_the_customer_and_keeps_the_chain_verifiable(trail):
    result = trail.erase_customer(CUSTOMER, [NAME, EMAIL, PHONE], details={"store_rows": 12})
    assert result.erased == [1, 3, 5] and result.redacted == [2]
    assert result.thread_ids == ["thread-a"]
    assert trail.verify() == []
    own = trail.get("t-1")
    assert all(r.customer_id is None and r.payload["erased"] is True for r in own)
    assert own[0].payload == {"agents": ["credit"], "llm": {"backend": "offline"}, "erased": True,
                              "tombstone_seq": 6}
    assert own[1].payload["reviewer"] == "reviewer-7" and "comment" not in own[1].payload
    quoted = trail.get("t-2")[0]
    assert NAME not in json.dumps(quoted.payload) and quoted.payload["question"].count(ERASED_MARK) == 2
    other = trail.get("t-3")[0]
    assert other.customer_id == "C-00043" and other.payload["answer"] == "No offer."


def test_the_tombstone_names_the_customer_only_by_hash(trail):
    result = trail.erase_customer(CUSTOMER, [NAME, EMAIL, PHONE], details={"store_rows": 12})
    tombstone = result.tombstone
    assert tombstone is not None and tombstone.kind == ERASURE_KIND and tombstone.seq == 6
    assert tombstone.payload["customer_hash"] == customer_hash(CUSTOMER)
    assert tombstone.payload["details"] == {"store_rows": 12}
    assert [e["seq"] for e in tombstone.payload["erased_records"]] == [1, 2, 3, 5]
    assert CUSTOMER not in tombstone.model_dump_json()


def test_no_identifier_is_left_in_the_database_file(trail):
    trail.erase_customer(CUSTOMER, [NAME, EMAIL, PHONE])
    content = trail.path.read_bytes()
    wal = trail.path.with_name(trail.path.name + "-wal")
    content += wal.read_bytes() if wal.exists() else b""
    for needle in (CUSTOMER, NAME, EMAIL, PHONE, "Utilisation is 82%"):
        assert needle.encode() not in content, needle
    assert b"C-00043" in content, "other customers' records are untouched"


def test_an_erased_record_edited_again_breaks_the_chain(trail):
    trail.erase_customer(CUSTOMER, [NAME])
    with sqlite3.connect(trail.path) as connection:
        connection.execute("UPDATE audit SET verdict = 'blocked' WHERE seq = 1")
    breaks = trail.verify()
    assert [(b.seq, "edited" in b.problem) for b in breaks] == [(1, True)]


def test_a_forged_tombstone_does_not_excuse_an_edit(trail):
    """Rewriting a record and appending a tombstone by hand, without the real erased hash, is caught."""
    with sqlite3.connect(trail.path) as connection:
        connection.execute("UPDATE audit SET payload = '{\"erased\":true}' WHERE seq = 4")
    original = trail.all()[3]
    trail.append("forged", ERASURE_KIND, {"customer_hash": "x", "erased_records": [
        {"seq": 4, "hash": original.hash, "erased_hash": "0" * 64, "mode": "erased"}]})
    assert [b.seq for b in trail.verify()] == [4]


def test_erasing_twice_adds_no_second_tombstone(trail):
    first = trail.erase_customer(CUSTOMER, [NAME])
    second = trail.erase_customer(CUSTOMER, [NAME])
    assert second.erased == [] and second.redacted == []
    assert second.tombstone is not None and second.tombstone.seq == first.tombstone.seq
    assert len(trail.list(kind=ERASURE_KIND)) == 1 and trail.verify() == []


def test_new_records_after_an_erasure_chain_on_and_an_export_verifies(trail, tmp_path):
    trail.erase_customer(CUSTOMER, [NAME])
    trail.append("t-9", "answer", {"question": "later"}, customer_id="C-00043")
    assert trail.verify() == []
    records = [AuditRecord.model_validate_json(line) for line in trail.export_jsonl()]
    assert verify_records(records) == []
    records[0] = records[0].model_copy(update={"advisor_id": "A-999"})
    assert [b.seq for b in verify_records(records)] == [1]


def test_erasure_needs_a_customer_id(trail):
    with pytest.raises(ValueError):
        trail.erase_customer("  ")


@pytest.mark.server
def test_erasure_on_postgresql_keeps_the_chain(postgres_url):
    import psycopg

    from graph.audit import PostgresAuditTrail, open_audit_trail

    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS audit, audit_head")
    trail = open_audit_trail(postgres_url)
    assert isinstance(trail, PostgresAuditTrail)
    try:
        trail.append("t-1", "answer", {"question": "card?", "thread_id": "th-1", "agents": ["credit"]},
                     customer_id=CUSTOMER, verdict="approved")
        trail.append("t-2", "answer", {"question": f"who is {NAME}? 100% sure"}, customer_id="C-00043")
        result = trail.erase_customer(CUSTOMER, [NAME])
        assert result.erased == [1] and result.redacted == [2] and result.thread_ids == ["th-1"]
        assert trail.verify() == []
        assert trail.get("t-2")[0].payload["question"] == f"who is {ERASED_MARK}? 100% sure"
        assert trail.list(customer_id=CUSTOMER) == []
    finally:
        trail.close()


def test_a_customer_the_trail_never_mentions_gets_no_tombstone_unless_held_elsewhere(trail):
    nothing = trail.erase_customer("C-99999", ["Nobody Known"], held_elsewhere=False)
    assert nothing.tombstone is None and nothing.erased == [] and len(trail.all()) == 5
    elsewhere = trail.erase_customer("C-99999", ["Nobody Known"], details={"store_rows": 3})
    assert elsewhere.tombstone is not None and elsewhere.tombstone.payload["erased_records"] == []
    assert trail.verify() == []
