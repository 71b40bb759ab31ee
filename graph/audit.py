"""The append-only audit trail: one hash-chained record per answer and per sign-off.

Each record stores the SHA-256 of its own canonical JSON together with the hash of
the record before it, so editing or removing any record breaks the chain at that
point and :meth:`AuditTrail.verify` names it. A one-row head table, written in the
same transaction as every append, anchors the end of the chain: removing the last
records (which leaves no broken link behind) shows up as a head that points past
the last record. SQLite by default (WAL, one transaction per append); PostgreSQL by
URL (:class:`PostgresAuditTrail`, same behaviour).

The chain makes tampering evident; it does not stop someone who can rewrite the
whole file and recompute every hash. Exports keep every hash, so a copy can be
verified on its own (:func:`verify_records`).

Erasure (a customer's right to be forgotten) is the one sanctioned rewrite:
:meth:`AuditTrail.erase_customer` strips the customer's records down to facts that
say nothing about the person (which agents and model ran, the verdict, the reviewer),
replaces the customer's identifiers wherever other records quote them, and appends
an ``erasure`` tombstone listing, for every record it rewrote, the record's original
hash (still its chain link) and the hash of its erased form. Verification accepts a
record whose content no longer matches its hash only when a later tombstone names
exactly that content, so an erased record that is edited again still breaks the chain.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

GENESIS = "0" * 64
ERASURE_KIND = "erasure"
ERASED_MARK = "[ERASED]"
# Payload keys of an erased customer's records that say nothing about the person.
KEPT_ON_ERASURE = frozenset({"agents", "routed", "nodes_run", "llm", "prompt_hashes", "timings_ms", "reviewer",
                             "decision", "reviewed_seq", "reviewed_hash"})
ReviewDecision = Literal["signoff", "flag"]
REVIEW_DECISIONS: tuple[str, ...] = ("signoff", "flag")

_COLUMNS = "seq, trace_id, kind, created_at, advisor_id, customer_id, verdict, payload, prev_hash, hash"
_CREATE_AUDIT = (
    "CREATE TABLE IF NOT EXISTS audit (seq BIGINT PRIMARY KEY, trace_id TEXT NOT NULL, kind TEXT NOT NULL, "
    "created_at TEXT NOT NULL, advisor_id TEXT, customer_id TEXT, verdict TEXT, payload TEXT NOT NULL, "
    "prev_hash TEXT NOT NULL, hash TEXT NOT NULL)"
)
_CREATE_HEAD = (
    "CREATE TABLE IF NOT EXISTS audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, "
    "hash TEXT NOT NULL)"
)
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS ix_audit_trace ON audit(trace_id)",
    "CREATE INDEX IF NOT EXISTS ix_audit_customer ON audit(customer_id)",
    "CREATE INDEX IF NOT EXISTS ix_audit_advisor ON audit(advisor_id)",
)


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


class ErasedRecord(BaseModel):
    """One record rewritten by an erasure, as its tombstone lists it."""

    seq: int
    hash: str = Field(description="The record's hash as written: still the link the next record points to.")
    erased_hash: str = Field(description="The hash of the record's content after the erasure.")
    mode: Literal["erased", "redacted"] = Field(
        description="erased: the customer's own record, stripped; redacted: another record quoting the customer.")


class AuditErasure(BaseModel):
    """What :meth:`AuditTrail.erase_customer` did."""

    customer_hash: str
    erased: list[int] = Field(default_factory=list, description="Sequence numbers of the customer's own records.")
    redacted: list[int] = Field(default_factory=list, description="Other records that quoted the customer.")
    thread_ids: list[str] = Field(default_factory=list, description="Conversation threads the records named.")
    tombstone: AuditRecord | None = None


class ChainHead(BaseModel):
    """The anchor of the chain's end: the sequence number and hash of the last append."""

    seq: int
    hash: str


