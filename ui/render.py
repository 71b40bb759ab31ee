"""Markdown views of the graph's output for the chat: live steps, the final answer, errors.

Pure functions of the answer JSON (DESIGN.md) and of the graph's node updates, so
they are tested without Chainlit. Every figure shown is copied from a finding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

AGENT_LABELS = {
    "supervisor": "Router",
    "retrieve": "Document search",
    "spending": "Spending analyst",
    "credit": "Credit analyst",
    "sentiment": "Customer voice",
    "products": "Product matcher",
    "compliance": "Compliance check",
    "composer": "Answer writer",
    "critic": "Critic",
    "revise": "Revision",
}
SPECIALISTS = ("spending", "credit", "sentiment", "products", "compliance")
# Nodes that are plumbing rather than work an advisor cares to see.
HIDDEN_NODES = frozenset({"guard", "join"})

ERROR_HINTS = {
    "empty_question": "Type a question, for example *What can I offer this customer?*",
    "question_too_long": "Shorten the question and ask again.",
    "unknown_customer": "Check the id, or search by name with `/customer NAME`.",
    "not_in_book": "Only customers of your own book can be opened; ask their advisor.",
    "backend_unavailable": "The language model is not reachable; try again in a moment.",
}


class StepView(BaseModel):
    """One specialist's live step: its title, a few key figures and the tools it called."""

    node: str
    title: str
    summary: str
    tools: list[str] = []
    failed: bool = False

    def markdown(self) -> str:
        tools = f"\n\n*Tools:* {', '.join(f'`{t}`' for t in self.tools)}" if self.tools else ""
        return self.summary + tools


