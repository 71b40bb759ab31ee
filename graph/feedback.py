"""Advisors' thumbs up and down on answers, kept as verdicts on the offers they held.

A thumbs-down on an answer that made offers counts as a rejection of each offer for
that customer's spending segment and risk band; a thumbs-up as an acceptance. The
verdicts live in a small SQLite table under ``ADVISOR_HOME`` (WAL, one transaction
per feedback, so a killed process loses nothing) and are turned into the product
matcher's :class:`~tools.products.feedback.FeedbackAdjustments`, which lowers the
score of offers that similar customers' advisors keep rejecting, within eligibility.
When the audit trail is in PostgreSQL (``ADVISOR_AUDIT_URL=postgresql://...``) the
verdicts go to an ``offer_feedback`` table in that same database instead, so every app
replica reads and writes the same verdicts.

The offers, segment and band of an answer are read back from its audit record, so
feedback always refers to what the advisor actually saw. Giving feedback again on
the same answer replaces the earlier verdict (one verdict per answer and offer).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from advisor.settings import Settings
from tools.products.feedback import FeedbackAdjustments

_CREATE = (
    "CREATE TABLE IF NOT EXISTS offer_feedback (trace_id TEXT NOT NULL, product_code TEXT NOT NULL, "
    "customer_id TEXT, advisor_id TEXT, segment TEXT, risk_band TEXT, accepted INTEGER NOT NULL, comment TEXT, "
    "created_at TEXT NOT NULL, PRIMARY KEY (trace_id, product_code))"
)
_UPSERT_SQLITE = "INSERT OR REPLACE INTO offer_feedback VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_UPSERT_POSTGRES = (
    "INSERT INTO offer_feedback VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (trace_id, product_code) DO UPDATE SET customer_id = EXCLUDED.customer_id, "
    "advisor_id = EXCLUDED.advisor_id, segment = EXCLUDED.segment, risk_band = EXCLUDED.risk_band, "
    "accepted = EXCLUDED.accepted, comment = EXCLUDED.comment, created_at = EXCLUDED.created_at"
)
_SELECT = "SELECT product_code, accepted, segment, risk_band FROM offer_feedback"


class OfferFeedback(BaseModel):
    """What one feedback recorded: the answer, its offers and the groups they count for."""

    trace_id: str
    accepted: bool
    product_codes: list[str]
    segment: str | None = None
    risk_band: str | None = None
    customer_id: str | None = None
    comment: str = ""


def feedback_path(settings: Settings) -> Path:
    """The SQLite file of verdicts, used unless :func:`feedback_postgres_url` names a database."""
    return settings.home / "feedback.sqlite"


def feedback_postgres_url(settings: Settings) -> str | None:
    """The PostgreSQL database holding the verdicts: the audit trail's, when it is PostgreSQL."""
    from graph.audit import is_postgres_url

    return settings.audit_url if is_postgres_url(settings.audit_url) else None


@contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path, timeout=30, isolation_level=None)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute(_CREATE)
        yield connection


@contextmanager
def _connect_postgres(url: str):
    """One transaction on the verdicts table (created on first use), committed on success."""
    import psycopg

    with psycopg.connect(url) as connection:
        # Replicas starting together create the table once.
        connection.execute("SELECT pg_advisory_xact_lock(hashtext('advisor_offer_feedback'))")
        connection.execute(_CREATE)
        yield connection


def _save_verdicts(settings: Settings, rows: list[tuple]) -> None:
    """Insert or replace the verdict rows in one transaction."""
    url = feedback_postgres_url(settings)
    if url is not None:
        with _connect_postgres(url) as connection, connection.cursor() as cursor:
            cursor.executemany(_UPSERT_POSTGRES, rows)
        return
    with _connect(feedback_path(settings)) as connection:
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.executemany(_UPSERT_SQLITE, rows)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise


def _load_verdicts(settings: Settings) -> list[tuple]:
    url = feedback_postgres_url(settings)
    if url is not None:
        with _connect_postgres(url) as connection:
            return connection.execute(_SELECT).fetchall()
    path = feedback_path(settings)
    if not path.exists():
        return []
    with _connect(path) as connection:
        return connection.execute(_SELECT).fetchall()