def canonical(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def record_hash(prev_hash: str, seq: int, trace_id: str, kind: str, created_at: str, advisor_id: str | None,
                customer_id: str | None, verdict: str | None, payload: dict[str, Any]) -> str:
    body = canonical({"prev": prev_hash, "seq": seq, "trace_id": trace_id, "kind": kind, "created_at": created_at,
                      "advisor_id": advisor_id, "customer_id": customer_id, "verdict": verdict,
                      "payload": payload})
    return hashlib.sha256(body.encode()).hexdigest()


def verify_records(records: Iterable[AuditRecord], head: ChainHead | None = None,
                   head_expected: bool = False) -> list[ChainBreak]:
    """Every edited, inserted or removed record of a chain, by sequence number.

    ``head`` is the chain's anchor when it is known (the live trail); with
    ``head_expected`` a missing anchor is itself a break (someone deleted it).
    """
    records = list(records)
    erasures = _erasures_by_seq(records)
    breaks: list[ChainBreak] = []
    prev, expected_seq = GENESIS, 1
    last: AuditRecord | None = None
    for record in records:
        if record.seq != expected_seq:
            breaks.append(ChainBreak(seq=expected_seq, trace_id=None,
                                     problem=f"records {expected_seq}..{record.seq - 1} are missing (removed)"))
        if record.prev_hash != prev:
            breaks.append(ChainBreak(seq=record.seq, trace_id=record.trace_id,
                                     problem="previous-hash link does not match the record before it"))
        digest = record_hash(record.prev_hash, record.seq, record.trace_id, record.kind, record.created_at,
                             record.advisor_id, record.customer_id, record.verdict, record.payload)
        if digest != record.hash and not _erased_as_listed(record, digest, erasures):
            breaks.append(ChainBreak(seq=record.seq, trace_id=record.trace_id,
                                     problem="content does not match its hash (edited)"))
        prev, expected_seq, last = record.hash, record.seq + 1, record
    if head is None:
        if head_expected:
            breaks.append(ChainBreak(seq=expected_seq, trace_id=None,
                                     problem="the chain head anchor is missing (removed)"))
        return breaks
    last_seq = last.seq if last else 0
    if head.seq > last_seq:
        breaks.append(ChainBreak(seq=last_seq + 1, trace_id=None,
                                 problem=f"records {last_seq + 1}..{head.seq} at the end are missing (removed)"))
    elif head.seq < last_seq:
        breaks.append(ChainBreak(seq=head.seq + 1, trace_id=None,
                                 problem=f"records {head.seq + 1}..{last_seq} were added outside the trail"))
    elif last is not None and last.hash != head.hash:
        breaks.append(ChainBreak(seq=last.seq, trace_id=last.trace_id,
                                 problem="the last record does not match the chain head (rewritten)"))
    return breaks


def _erasures_by_seq(records: Sequence[AuditRecord]) -> dict[int, tuple[int, ErasedRecord]]:
    """Every rewritten record named by an erasure tombstone: seq -> (tombstone seq, listing)."""
    listed: dict[int, tuple[int, ErasedRecord]] = {}
    for record in records:
        if record.kind != ERASURE_KIND:
            continue
        for item in record.payload.get("erased_records") or []:
            try:
                entry = ErasedRecord.model_validate(item)
            except ValueError:
                continue
            listed[entry.seq] = (record.seq, entry)
    return listed


def _erased_as_listed(record: AuditRecord, digest: str, erasures: dict[int, tuple[int, ErasedRecord]]) -> bool:
    listing = erasures.get(record.seq)
    if listing is None or record.kind == ERASURE_KIND:
        return False
    tombstone_seq, entry = listing
    return tombstone_seq > record.seq and entry.hash == record.hash and entry.erased_hash == digest


def _replace_everywhere(value: Any, needles: Sequence[str]) -> Any:
    """``value`` with every needle (case-insensitively) replaced by :data:`ERASED_MARK`, in all strings."""
    if isinstance(value, str):
        import re

        for needle in needles:
            value = re.sub(re.escape(needle), ERASED_MARK, value, flags=re.IGNORECASE)
        return value
    if isinstance(value, dict):
        return {_replace_everywhere(k, needles): _replace_everywhere(v, needles) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_everywhere(v, needles) for v in value]
    return value


def _mentions(record: AuditRecord, needles: Sequence[str]) -> bool:
    text = canonical(record.payload).casefold()
    return any(needle.casefold() in text for needle in needles)


def _record(row: Sequence[Any]) -> AuditRecord:
    return AuditRecord(seq=row[0], trace_id=row[1], kind=row[2], created_at=row[3], advisor_id=row[4],
                       customer_id=row[5], verdict=row[6], payload=json.loads(row[7]), prev_hash=row[8],
                       hash=row[9])


class _ChainedTrail:
    """The behaviour shared by both databases; subclasses supply connection and SQL details."""

    _lock: threading.Lock

    # --- database primitives ---------------------------------------------------------
    def _fetch(self, sql: str, params: tuple = ()) -> list[tuple]:
        raise NotImplementedError

    def _append_locked(self, build: Callable[[int, str], tuple]) -> tuple:
        """Run ``build(next_seq, prev_hash)`` after the head and insert its row, moving the head, in one
        exclusive transaction. Appending follows the head, not the last row, so removed tail records
        stay visible as a gap."""
        raise NotImplementedError

    def _rewrite_locked(self, where: str, params: tuple,
                        rewrite: Callable[[list[AuditRecord], int, str], tuple[list[AuditRecord], tuple | None]]
                        ) -> tuple | None:
        """In one exclusive transaction: read the records matching ``where``, let ``rewrite(records,
        next_seq, prev_hash)`` return the changed records and a row to append (or None), write both and
        move the head. Only erasure uses this."""
        raise NotImplementedError

    def _compact(self) -> None:
        """Drop the space freed by an erasure, so the old content is not left on disk."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # --- writing ---------------------------------------------------------------------
    def append(self, trace_id: str, kind: str, payload: dict[str, Any], advisor_id: str | None = None,
               customer_id: str | None = None, verdict: str | None = None) -> AuditRecord:
        created_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        payload = json.loads(canonical(payload))

        def build(seq: int, prev: str) -> tuple:
            digest = record_hash(prev, seq, trace_id, kind, created_at, advisor_id, customer_id, verdict, payload)
            return (seq, trace_id, kind, created_at, advisor_id, customer_id, verdict, canonical(payload), prev,
                    digest)

        with self._lock:
            row = self._append_locked(build)
        return _record(row)

    def signoff(self, trace_id: str, reviewer: str, decision: ReviewDecision, comment: str = "",
                identifiers_of: Callable[[str], Sequence[str]] | None = None) -> AuditRecord:
        """A reviewer's sign-off or flag on an answer, appended as its own record.

        The record carries the hash of the answer record it reviews, so the sign-off
        attests to that exact content. The comment is redacted like every payload.
        """
        from bank.privacy import redact

        if decision not in REVIEW_DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(REVIEW_DECISIONS)}, not {decision!r}")
        if not reviewer.strip():
            raise ValueError("a sign-off needs the reviewer's name or id")
        answers = [r for r in self.get(trace_id) if r.kind == "answer"]
        if not answers:
            raise KeyError(f"no answer with trace id {trace_id} in the audit trail")
        answer = answers[-1]
        known = identifiers_of(answer.customer_id) if identifiers_of and answer.customer_id else ()
        payload = {"reviewer": reviewer.strip(), "decision": decision, "comment": redact(comment, known),
                   "reviewed_seq": answer.seq, "reviewed_hash": answer.hash}
        return self.append(trace_id, decision, payload, advisor_id=answer.advisor_id,
                           customer_id=answer.customer_id)

    def erase_customer(self, customer_id: str, identifiers: Sequence[str] = (),
                       details: dict[str, Any] | None = None, held_elsewhere: bool = True) -> AuditErasure:
        """Erase a customer from the trail and append a tombstone (see the module docstring).

        The customer's own records keep only :data:`KEPT_ON_ERASURE` of their payload and
        lose their customer id; any other record quoting the customer id or one of
        ``identifiers`` (name, e-mail, phone) has those strings replaced. ``details`` (for
        example counts of what other stores removed) go into the tombstone. Running it again
        for the same customer changes nothing and appends no second tombstone; with
        ``held_elsewhere`` false, a customer the trail never mentions gets no tombstone either.
        """
        from bank.erasure import customer_hash

        customer_id = customer_id.strip()
        if not customer_id:
            raise ValueError("erasure needs a customer id")
        needles = sorted({n.strip() for n in (customer_id, *identifiers) if n and len(n.strip()) >= 3},
                         key=len, reverse=True)
        hashed = customer_hash(customer_id)
        result = AuditErasure(customer_hash=hashed)
        previous = [r for r in self.list(kind=ERASURE_KIND, limit=1_000_000)
                    if r.payload.get("customer_hash") == hashed]
        clauses = ["customer_id = ?"] + ["payload LIKE ? ESCAPE '\\'", "lower(payload) LIKE ? ESCAPE '\\'"] \
            * len(needles)
        params: list[str] = [customer_id]
        for needle in needles:
            escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params += [f"%{escaped}%", f"%{escaped.lower()}%"]
        where = f"kind != '{ERASURE_KIND}' AND ({' OR '.join(clauses)})"
        created_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        trace_id = f"erasure-{hashed[:16]}-{created_at[:10]}"

        def rewrite(candidates: list[AuditRecord], seq: int, prev: str) -> tuple[list[AuditRecord], tuple | None]:
            changed: list[AuditRecord] = []
            listing: list[ErasedRecord] = []
            for record in candidates:
                own = record.customer_id == customer_id
                if not own and not _mentions(record, needles):
                    continue
                if own:
                    thread = record.payload.get("thread_id")
                    if isinstance(thread, str) and thread and thread not in result.thread_ids:
                        result.thread_ids.append(thread)
                    payload = {k: v for k, v in record.payload.items() if k in KEPT_ON_ERASURE}
                    payload = json.loads(canonical({**payload, "erased": True, "tombstone_seq": seq}))
                    updated = record.model_copy(update={"customer_id": None, "payload": payload})
                    result.erased.append(record.seq)
                else:
                    payload = json.loads(canonical(_replace_everywhere(record.payload, needles)))
                    updated = record.model_copy(update={"payload": payload})
                    result.redacted.append(record.seq)
                erased_hash = record_hash(updated.prev_hash, updated.seq, updated.trace_id, updated.kind,
                                          updated.created_at, updated.advisor_id, updated.customer_id,
                                          updated.verdict, updated.payload)
                listing.append(ErasedRecord(seq=record.seq, hash=record.hash, erased_hash=erased_hash,
                                            mode="erased" if own else "redacted"))
                changed.append(updated)
            if not changed and (previous or not held_elsewhere):
                return [], None
            payload = json.loads(canonical({
                "customer_hash": hashed, "erased_on": created_at[:10],
                "erased_records": [entry.model_dump() for entry in listing], "details": details or {},
            }))
            digest = record_hash(prev, seq, trace_id, ERASURE_KIND, created_at, None, None, None, payload)
            return changed, (seq, trace_id, ERASURE_KIND, created_at, None, None, None, canonical(payload), prev,
                             digest)

        with self._lock:
            row = self._rewrite_locked(where, tuple(params), rewrite)
            self._compact()
        result.tombstone = _record(row) if row is not None else (previous[0] if previous else None)
        return result

    # --- reading ---------------------------------------------------------------------
    def _rows(self, where: str = "", params: tuple = ()) -> list[AuditRecord]:
        return [_record(r) for r in self._fetch(f"SELECT {_COLUMNS} FROM audit {where} ORDER BY seq", params)]

    def list(self, advisor_id: str | None = None, customer_id: str | None = None, verdict: str | None = None,
             since: str | None = None, kind: str | None = None, limit: int = 100) -> list[AuditRecord]:
        """Matching records, newest first (at most ``limit``)."""
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
        """Every record of one trace (the answer and its sign-offs), oldest first."""
        return self._rows("WHERE trace_id = ?", (trace_id,))

    def all(self) -> list[AuditRecord]:
        return self._rows()

    def head(self) -> ChainHead | None:
        rows = self._fetch("SELECT seq, hash FROM audit_head WHERE id = 1")
        return ChainHead(seq=rows[0][0], hash=rows[0][1]) if rows else None

    def verify(self) -> list[ChainBreak]:
        """Every edited, inserted or removed record, by sequence number."""
        return verify_records(self._rows(), self.head(), head_expected=True)

    def export_jsonl(self) -> Iterator[str]:
        """One JSON line per record, oldest first, hashes included (verifiable with :func:`verify_records`)."""
        for record in self._rows():
            yield record.model_dump_json()


class AuditTrail(_ChainedTrail):
    """SQLite-backed audit trail (the embedded default)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            had_head = self._conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_head'").fetchone()
            self._conn.execute(_CREATE_AUDIT)
            self._conn.execute(_CREATE_HEAD)
            for statement in _INDEXES:
                self._conn.execute(statement)
            if not had_head:
                # A new trail, or one written before the head existed: anchor its current end.
                last = self._conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
                self._conn.execute("INSERT INTO audit_head VALUES (1, ?, ?)", last or (0, GENESIS))
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def _fetch(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _append_locked(self, build: Callable[[int, str], tuple]) -> tuple:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            head = self._conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
            if head is None:
                raise RuntimeError("the audit chain head is missing; run `advisor audit verify`")
            row = build(head[0] + 1, head[1])
            self._conn.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            self._conn.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (row[0], row[9]))
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return row

    def _rewrite_locked(self, where: str, params: tuple, rewrite) -> tuple | None:
        self._conn.execute("PRAGMA secure_delete = ON")
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            head = self._conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
            if head is None:
                raise RuntimeError("the audit chain head is missing; run `advisor audit verify`")
            candidates = [_record(r) for r in self._conn.execute(
                f"SELECT {_COLUMNS} FROM audit WHERE {where} ORDER BY seq", params).fetchall()]
            changed, row = rewrite(candidates, head[0] + 1, head[1])
            for record in changed:
                self._conn.execute("UPDATE audit SET customer_id = ?, payload = ? WHERE seq = ?",
                                   (record.customer_id, canonical(record.payload), record.seq))
            if row is not None:
                self._conn.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
                self._conn.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (row[0], row[9]))
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return row

    def _compact(self) -> None:
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._conn.execute("VACUUM")
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self._conn.close()