def plain(value: Any) -> Any:
    """Pydantic models (and lists/dicts of them) as JSON-ready data."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def money(amount: float | None) -> str:
    return "—" if amount is None else f"EUR {amount:,.2f}"


def percent(ratio: float | None, digits: int = 1) -> str:
    return "—" if ratio is None else f"{100 * ratio:.{digits}f}%"


def cell(text: Any) -> str:
    """Text safe inside a markdown table cell."""
    return str(text if text is not None else "—").replace("|", "\\|").replace("\n", " ").strip() or "—"


# --- live steps ------------------------------------------------------------------------
def _spending_lines(f: dict) -> list[str]:
    lines = [f"Income {money(f.get('monthly_income'))}/month · spending {money(f.get('monthly_spend'))}/month "
             f"over {f.get('months_covered', 0)} months"]
    top = f.get("by_category") or []
    if top:
        lines.append("Top categories: " + ", ".join(
            f"{c['category']} {money(c['monthly_average'])} ({percent(c['share'])})" for c in top[:3]))
    if f.get("segment"):
        lines.append(f"Segment: **{f['segment']}**")
    if f.get("subscriptions"):
        lines.append(f"Subscriptions: {len(f['subscriptions'])} costing {money(f.get('subscriptions_monthly_cost'))}"
                     "/month")
    if f.get("overspending"):
        lines.append(f"Overspending alerts: {len(f['overspending'])}")
    if f.get("suspicious"):
        lines.append(f"Transactions to check: {len(f['suspicious'])}")
    if f.get("budget"):
        lines.append(f"Savings target: {money(f['budget'].get('monthly_savings_target'))}/month")
    return lines


def _credit_lines(f: dict) -> list[str]:
    lines = []
    if f.get("risk_band"):
        lines.append(f"Risk band **{f['risk_band']}** · default probability {percent(f.get('default_probability'))}")
    lines.append(f"Utilisation {percent(f.get('utilisation_overall'))} · debt-to-income "
                 f"{percent(f.get('debt_to_income'))} · total debt {money(f.get('total_debt'))}")
    lines.append(f"Late payments (12 months): {f.get('late_payments_12m', 0)}, "
                 f"30+ days: {f.get('late_30_plus_12m', 0)}, missed: {f.get('missed_payments_12m', 0)}")
    for reason in (f.get("reason_codes") or [])[:3]:
        lines.append(f"{reason['code']}: {reason['text']}")
    return lines


def _sentiment_lines(f: dict) -> list[str]:
    lines = []
    if f.get("mood_label"):
        mood = f.get("mood")
        lines.append(f"Mood **{f['mood_label']}**" + (f" ({mood:+.2f})" if mood is not None else "")
                     + (f", {f['mood_trend']}" if f.get("mood_trend") else ""))
    lines.append(f"Texts read: {f.get('texts_considered', 0)} (consented social posts: {f.get('social_posts_used', 0)})"
                 f" · open complaints: {f.get('open_complaints', 0)}"
                 + (f" · churn risk {f['churn_risk']}" if f.get("churn_risk") else ""))
    intents = f.get("intents") or []
    if intents:
        lines.append("Asking about: " + ", ".join(f"{i['intent']} ×{i['count']}" for i in intents[:3]))
    if f.get("vulnerability_signals"):
        lines.append(f"⚠️ Vulnerability signals: {len(f['vulnerability_signals'])}")
    return lines


def _products_lines(f: dict) -> list[str]:
    offers = f.get("recommendations") or []
    lines = [f"Products considered: {f.get('considered', 0)} · offers: {len(offers)}"
             + (f" · excluded: {len(f.get('excluded') or {})}" if f.get("excluded") else "")]
    for offer in offers:
        lines.append(f"{offer['name']} (`{offer['product_code']}`) score {offer['score']:.2f}"
                     + (f" · {offer['price_tier']}" if offer.get("price_tier") else ""))
    if f.get("no_offer_reason"):
        lines.append(f"No offer: {f['no_offer_reason']}")
    return lines


def _compliance_lines(f: dict) -> list[str]:
    violations = f.get("violations") or []
    lines = [("✅ passed" if f.get("passed", True) else "⛔ failed")
             + f" · rules checked: {len(f.get('rules_checked') or [])} · disclosures: {len(f.get('disclosures') or [])}"]
    for violation in violations[:4]:
        lines.append(f"{violation['severity']}: {violation['rule']} ({violation['policy']}) — {violation['message']}")
    return lines


_SPECIALIST_LINES = {"spending": _spending_lines, "credit": _credit_lines, "sentiment": _sentiment_lines,
                     "products": _products_lines, "compliance": _compliance_lines}


def step_view(node: str, update: Mapping[str, Any]) -> StepView | None:
    """What one finished node shows in the chat; ``None`` for plumbing nodes."""
    if node in HIDDEN_NODES:
        return None
    update = plain(update) or {}
    title = AGENT_LABELS.get(node, node)
    timing = next(iter((update.get("timings_ms") or {}).values()), None)
    suffix = f"\n\n*{timing:,.0f} ms*" if timing is not None else ""
    if node in _SPECIALIST_LINES:
        finding = update.get(node) or {}
        if not finding.get("available", True):
            return StepView(node=node, title=title, failed=True, tools=finding.get("tools_called") or [],
                            summary=f"Not available: {finding.get('missing_reason') or 'no data'}{suffix}")
        lines = _SPECIALIST_LINES[node](finding)
        return StepView(node=node, title=title, tools=finding.get("tools_called") or [],
                        summary="\n".join(f"- {line}" for line in lines) + suffix)
    if node == "supervisor":
        route = update.get("route") or {}
        agents = route.get("agents") or []
        text = ("Knowledge question: documents only" if route.get("knowledge_only") or not agents
                else "Routed to " + ", ".join(AGENT_LABELS.get(a, a) for a in agents))
        return StepView(node=node, title=title, summary=f"{text} ({route.get('method', 'classifier')}){suffix}")
    if node == "retrieve":
        sources = update.get("sources") or []
        listed = ", ".join(f"`{s['id']}`" for s in sources) or "none found"
        return StepView(node=node, title=title, summary=f"Documents: {listed}{suffix}", tools=["hybrid_search"])
    if node == "critic":
        critic = update.get("critic") or {}
        # The issues quote the draft the critic rejected; they stay in the trace and the review view.
        issues = critic.get("issues") or []
        text = f"Verdict: **{critic.get('verdict', '?')}**"
        if issues:
            text += f" ({len(issues)} issue{'s' if len(issues) != 1 else ''} recorded for compliance review)"
        return StepView(node=node, title=title, summary=text + suffix, failed=critic.get("verdict") == "blocked")
    if node in ("composer", "revise"):
        llm = update.get("llm") or {}
        text = f"Written by {llm.get('backend', 'offline')} / {llm.get('model', '')}"
        if llm.get("fallback_reason"):
            text += f" (fell back to the offline composer: {llm['fallback_reason']})"
        return StepView(node=node, title=title, summary=text + suffix)
    return StepView(node=node, title=title, summary=f"done{suffix}")


def expected_steps(route_agents: Sequence[str], has_customer: bool) -> list[str]:
    """The specialists that will run for a route (offers need the three analyses and compliance)."""
    if not has_customer:
        return []
    wanted = set(route_agents)
    if "products" in wanted:
        wanted |= {"spending", "credit", "sentiment", "compliance"}
    return [a for a in SPECIALISTS if a in wanted]


# --- the final answer ------------------------------------------------------------------------
def recommendations_table(recommendations: Sequence[Mapping[str, Any]]) -> str:
    if not recommendations:
        return ""
    rows = ["| # | Product | Price tier | Why | Evidence |", "|---|---|---|---|---|"]
    for rank, offer in enumerate(recommendations, start=1):
        evidence = ", ".join(f"`{e}`" for e in (offer.get("evidence") or [])[:4])
        rows.append(f"| {rank} | {cell(offer.get('name'))} (`{offer.get('product_code')}`) | "
                    f"{cell(offer.get('price_tier'))} | {cell('; '.join(offer.get('reasons') or []))} | "
                    f"{cell(evidence)} |")
    return "\n".join(rows)


def disclosures_markdown(disclosures: Sequence[str]) -> str:
    return "\n".join(f"- {d}" for d in disclosures)


def written_offline(result: Mapping[str, Any]) -> bool:
    """Whether the offline composer wrote the answer (it already tabulates offers and disclosures)."""
    llm = result.get("llm") or {}
    return not llm.get("calls") or bool(llm.get("fallback_reason"))


MAX_SOURCES_SHOWN = 9


def source_name(rank: int) -> str:
    """The clickable name of the rank-th source (1-based).

    Chainlit links every occurrence of an element's name in the message, even inside
    code spans, so names must not be document ids the answer itself quotes.
    """
    return f"Source {rank}"


def source_text(source: Mapping[str, Any]) -> str:
    score = source.get("score")
    relevance = f" · relevance {score:.2f}" if isinstance(score, (int, float)) else ""
    return f"`{source['id']}` · {source.get('collection', '')}{relevance}\n\n{source.get('snippet', '')}"


def sources_line(sources: Sequence[Mapping[str, Any]]) -> str:
    shown = list(sources)[:MAX_SOURCES_SHOWN]
    return "**Open a source:** " + " · ".join(f"{source_name(n)} (`{s['id']}`)" for n, s in enumerate(shown, 1))


def answer_markdown(result: Mapping[str, Any]) -> str:
    """The final message: the answer, the offers and disclosures of record, sources and the trace line."""
    parts = [str(result.get("answer") or "").strip()]
    critic = result.get("critic") or {}
    if critic.get("verdict") == "blocked":
        parts.insert(0, "> ⛔ **The critic blocked this answer**; no offer may be made from it. "
                        "The policy sections it breaks are listed below.")
    elif result.get("answer_replaced_stream"):
        parts.insert(0, "> ✏️ *Updated: this is the answer of record; it replaces the draft shown while it was written.*")
    if not written_offline(result):
        if result.get("recommendations"):
            parts.append("### Offers of record\n" + recommendations_table(result["recommendations"]))
        disclosures = (result.get("compliance") or {}).get("disclosures") or []
        if disclosures:
            parts.append("### Disclosures you must give\n" + disclosures_markdown(disclosures))
    sources = result.get("sources") or []
    if sources:
        parts.append(sources_line(sources))
    parts.append(trace_line(result))
    return "\n\n".join(p for p in parts if p)


def trace_line(result: Mapping[str, Any]) -> str:
    llm = result.get("llm") or {}
    critic = (result.get("critic") or {}).get("verdict", "—")
    total = (result.get("timings_ms") or {}).get("total")
    timing = f" · {total / 1000:.1f} s" if total is not None else ""
    return (f"*trace `{result.get('trace_id')}` · critic {critic} · "
            f"{llm.get('backend', 'offline')}/{llm.get('model', '')}{timing}*")


def error_markdown(error: Mapping[str, Any]) -> str:
    code = str(error.get("code", "error"))
    hint = ERROR_HINTS.get(code)
    return f"**Cannot answer** ({code}): {error.get('message', '')}" + (f"\n\n{hint}" if hint else "")


# --- the customer header ----------------------------------------------------------------------
def customer_header(customer_id: str, facts: Mapping[str, Any], overview: Mapping[str, Any] | None = None) -> str:
    """A compact header: who (pseudonymous id), tenure and products, then segment, risk band and mood."""
    line = [f"**Customer {customer_id}**"]
    if facts.get("tenure_months") is not None:
        line.append(f"customer for {facts['tenure_months']} months")
    if facts.get("employment_status"):
        line.append(str(facts["employment_status"]))
    if facts.get("products"):
        line.append("holds " + ", ".join(f"`{p}`" for p in facts["products"]))
    header = " · ".join(line)
    if overview is None:
        return header + "\n\n*Loading segment, risk band and mood…*"
    findings = overview.get("findings") or {}
    spending, credit, sentiment = (findings.get(k) or {} for k in ("spending", "credit", "sentiment"))
    badges = [
        f"Segment: **{spending.get('segment') or '—'}**",
        f"Risk band: **{credit.get('risk_band') or '—'}**"
        + ("" if credit.get("available", True) else f" ({credit.get('missing_reason') or 'no credit data'})"),
        "Mood: **" + (f"{sentiment['mood_label']} ({sentiment['mood']:+.2f})" if sentiment.get("mood_label")
                      and sentiment.get("mood") is not None else sentiment.get("mood_label") or "—") + "**",
    ]
    if sentiment.get("vulnerability_signals"):
        badges.append("⚠️ vulnerability signals")
    return header + "\n\n" + " · ".join(badges)
