"""The audit trail: the hash chain, tampering caught by `advisor audit verify`, sign-offs, export."""

from __future__ import annotations

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from advisor.cli.app import app as cli
from advisor.settings import get_settings
from graph.audit import AuditRecord, AuditTrail, verify_records


@pytest.fixture()
def trail_path(tmp_path, monkeypatch):
    """A trail of five answers and one sign-off under a fresh ADVISOR_HOME."""
    monkeypatch.setenv("ADVISOR_HOME", str(tmp_path))
    get_settings.cache_clear()
    path = tmp_path / "audit.sqlite"
    trail = AuditTrail(path)
    for number in range(1, 6):
        trail.append(f"trace-{number}", "answer",
                     {"question": f"question {number}", "agents": ["credit"], "answer": f"answer {number}"},
                     advisor_id="ADV-1" if number % 2 else "ADV-2", customer_id=f"C-0000{number}",
                     verdict="approved" if number != 4 else "blocked")
    trail.signoff("trace-2", "reviewer-7", "signoff", "checked against the policy")
    trail.close()
    yield path
    get_settings.cache_clear()


def run(*args: str):
    import advisor.cli.audit  # noqa: F401  (registers `advisor audit`)

    return CliRunner().invoke(cli, list(args))


def test_intact_chain_verifies(trail_path):
    result = run("audit", "verify", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report == {"ok": True, "records": 6, "breaks": []}


def test_edited_record_is_caught_and_named(trail_path):
    with sqlite3.connect(trail_path) as connection:
        connection.execute("UPDATE audit SET payload = replace(payload, 'answer 3', 'answer three') WHERE seq = 3")
    result = run("audit", "verify", "--json")
    assert result.exit_code == 1
    breaks = json.loads(result.stdout)["breaks"]
    assert [(b["seq"], b["trace_id"]) for b in breaks] == [(3, "trace-3")]
    assert "edited" in breaks[0]["problem"]
    human = run("audit", "verify")
    assert human.exit_code == 1 and "record 3 (trace trace-3)" in human.stderr


def test_edited_verdict_column_is_caught(trail_path):
    with sqlite3.connect(trail_path) as connection:
        connection.execute("UPDATE audit SET verdict = 'approved' WHERE seq = 4")
    breaks = json.loads(run("audit", "verify", "--json").stdout)["breaks"]
    assert [b["seq"] for b in breaks] == [4]


def test_rehashed_edit_still_breaks_the_next_link(trail_path):
    """An editor who recomputes the edited record's own hash breaks the link after it."""
    from graph.audit import record_hash

    trail = AuditTrail(trail_path)
    record = trail.get("trace-3")[0]
    payload = {**record.payload, "answer": "rewritten"}
    digest = record_hash(record.prev_hash, record.seq, record.trace_id, record.kind, record.created_at,
                         record.advisor_id, record.customer_id, record.verdict, payload)
    trail.close()
    with sqlite3.connect(trail_path) as connection:
        connection.execute("UPDATE audit SET payload = ?, hash = ? WHERE seq = 3", (json.dumps(payload), digest))
    breaks = json.loads(run("audit", "verify", "--json").stdout)["breaks"]
    assert [(b["seq"], "previous-hash" in b["problem"]) for b in breaks] == [(4, True)]


def test_deleted_record_is_caught(trail_path):
    with sqlite3.connect(trail_path) as connection:
        connection.execute("DELETE FROM audit WHERE seq = 2")
    result = run("audit", "verify", "--json")
    assert result.exit_code == 1
    problems = {b["seq"]: b["problem"] for b in json.loads(result.stdout)["breaks"]}
    assert "missing" in problems[2] and "previous-hash" in problems[3]


def test_deleted_last_records_are_caught(trail_path):
    with sqlite3.connect(trail_path) as connection:
        connection.execute("DELETE FROM audit WHERE seq >= 5")
    result = run("audit", "verify", "--json")
    assert result.exit_code == 1
    breaks = json.loads(result.stdout)["breaks"]
    assert len(breaks) == 1 and breaks[0]["seq"] == 5 and "5..6 at the end are missing" in breaks[0]["problem"]


def test_deleted_head_is_caught_and_blocks_appends(trail_path):
    with sqlite3.connect(trail_path) as connection:
        connection.execute("DELETE FROM audit_head")
    result = run("audit", "verify", "--json")
    assert result.exit_code == 1
    assert "head anchor is missing" in json.loads(result.stdout)["breaks"][0]["problem"]
    trail = AuditTrail(trail_path)
    with pytest.raises(RuntimeError, match="head is missing"):
        trail.append("trace-9", "answer", {})
    trail.close()


def test_append_after_tail_removal_keeps_the_gap_visible(trail_path):
    with sqlite3.connect(trail_path) as connection:
        connection.execute("DELETE FROM audit WHERE seq = 6")
    trail = AuditTrail(trail_path)
    trail.append("trace-7", "answer", {"question": "later"})
    breaks = trail.verify()
    trail.close()
    assert [b.seq for b in breaks] == [6, 7]


def test_list_filters_and_show(trail_path):
    listed = json.loads(run("audit", "list", "--advisor", "ADV-1", "--json").stdout)
    assert [r["trace_id"] for r in listed] == ["trace-5", "trace-3", "trace-1"]
    assert [r["trace_id"] for r in json.loads(run("audit", "list", "--verdict", "blocked", "--json").stdout)] \
        == ["trace-4"]
    assert [r["kind"] for r in json.loads(run("audit", "list", "--customer", "C-00002", "--json").stdout)] \
        == ["signoff", "answer"]
    assert json.loads(run("audit", "list", "--since", "2999-01-01", "--json").stdout) == []
    shown = json.loads(run("audit", "show", "trace-2", "--json").stdout)
    assert [r["kind"] for r in shown] == ["answer", "signoff"]
    assert shown[1]["payload"]["reviewed_hash"] == shown[0]["hash"]
    assert run("audit", "show", "trace-2").exit_code == 0
    missing = run("audit", "show", "no-such-trace", "--json")
    assert missing.exit_code != 0 and json.loads(missing.stdout)["error"]["code"] == "unknown_trace"


def test_signoff_command_appends_a_chained_record(trail_path):
    result = run("audit", "signoff", "trace-4", "--reviewer", "qa-1", "--decision", "flag", "--comment",
                 "mail jane.doe@example.com", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["kind"] == "flag" and record["payload"]["comment"] == "mail [EMAIL]"
    assert record["customer_id"] == "C-00004"
    assert run("audit", "verify").exit_code == 0
    unknown = run("audit", "signoff", "nope", "--reviewer", "qa-1", "--json")
    assert json.loads(unknown.stdout)["error"]["code"] == "unknown_trace"


def test_signoff_rejects_bad_input(trail_path):
    trail = AuditTrail(trail_path)
    with pytest.raises(ValueError):
        trail.signoff("trace-1", "qa", "approve", "")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        trail.signoff("trace-1", "  ", "signoff", "")
    trail.close()


def test_export_round_trips_and_an_edited_copy_fails(trail_path, tmp_path):
    out = tmp_path / "export" / "audit.jsonl"
    assert run("audit", "export", "--format", "jsonl", "--out", str(out)).exit_code == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 6
    records = [AuditRecord.model_validate_json(line) for line in lines]
    assert verify_records(records) == []
    assert run("audit", "verify", "--file", str(out)).exit_code == 0
    tampered = json.loads(lines[0])
    tampered["payload"]["answer"] = "changed"
    out.write_text("\n".join([json.dumps(tampered), *lines[1:]]) + "\n")
    result = run("audit", "verify", "--file", str(out), "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["breaks"][0]["seq"] == 1


def test_no_trail_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVISOR_HOME", str(tmp_path / "empty"))
    get_settings.cache_clear()
    try:
        result = run("audit", "verify", "--json")
    finally:
        get_settings.cache_clear()
    assert result.exit_code != 0 and json.loads(result.stdout)["error"]["code"] == "no_audit_trail"


def test_a_trail_written_before_the_head_table_is_anchored_on_open(tmp_path):
    path = tmp_path / "old.sqlite"
    trail = AuditTrail(path)
    trail.append("t1", "answer", {"q": 1})
    trail.close()
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE audit_head")
    reopened = AuditTrail(path)
    assert reopened.verify() == []
    reopened.append("t2", "answer", {"q": 2})
    assert reopened.verify() == [] and reopened.head().seq == 2
    reopened.close()
