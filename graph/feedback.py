"""Advisors' thumbs up and down on answers, kept as verdicts on the offers they held.

A thumbs-down on an answer that made offers counts as a rejection of each offer for
that customer's spending segment and risk band; a thumbs-up as an acceptance. The
verdicts live in a small SQLite table under ``ADVISOR_HOME`` (WAL, one transaction
per feedback, so a killed process loses nothing) and are turned into the product
matcher's :class:`~tools.products.feedback.FeedbackAdjustments`, which lowers the
score of offers that similar customers' advisors keep rejecting, within eligibility.

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
    return settings.home / "feedback.sqlite"


@contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path, timeout=30, isolation_level=None)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute(_CREATE)
        yield connection


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
        note = redact(comment or "")
        created_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        with _connect(feedback_path(settings)) as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.executemany(
                    "INSERT OR REPLACE INTO offer_feedback VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(trace_id, code, answer.customer_id, advisor_id or answer.advisor_id, segment, risk_band,
                      int(accepted), note, created_at) for code in codes])
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
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
    path = feedback_path(settings)
    if not path.exists():
        return adjustments
    with _connect(path) as connection:
        rows = connection.execute("SELECT product_code, accepted, segment, risk_band FROM offer_feedback").fetchall()
    for product_code, accepted, segment, risk_band in rows:
        adjustments.record(product_code, bool(accepted), segment=segment, risk_band=risk_band)
    return adjustments


def refresh_feedback(services) -> None:
    """Make a long-running process's services (``graph.context.AdvisorServices``) read the
    verdicts again on the next question; they cache the adjustments once per process."""
    services.__dict__.pop("feedback", None)