def offers_of_answer(payload: dict[str, Any]) -> tuple[list[str], str | None, str | None]:
    """The product codes offered in an answer record and the customer's segment and risk band."""
    findings = payload.get("findings") or {}
    codes = [r["product_code"] for r in payload.get("recommendations") or [] if r.get("product_code")]
    segment = (findings.get("spending") or {}).get("segment") or None
    risk_band = (findings.get("credit") or {}).get("risk_band") or None
    return codes, segment, risk_band


def record_offer_feedback(settings: Settings, trace_id: str, value: int | bool, comment: str | None = "",
                          advisor_id: str | None = None, audit=None) -> OfferFeedback:
    """Store an advisor's verdict on the offers of answer ``trace_id`` (1/True = thumbs up).

    ``audit`` is the audit trail to read the answer from and to append a ``feedback``
    record to (the one at ``settings.audit_url`` when not given). Raises ``KeyError``
    when no answer has this trace id.
    """
    from bank.privacy import redact
    from graph.audit import open_audit_trail

    trail = audit if audit is not None else open_audit_trail(settings.audit_url)
    try:
        answers = [r for r in trail.get(trace_id) if r.kind == "answer"]
        if not answers:
            raise KeyError(f"no answer with trace id {trace_id}")
        answer = answers[-1]
        codes, segment, risk_band = offers_of_answer(answer.payload)
        accepted = bool(int(value))
        from advisor.services import customer_identifiers

        note = redact(comment or "", customer_identifiers(settings, answer.customer_id))
        created_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        _save_verdicts(settings, [(trace_id, code, answer.customer_id, advisor_id or answer.advisor_id, segment,
                                   risk_band, int(accepted), note, created_at) for code in codes])
        result = OfferFeedback(trace_id=trace_id, accepted=accepted, product_codes=codes, segment=segment,
                               risk_band=risk_band, customer_id=answer.customer_id, comment=note)
        trail.append(trace_id, "feedback", {"value": int(accepted), "comment": note, "offers": codes,
                                            "by": advisor_id}, advisor_id=advisor_id or answer.advisor_id,
                     customer_id=answer.customer_id)
        return result
    finally:
        if audit is None:
            trail.close()


def load_feedback_adjustments(settings: Settings) -> FeedbackAdjustments:
    """Accepted and rejected counts per (segment or band, product) from every stored verdict."""
    adjustments = FeedbackAdjustments()
    for product_code, accepted, segment, risk_band in _load_verdicts(settings):
        adjustments.record(product_code, bool(accepted), segment=segment, risk_band=risk_band)
    return adjustments


def erase_postgres_feedback(settings: Settings, customer_id: str, trace_ids: list[str]) -> int:
    """Delete the customer's verdicts (by customer or by answer) from PostgreSQL; the rows removed.

    The SQLite file is handled by ``bank.erasure.erase_feedback_tables``; this is its
    counterpart when :func:`feedback_postgres_url` names a database (0 when it does not).
    """
    url = feedback_postgres_url(settings)
    if url is None:
        return 0
    with _connect_postgres(url) as connection:
        return connection.execute("DELETE FROM offer_feedback WHERE customer_id = %s OR trace_id = ANY(%s)",
                                  (customer_id, list(trace_ids))).rowcount


def postgres_feedback_rows(settings: Settings, customer_id: str, trace_ids: list[str]) -> list[dict[str, Any]]:
    """The customer's verdicts held in PostgreSQL (for a data-portability export); [] without one."""
    url = feedback_postgres_url(settings)
    if url is None:
        return []
    with _connect_postgres(url) as connection:
        cursor = connection.execute(
            "SELECT * FROM offer_feedback WHERE customer_id = %s OR trace_id = ANY(%s) ORDER BY created_at",
            (customer_id, list(trace_ids)))
        columns = [column.name for column in cursor.description]
        return [dict(zip(columns, row)) for row in cursor.fetchall()]


def refresh_feedback(services) -> None:
    """Make a long-running process's services (``graph.context.AdvisorServices``) read the
    verdicts again on the next question; they cache the adjustments once per process."""
    services.__dict__.pop("feedback", None)
