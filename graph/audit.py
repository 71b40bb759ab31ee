"""The append-only audit trail: one hash-chained record per answer and per sign-off.

Each record stores the SHA-256 of its own canonical JSON together with the hash of
the record before it, so editing or removing any record breaks the chain at that
point and :meth:`AuditTrail.verify` names it. SQLite by default (WAL, one
transaction per append); PostgreSQL by URL.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

GENESIS = "0" * 64


class AuditRecord(BaseModel):
    seq: int
    trace_id: str
    kind: str = Field(description="answer | signoff | flag | feedback | erasure")
    created_at: str
    advisor_id: str | None = None
    customer_id: str | None = None
    verdict: str | None = None
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class ChainBreak(BaseModel):
    seq: int
    trace_id: str | None
    problem: str


def canonical(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def record_hash(prev_hash: str, seq: int, trace_id: str, kind: str, created_at: str, advisor_id: str | None,
                customer_id: str | None, verdict: str | None, payload: dict[str, Any]) -> str:
    body = canonical({"prev": prev_hash, "seq": seq, "trace_id": trace_id, "kind": kind, "created_at": created_at,
                      "advisor_id": advisor_id, "customer_id": customer_id, "verdict": verdict,
                      "payload": payload})
    return hashlib.sha256(body.encode()).hexdigest()


class AuditTrail:
    """SQLite-backed audit trail (the embedded default)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, trace_id TEXT NOT NULL, kind TEXT NOT NULL, "
            "created_at TEXT NOT NULL, advisor_id TEXT, customer_id TEXT, verdict TEXT, payload TEXT NOT NULL, "
            "prev_hash TEXT NOT NULL, hash TEXT NOT NULL)"
        )
        self._conn.execute("CREATE INDEX IF NOT EXISTS ix_audit_trace ON audit(trace_id)")
        self._conn.execute("CREATE INDEX IF NOT EXISTS ix_audit_customer ON audit(customer_id)")

    def append(self, trace_id: str, kind: str, payload: dict[str, Any], advisor_id: str | None = None,
               customer_id: str | None = None, verdict: str | None = None) -> AuditRecord:
        created_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        payload = json.loads(canonical(payload))
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                last = self._conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
                seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
                digest = record_hash(prev, seq, trace_id, kind, created_at, advisor_id, customer_id, verdict, payload)
                self._conn.execute(
                    "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (seq, trace_id, kind, created_at, advisor_id, customer_id, verdict, canonical(payload), prev,
                     digest),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return AuditRecord(seq=seq, trace_id=trace_id, kind=kind, created_at=created_at, advisor_id=advisor_id,
                           customer_id=customer_id, verdict=verdict, payload=payload, prev_hash=prev, hash=digest)

    def _rows(self, where: str = "", params: tuple = ()) -> list[AuditRecord]:
        rows = self._conn.execute(f"SELECT * FROM audit {where} ORDER BY seq", params).fetchall()
        return [AuditRecord(seq=r[0], trace_id=r[1], kind=r[2], created_at=r[3], advisor_id=r[4], customer_id=r[5],
                            verdict=r[6], payload=json.loads(r[7]), prev_hash=r[8], hash=r[9]) for r in rows]

    def list(self, advisor_id: str | None = None, customer_id: str | None = None, verdict: str | None = None,
             since: str | None = None, kind: str | None = None, limit: int = 100) -> list[AuditRecord]:
        clauses, params = [], []
        for column, value in (("advisor_id", advisor_id), ("customer_id", customer_id), ("verdict", verdict),
                              ("kind", kind)):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        if since:
            clauses.append("created_at >= ?")
            params.append(since)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return self._rows(where, tuple(params))[-limit:][::-1]

    def get(self, trace_id: str) -> list[AuditRecord]:
        return self._rows("WHERE trace_id = ?", (trace_id,))

    def all(self) -> list[AuditRecord]:
        return self._rows()

    def verify(self) -> list[ChainBreak]:
        """Every edited, inserted or removed record, by sequence number."""
        breaks: list[ChainBreak] = []
        prev, expected_seq = GENESIS, 1
        for record in self._rows():
            if record.seq != expected_seq:
                breaks.append(ChainBreak(seq=expected_seq, trace_id=None,
                                         problem=f"records {expected_seq}..{record.seq - 1} are missing"))
            if record.prev_hash != prev:
                breaks.append(ChainBreak(seq=record.seq, trace_id=record.trace_id,
                                         problem="previous-hash link does not match the record before it"))
            digest = record_hash(record.prev_hash, record.seq, record.trace_id, record.kind, record.created_at,
                                 record.advisor_id, record.customer_id, record.verdict, record.payload)
            if digest != record.hash:
                breaks.append(ChainBreak(seq=record.seq, trace_id=record.trace_id,
                                         problem="content does not match its hash (edited)"))
            prev, expected_seq = record.hash, record.seq + 1
        return breaks

    def close(self) -> None:
        self._conn.close()


def open_audit_trail(url: str) -> AuditTrail:
    if url.startswith(("postgresql://", "postgres://")):
        raise NotImplementedError("PostgreSQL audit trail: see graph/audit_postgres.py")
    return AuditTrail(url)