class PostgresAuditTrail(_ChainedTrail):
    """The same trail in PostgreSQL (psycopg 3), for several app replicas sharing one log.

    Appends serialise on the head row (``SELECT ... FOR UPDATE``), so concurrent
    writers from many processes still build one unbroken chain.
    """

    def __init__(self, url: str):
        import psycopg

        self.url = url
        self._lock = threading.Lock()
        self._conn = psycopg.connect(url, autocommit=True)
        with self._conn.transaction():
            # One set-up at a time when several replicas start together.
            self._conn.execute("SELECT pg_advisory_xact_lock(hashtext('advisor_audit_setup'))")
            had_head = self._conn.execute("SELECT to_regclass('audit_head')").fetchone()[0] is not None
            self._conn.execute(_CREATE_AUDIT)
            self._conn.execute(_CREATE_HEAD)
            for statement in _INDEXES:
                self._conn.execute(statement)
            if not had_head:
                last = self._conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
                self._conn.execute("INSERT INTO audit_head VALUES (1, %s, %s)", last or (0, GENESIS))

    def _fetch(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql.replace("?", "%s"), params).fetchall()

    def _append_locked(self, build: Callable[[int, str], tuple]) -> tuple:
        with self._conn.transaction():
            head = self._conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE").fetchone()
            if head is None:
                raise RuntimeError("the audit chain head is missing; run `advisor audit verify`")
            row = build(head[0] + 1, head[1])
            self._conn.execute("INSERT INTO audit VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", row)
            self._conn.execute("UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1", (row[0], row[9]))
        return row

    def _rewrite_locked(self, where: str, params: tuple, rewrite) -> tuple | None:
        with self._conn.transaction():
            head = self._conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE").fetchone()
            if head is None:
                raise RuntimeError("the audit chain head is missing; run `advisor audit verify`")
            sql = f"SELECT {_COLUMNS} FROM audit WHERE {where.replace('?', '%s')} ORDER BY seq"
            rows = self._conn.execute(sql, params).fetchall()
            changed, row = rewrite([_record(r) for r in rows], head[0] + 1, head[1])
            for record in changed:
                self._conn.execute("UPDATE audit SET customer_id = %s, payload = %s WHERE seq = %s",
                                   (record.customer_id, canonical(record.payload), record.seq))
            if row is not None:
                self._conn.execute("INSERT INTO audit VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", row)
                self._conn.execute("UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1", (row[0], row[9]))
        return row

    def _compact(self) -> None:
        # VACUUM FULL rewrites the table, so the old row versions leave the data files.
        self._conn.execute("VACUUM FULL audit")

    def close(self) -> None:
        self._conn.close()


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def open_audit_trail(url: str) -> AuditTrail | PostgresAuditTrail:
    """The audit trail at ``url``: a postgresql:// URL or a SQLite file path."""
    if is_postgres_url(url):
        return PostgresAuditTrail(url)
    return AuditTrail(url)
