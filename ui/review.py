"""The compliance review view: recent answers with filters, and the full trace of one answer.

Reads the audit trail only (``graph.audit``); sign-offs and flags are appended to it
by the app through ``AuditTrail.signoff``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from pydantic import BaseModel, Field, field_validator

from ui.render import AGENT_LABELS, SPECIALISTS, cell, recommendations_table, step_view

VERDICTS = ("approved", "revised", "blocked")
_FILTER_KEYS = {"advisor": "advisor_id", "customer": "customer_id", "verdict": "verdict", "since": "since",
                "date": "since", "limit": "limit"}
TRACE_ID_PATTERN = re.compile(r"^[0-9a-f]{8,64}$")


class ReviewFilter(BaseModel):
    advisor_id: str | None = None
    customer_id: str | None = None
    verdict: str | None = None
    since: str | None = Field(None, description="ISO date (or date-time): answers on or after it.")
    limit: int = Field(20, ge=1, le=200)

    @field_validator("verdict")
    @classmethod
    def _known_verdict(cls, value: str | None) -> str | None:
        if value is not None and value not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}")
        return value

    @field_validator("since")
    @classmethod
    def _iso_date(cls, value: str | None) -> str | None:
        if value is not None:
            date.fromisoformat(value[:10])
        return value

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in (("advisor", self.advisor_id), ("customer", self.customer_id),
                                          ("verdict", self.verdict), ("since", self.since)) if v]
        return ", ".join(parts) or "no filter"


class ReviewArgumentError(ValueError):
    pass


def parse_review_filter(arguments: str) -> ReviewFilter:
    """``advisor=A-001 verdict=blocked customer=C-00042 since=2026-01-01 limit=50`` as a filter."""
    values: dict[str, Any] = {}
    for token in arguments.split():
        key, sep, value = token.partition("=")
        if not sep or not value:
            raise ReviewArgumentError(f"'{token}' is not key=value; use advisor=, customer=, verdict=, since=, limit=")
        field = _FILTER_KEYS.get(key.lower())
        if field is None:
            raise ReviewArgumentError(f"unknown filter '{key}'; use advisor, customer, verdict, since or limit")
        values[field] = value.upper() if field in ("advisor_id", "customer_id") else value.lower()
    try:
        return ReviewFilter.model_validate(values)
    except ValueError as error:
        message = error.errors()[0]["msg"] if hasattr(error, "errors") else str(error)
        raise ReviewArgumentError(message) from error


def reviews_by_trace(records: Iterable[Any]) -> dict[str, list[Any]]:
    """Sign-off, flag and feedback records grouped by the trace they are about, oldest first."""
    grouped: dict[str, list[Any]] = {}
    for record in sorted(records, key=lambda r: r.seq):
        grouped.setdefault(record.trace_id, []).append(record)
    return grouped


def review_status(followups: Sequence[Any]) -> str:
    reviews = [r for r in followups if r.kind in ("signoff", "flag")]
    feedback = [r for r in followups if r.kind == "feedback"]
    status = "—"
    if reviews:
        last = reviews[-1]
        status = ("✅ signed off" if last.kind == "signoff" else "🚩 flagged") + f" by {last.payload.get('reviewer')}"
    if feedback:
        status += " · " + ("👍" if feedback[-1].payload.get("value") else "👎")
    return status


def review_table(answers: Sequence[Any], followups: Mapping[str, Sequence[Any]]) -> str:
    """Recent answers as a markdown table (newest first)."""
    if not answers:
        return "No answers match."
    rows = ["| When (UTC) | Trace | Advisor | Customer | Agents | Critic | Offers | Review |",
            "|---|---|---|---|---|---|---|---|"]
    for record in answers:
        payload = record.payload
        offers = ", ".join(r.get("product_code", "") for r in payload.get("recommendations") or []) or "—"
        agents = ", ".join(payload.get("agents") or []) or "documents"
        rows.append(f"| {record.created_at[:16].replace('T', ' ')} | `{record.trace_id[:12]}` | "
                    f"{cell(record.advisor_id)} | {cell(record.customer_id)} | {cell(agents)} | "
                    f"{cell(record.verdict)} | {cell(offers)} | {cell(review_status(followups.get(record.trace_id, [])))} |")
    return "\n".join(rows)


def _finding_section(name: str, finding: Mapping[str, Any]) -> str:
    view = step_view(name, {name: finding})
    return f"**{AGENT_LABELS[name]}**\n{view.markdown() if view else ''}"


def trace_markdown(records: Sequence[Any]) -> str:
    """Everything compliance needs about one answer: route, findings, documents, model, verdict, reviews."""
    answers = [r for r in records if r.kind == "answer"]
    if not answers:
        return "No answer with this trace id."
    answer = answers[-1]
    p = answer.payload
    llm = p.get("llm") or {}
    critic = p.get("critic") or {}
    compliance = p.get("compliance") or {}
    findings = p.get("findings") or {}
    parts = [
        f"## Trace `{answer.trace_id}`",
        f"Answered {answer.created_at} · advisor **{answer.advisor_id or '—'}** · customer "
        f"**{answer.customer_id or '—'}** · audit record #{answer.seq} (hash `{answer.hash[:16]}…`)",
        f"**Question:** {p.get('question', '')}",
        "### Route\n"
        f"- Routed: {', '.join(p.get('routed') or []) or '—'}\n"
        f"- Nodes run: {', '.join(p.get('nodes_run') or []) or '—'}\n"
        f"- Timings: " + ", ".join(f"{k} {v:,.0f} ms" for k, v in (p.get("timings_ms") or {}).items()),
        "### Model\n"
        f"- Backend **{llm.get('backend', '—')}**, model `{llm.get('model', '—')}`, {llm.get('calls', 0)} call(s), "
        f"{llm.get('prompt_tokens', 0)} prompt / {llm.get('completion_tokens', 0)} completion tokens"
        + (f"\n- Fallback: {llm['fallback_reason']}" if llm.get("fallback_reason") else "")
        + "".join(f"\n- Prompt `{name}`: `{digest[:16]}`" for name, digest in (p.get("prompt_hashes") or {}).items()),
        "### Critic\n"
        f"- Verdict **{critic.get('verdict', '—')}** · counterfactual invariant: "
        f"{critic.get('counterfactual_invariant', '—')}"
        + "".join(f"\n- Issue: {issue}" for issue in critic.get("issues") or []),
    ]
    sections = [_finding_section(name, findings[name]) for name in SPECIALISTS if findings.get(name)]
    if sections:
        parts.append("### Findings\n" + "\n\n".join(sections))
    credit = findings.get("credit") or {}
    if credit.get("reason_codes"):
        parts.append("### Reason codes\n" + "\n".join(
            f"- `{r['code']}` {r['text']} (feature {r['feature']}, value {r.get('value')}, "
            f"contribution {r['contribution']:+.3f})" for r in credit["reason_codes"]))
    if p.get("recommendations"):
        parts.append("### Offers\n" + recommendations_table(p["recommendations"]))
    parts.append("### Compliance\n" + ("✅ passed" if compliance.get("passed", True) else "⛔ failed")
                 + "".join(f"\n- {v.get('severity')}: {v.get('rule')} ({v.get('policy')}) — {v.get('message')}"
                           for v in compliance.get("violations") or [])
                 + "".join(f"\n- Disclosure: {d}" for d in compliance.get("disclosures") or []))
    parts.append("### Documents retrieved\n" + (", ".join(f"`{s}`" for s in p.get("sources") or []) or "none"))
    parts.append("### Answer given\n" + "\n".join(f"> {line}" for line in str(p.get("answer", "")).splitlines()))
    followups = [r for r in records if r.kind in ("feedback", "signoff", "flag")]
    if followups:
        lines = []
        for record in followups:
            q = record.payload
            if record.kind == "feedback":
                lines.append(f"- {record.created_at} feedback {'👍' if q.get('value') else '👎'} by "
                             f"{q.get('by') or record.advisor_id or '—'}: {q.get('comment') or ''}")
            else:
                lines.append(f"- {record.created_at} **{record.kind}** by {q.get('reviewer')}: "
                             f"{q.get('comment') or ''}")
        parts.append("### Feedback and reviews\n" + "\n".join(lines))
    return "\n\n".join(parts)


def summary_counts(answers: Sequence[Any]) -> str:
    verdicts = {v: sum(1 for a in answers if a.verdict == v) for v in VERDICTS}
    return " · ".join(f"{v}: {n}" for v, n in verdicts.items())

