"""The composer: the advisor's answer, written from the findings only.

Two writers share this module. The offline composer (the default, and the fallback for
every backend failure) turns the findings into markdown deterministically. A model
backend gets the same facts, formatted by the same helpers, inside delimited blocks of
one prompt, and writes the answer in one call; the critic checks it afterwards.

Every figure the offline composer prints goes through one of the ``format_*`` helpers,
and ``figures_in_findings`` returns every string those helpers can make from the
findings, so a figure check can trace each number of an answer to a finding.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from prompts import (
    ContextBlock,
    PromptBudgetExceeded,
    customer_text_block,
    document_block,
    findings_block,
    fit_blocks,
    join_blocks,
    load_prompt,
    neutralise,
)
from tools.findings import (
    ComplianceFinding,
    CreditFinding,
    Findings,
    ProductsFinding,
    SentimentFinding,
    SpendingFinding,
)

if TYPE_CHECKING:
    from advisor.settings import Settings
    from graph.llm.base import LLMBackend

COMPOSER_PROMPTS = ("composer_system", "composer_user")
REVISION_PROMPTS = ("composer_system", "critic_revise")


class ComposedAnswer(BaseModel):
    answer_markdown: str
    written_by: Literal["offline", "llm"]
    backend: str = "offline"
    model: str = "offline-composer"
    prompt_hashes: dict[str, str] = Field(default_factory=dict)
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    fallback_reason: str | None = Field(None, description="Why a configured model did not write the answer.")
    dropped_context: list[str] = Field(default_factory=list, description="Context blocks left out for the budget.")


# --- formatting: the only way a figure reaches an answer -----------------------------------
def format_money(value: float) -> str:
    return f"EUR {value:,.2f}"


def format_pct(fraction: float) -> str:
    """A 0..1 fraction as a percentage: 0.78 -> '78.0%'."""
    return f"{fraction * 100:.1f}%"


def format_percent(value: float) -> str:
    """A value already in percent (change_pct, excess_pct, APR): 35.24 -> '35.2%'."""
    return f"{value:.1f}%"


def format_count(value: int) -> str:
    return f"{value:,d}"


def format_score(value: float) -> str:
    """A signed score such as sentiment (-1..1): '+0.35'."""
    return f"{value:+.2f}"


def format_number(value: float | int | str) -> str:
    """A value of unknown unit (a reason code's value)."""
    if isinstance(value, bool) or isinstance(value, str):
        return str(value)
    if isinstance(value, int) or float(value).is_integer():
        return format_count(int(value))
    return f"{value:,.2f}"


def format_date(value: date | str) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


def format_timestamp(value: str) -> str:
    return str(value).replace("T", " ")[:16]


# --- figures: what an answer may state ------------------------------------------------------
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_DATE = re.compile(r"(?<![\w-])\d{4}-\d{2}(?:-\d{2})?(?=T\d|[^\w-]|$)")
_NUM = r"[-+]?\d[\d,]*(?:\.\d+)?"
_NOT_AFTER = r"(?<![\w.,:§/-])"
_MONEY_BEFORE = re.compile(rf"(?:EUR|€)\s?({_NUM})")
_MONEY_AFTER = re.compile(rf"{_NOT_AFTER}({_NUM})\s?(?:EUR|€)")
_PERCENT = re.compile(rf"{_NOT_AFTER}({_NUM})\s?%")
_MULTIPLE = re.compile(rf"{_NOT_AFTER}({_NUM})x(?![\w])")
_PLAIN = re.compile(rf"{_NOT_AFTER}({_NUM})(?![\w:/-]|[.,]\d)")


def _canonical_number(raw: str, min_decimals: int = 0) -> str | None:
    """'1234.5' -> '1,234.5'; with ``min_decimals`` 2 -> '1,234.50' (the same value, written the usual way)."""
    sign = raw[0] if raw[0] in "+-" else ""
    digits = raw.lstrip("+-").replace(",", "")
    try:
        number = Decimal(digits)
    except InvalidOperation:
        return None
    decimals = max(-number.as_tuple().exponent, 0)
    if decimals < min_decimals:
        number = number.quantize(Decimal(1).scaleb(-min_decimals))
    return f"{sign}{number:,}"


def extract_figures(text: str) -> list[str]:
    """The figures a text states, in canonical form: 'EUR 1,234.56', '78.0%', '6.2x', '3', dates.

    Money is written with at least two decimals and percentages with at least one, so
    'EUR 1,250' and 'EUR 1,250.00', '78%' and '78.0%' are the same figure.

    Identifiers are not figures: code spans, evidence ids (``txn:T-0000123``), reason
    codes (``R01``), section references (``§3.2``) and clock times are skipped.
    """
    found: list[str] = []
    remaining = _CODE_SPAN.sub(" ", text)

    def take(pattern: re.Pattern[str], render: Callable[[str], str | None]) -> None:
        nonlocal remaining

        def replace(match: re.Match[str]) -> str:
            figure = render(match.group(1) if match.groups() else match.group(0))
            if figure is not None:
                found.append(figure)
            return " "

        remaining = pattern.sub(replace, remaining)

    take(_DATE, lambda raw: raw)
    take(_MONEY_BEFORE, lambda raw: f"EUR {canonical}" if (canonical := _canonical_number(raw, 2)) else None)
    take(_MONEY_AFTER, lambda raw: f"EUR {canonical}" if (canonical := _canonical_number(raw, 2)) else None)
    take(_PERCENT, lambda raw: f"{canonical}%" if (canonical := _canonical_number(raw, 1)) else None)
    take(_MULTIPLE, lambda raw: f"{canonical}x" if (canonical := _canonical_number(raw)) else None)
    take(_PLAIN, _canonical_number)
    return found


_MONEY_FIELDS = frozenset({
    "monthly_income", "monthly_spend", "monthly_average", "last_month", "previous", "current", "total", "amount",
    "price_rise_from", "baseline", "monthly_essential_spend", "monthly_discretionary_spend",
    "monthly_savings_target", "subscriptions_monthly_cost", "balance", "credit_limit", "total_debt",
    "monthly_debt_payments", "estimated_monthly_payment", "monthly_by_category",
})
_FRACTION_FIELDS = frozenset({
    "share", "utilisation", "utilisation_overall", "debt_to_income", "default_probability", "dti_after",
    "confidence", "intent_confidence",
})
_PERCENT_FIELDS = frozenset({"change_pct", "excess_pct", "apr"})
_SCORE_FIELDS = frozenset({"mood", "sentiment", "score", "contribution"})
# Customers' own words are quoted data, not facts: numbers in them support nothing.
_UNTRUSTED_TEXT_FIELDS = frozenset({"excerpt"})


def _variants(field: str | None, value: float | int) -> list[str]:
    magnitudes = {value, abs(value)}
    if field in _MONEY_FIELDS:
        return [format_money(v) for v in magnitudes] + [f"{v:,.2f}" for v in magnitudes]
    if field in _FRACTION_FIELDS:
        return [format_pct(v) for v in magnitudes] + [f"{v:.2f}" for v in magnitudes]
    if field in _PERCENT_FIELDS:
        return [format_percent(v) for v in magnitudes]
    if field in _SCORE_FIELDS:
        return [format_score(value), f"{value:.2f}", f"{abs(value):.2f}"]
    return [format_number(v) for v in magnitudes]


def _collect(value: Any, field: str | None, figures: set[str]) -> None:
    """Walk a finding; every list also supports its length ('3 subscriptions')."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, (datetime, date)):
        figures.update((format_date(value), format_date(value)[:7]))
    elif isinstance(value, (int, float)):
        for shown in _variants(field, value):
            figures.update(extract_figures(shown))
    elif isinstance(value, str):
        if field not in _UNTRUSTED_TEXT_FIELDS:
            figures.update(extract_figures(value))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _collect(key, None, figures)
            _collect(item, field, figures)
    elif isinstance(value, (list, tuple, set)):
        figures.add(format_count(len(value)))
        for item in value:
            _collect(item, field, figures)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _collect(getattr(value, name), name, figures)


def figures_in_findings(findings: Findings) -> set[str]:
    """Every figure string (canonical, see ``extract_figures``) the findings support."""
    figures: set[str] = set()
    _collect(findings, None, figures)
    return figures


def figures_in_sources(sources: Sequence[Any]) -> set[str]:
    """Figures stated in retrieved documents (for answers that quote them)."""
    figures: set[str] = set()
    for source in sources:
        figures.update(extract_figures(_source_fields(source)[2]))
    return figures


def supported_figures(findings: Findings, sources: Sequence[Any] = (), question: str | None = None) -> set[str]:
    """Figures an answer may state: the findings', the quoted documents' and the advisor's own."""
    supported = figures_in_findings(findings) | figures_in_sources(sources)
    if question:
        supported.update(extract_figures(question))
    return supported


def unsupported_figures(answer: str, supported: set[str]) -> list[str]:
    return [figure for figure in extract_figures(answer) if figure not in supported]


# --- question focus -------------------------------------------------------------------------
_TOPIC_WORDS: dict[str, tuple[str, ...]] = {
    "spending": ("spend", "spending", "budget", "save", "saving", "subscription", "merchant", "categor",
                 "transaction", "overspend", "fraud", "suspicious", "unusual", "expense", "cost"),
    "credit": ("credit", "loan", "debt", "risk", "default", "utilisation", "utilization", "repay", "late",
               "limit", "balance", "dti", "score", "afford"),
    "sentiment": ("mood", "sentiment", "complain", "complaint", "churn", "leave", "leaving", "feel", "unhappy",
                  "angry", "called", "goal", "intent", "vulnerab", "said", "wrote"),
    "products": ("offer", "product", "recommend", "card", "mortgage", "account", "sell", "propose", "suggest",
                 "what can i", "upgrade", "switch"),
    "compliance": ("disclos", "complian", "allowed", "suitab", "rule", "policy", "regulat", "may i", "can i"),
}
_SPENDING_SUBTOPICS: dict[str, tuple[str, ...]] = {
    "subscriptions": ("subscription", "recurring", "streaming", "duplicate"),
    "suspicious": ("fraud", "suspicious", "unusual", "anomal", "strange"),
    "savings": ("save", "saving", "budget", "plan"),
    "overspending": ("overspend", "too much", "over budget"),
}
_DEFAULT_ORDER = ("products", "credit", "spending", "sentiment", "compliance")


def _hits(question: str, words: Iterable[str]) -> int:
    lowered = question.lower()
    return sum(1 for word in words if word in lowered)


def topic_order(question: str, present: Iterable[str]) -> list[str]:
    """Present sections, the ones the question asks about first (stable otherwise)."""
    present = set(present)
    ranked = [name for name in _DEFAULT_ORDER if name in present]
    return sorted(ranked, key=lambda name: -_hits(question, _TOPIC_WORDS[name]))


def _spending_focus(question: str) -> str | None:
    scores = {topic: _hits(question, words) for topic, words in _SPENDING_SUBTOPICS.items()}
    best = max(scores, key=scores.get)
    return best if scores[best] else None


# --- offline sections -------------------------------------------------------------------------
@dataclass(frozen=True)
class Section:
    key: str
    title: str
    lines: list[str]
    headline: str
    warning: bool = False  # a block or restriction the one-line summary must not leave out


def _ids(evidence: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(f"`{item}`" for item in evidence[:limit])
    more = len(evidence) - limit
    return shown + (" and others" if more > 0 else "")


def _cite(evidence: Sequence[str], limit: int = 3) -> str:
    return f" ({_ids(evidence, limit)})" if evidence else ""


def _not_available(key: str, title: str, reason: str | None) -> Section:
    why = reason or "no data"
    return Section(key, title, [f"Not available: {why}."], f"{title} data is not available ({why}).")


def _words(tag: str) -> str:
    return tag.replace("_", " ")


def spending_section(finding: SpendingFinding, question: str = "") -> Section:
    if not finding.available:
        return _not_available("spending", "Spending", finding.missing_reason)
    lines: list[str] = []
    if finding.months_covered:
        window = ""
        if finding.window_start and finding.window_end:
            window = f", {format_date(finding.window_start)} to {format_date(finding.window_end)}"
        lines.append(
            f"Income {format_money(finding.monthly_income)} a month; "
            f"spending {format_money(finding.monthly_spend)} a month "
            f"(over {format_count(finding.months_covered)} months{window})."
        )
    if finding.segment:
        lines.append(f"Spending profile: {finding.segment}.")
    top = sorted(finding.by_category, key=lambda c: -c.monthly_average)[:5]
    if top:
        listed = ", ".join(
            f"{_words(c.category)} {format_money(c.monthly_average)} ({format_pct(c.share)})" for c in top
        )
        lines.append(f"Top categories (monthly average, share of spend): {listed}.")
    movers = sorted(finding.trends, key=lambda t: -abs(t.change_pct or 0.0))[:3]
    if movers:
        described = []
        for trend in movers:
            period = _words(trend.period)
            change = ""
            if trend.change_pct is not None:
                direction = "up" if trend.change_pct >= 0 else "down"
                change = f" {direction} {format_percent(abs(trend.change_pct))}"
            described.append(
                f"{_words(trend.category)}{change} {period} "
                f"({format_money(trend.previous)} to {format_money(trend.current)})"
            )
        lines.append(f"Largest movers: {'; '.join(described)}.")
    if finding.top_merchants:
        merchants = ", ".join(
            f"{m.merchant} {format_money(m.total)} ({format_count(m.count)} payments)"
            for m in finding.top_merchants[:3]
        )
        lines.append(f"Top merchants: {merchants}.")
    if finding.subscriptions:
        lines.append(
            f"Subscriptions cost {format_money(finding.subscriptions_monthly_cost)} a month in total "
            f"({format_count(len(finding.subscriptions))} services):"
        )
        for sub in finding.subscriptions:
            notes = []
            if sub.price_rise_from is not None:
                when = f" on {format_date(sub.price_rise_date)}" if sub.price_rise_date else ""
                notes.append(f"price rise from {format_money(sub.price_rise_from)}{when}")
            if sub.duplicate:
                notes.append("charged more than once per period (duplicate)")
            if sub.overlaps_with:
                family = f" ({_words(sub.family)})" if sub.family else ""
                notes.append(f"overlaps with {', '.join(sub.overlaps_with)}{family}")
            flagged = f" — {'; '.join(notes)}" if notes else ""
            lines.append(
                f"  - {sub.merchant}: {format_money(sub.amount)} {sub.period}, since {format_date(sub.first_seen)}"
                f"{flagged}{_cite(sub.evidence, 2)}"
            )
    for alert in finding.overspending:
        lines.append(
            f"Overspending on {_words(alert.category)} in {alert.month}: {format_money(alert.amount)} "
            f"against a usual {format_money(alert.baseline)} (up {format_percent(alert.excess_pct)})"
            f"{_cite(alert.evidence, 2)}."
        )
    if finding.budget:
        plan = finding.budget
        lines.append(
            f"Savings plan: save {format_money(plan.monthly_savings_target)} a month (essential spending "
            f"{format_money(plan.monthly_essential_spend)}, "
            f"discretionary {format_money(plan.monthly_discretionary_spend)} a month). How:"
        )
        lines.extend(f"  - {action}" for action in plan.actions)
    if finding.suspicious:
        lines.append("Suspicious transactions to check with the customer:")
        for txn in finding.suspicious:
            where = f" at {txn.merchant}" if txn.merchant else ""
            lines.append(
                f"  - `txn:{txn.transaction_id}` {format_money(abs(txn.amount))}{where}, "
                f"{format_timestamp(txn.timestamp)}: {'; '.join(txn.reasons)}"
            )
    if not lines:
        lines.append("No spending activity in the window.")
    return Section("spending", "Spending", lines, _spending_headline(finding, _spending_focus(question)))


def _spending_headline(finding: SpendingFinding, focus: str | None) -> str:
    if focus == "subscriptions" and finding.subscriptions:
        flagged = [
            s.merchant for s in finding.subscriptions if s.duplicate or s.overlaps_with or s.price_rise_from
        ]
        look = f"; worth a look: {', '.join(flagged)}" if flagged else ""
        return (
            f"Subscriptions cost {format_money(finding.subscriptions_monthly_cost)} a month across "
            f"{format_count(len(finding.subscriptions))} services{look}."
        )
    if focus == "suspicious":
        if not finding.suspicious:
            return "No suspicious transactions were found."
        return f"{format_count(len(finding.suspicious))} transaction(s) look suspicious and should be checked."
    if focus == "savings" and finding.budget:
        return f"A realistic savings target is {format_money(finding.budget.monthly_savings_target)} a month."
    if focus == "overspending":
        if not finding.overspending:
            return "No overspending against the customer's own usual levels."
        categories = sorted({_words(a.category) for a in finding.overspending})
        return f"Overspending in {', '.join(categories)}."
    return (
        f"Spends {format_money(finding.monthly_spend)} a month against an income of "
        f"{format_money(finding.monthly_income)}."
    )


def credit_section(finding: CreditFinding) -> Section:
    if not finding.available:
        return _not_available("credit", "Credit", finding.missing_reason)
    lines: list[str] = []
    headline_parts: list[str] = []
    if finding.default_probability is not None:
        band = f"Risk band {finding.risk_band}: " if finding.risk_band else ""
        model = f" (model `{finding.model_version}`)" if finding.model_version else ""
        lines.append(f"{band}default probability {format_pct(finding.default_probability)}{model}.")
        headline_parts.append(
            (f"risk band {finding.risk_band} " if finding.risk_band else "")
            + f"(default probability {format_pct(finding.default_probability)})"
        )
    if finding.reason_codes:
        lines.append("Main reasons for the risk score:")
        for reason in sorted(finding.reason_codes, key=lambda r: -r.contribution)[:4]:
            value = f" (value {format_number(reason.value)})" if reason.value is not None else ""
            lines.append(f"  - {reason.code}: {reason.text}{value}")
    if finding.utilisation_overall is not None:
        lines.append(f"Credit utilisation {format_pct(finding.utilisation_overall)} overall.")
        headline_parts.append(f"utilisation {format_pct(finding.utilisation_overall)}")
        for account in sorted(finding.accounts, key=lambda a: -a.utilisation)[:5]:
            product = f" {account.product_code}" if account.product_code else ""
            lines.append(
                f"  - `acct:{account.account_id}`{product}: {format_money(account.balance)} of "
                f"{format_money(account.credit_limit)} ({format_pct(account.utilisation)})"
            )
    debt = (
        f"Debt {format_money(finding.total_debt)} in total; "
        f"repayments {format_money(finding.monthly_debt_payments)} a month"
    )
    if finding.debt_to_income is not None:
        debt += (
            f", {format_pct(finding.debt_to_income)} of a monthly income of {format_money(finding.monthly_income)}"
            " (debt-to-income)"
        )
        headline_parts.append(f"debt-to-income {format_pct(finding.debt_to_income)}")
    lines.append(debt + ".")
    history = (
        f"Payment history (past year): {format_count(finding.late_payments_12m)} late payment(s), "
        f"{format_count(finding.late_30_plus_12m)} of them a month or more late"
    )
    if finding.worst_days_late:
        history += f", the worst {format_count(finding.worst_days_late)} days late"
    history += f"; {format_count(finding.missed_payments_12m)} missed."
    lines.append(history)
    if finding.evidence:
        lines.append(f"Evidence: {_ids(finding.evidence, 4)}.")
    headline = ("Credit: " + ", ".join(headline_parts) + ".") if headline_parts else (
        f"Credit: repayments {format_money(finding.monthly_debt_payments)} a month, "
        f"{format_count(finding.late_payments_12m)} late payment(s) in the past year."
    )
    return Section("credit", "Credit", lines, headline)


def sentiment_section(finding: SentimentFinding) -> Section:
    if not finding.available:
        return _not_available("sentiment", "Customer voice", finding.missing_reason)
    lines: list[str] = []
    headline_parts: list[str] = []
    if finding.mood is not None:
        label = finding.mood_label or "mood"
        trend = f", {finding.mood_trend}" if finding.mood_trend else ""
        lines.append(f"Recent mood: {label} ({format_score(finding.mood)}){trend}.")
        headline_parts.append(f"mood {label}{trend}")
    if finding.open_complaints:
        lines.append(f"Open complaints: {format_count(finding.open_complaints)}.")
        headline_parts.append(f"{format_count(finding.open_complaints)} open complaint(s)")
    if finding.churn_risk:
        lines.append(f"Churn risk: {finding.churn_risk}.")
        headline_parts.append(f"churn risk {finding.churn_risk}")
    if finding.intents:
        listed = "; ".join(
            f"{_words(i.intent)} ({format_count(i.count)} time(s), confidence {format_pct(i.confidence)}, last "
            f"{format_date(i.last_seen)}){_cite(i.evidence, 2)}"
            for i in finding.intents
        )
        lines.append(f"What the customer is asking about: {listed}.")
    if finding.goals:
        lines.append(f"Goals: {', '.join(_words(g) for g in finding.goals)}.")
    if finding.product_interests:
        lines.append(f"Interested in: {', '.join(_words(p) for p in finding.product_interests)}.")
    if finding.vulnerability_signals:
        lines.append("Vulnerability signals (handle with care, offer support first):")
        lines.extend(f"  - {signal}" for signal in finding.vulnerability_signals)
        headline_parts.append("vulnerability signals present")
    consent = (
        f"including {format_count(finding.social_posts_used)} consented social post(s)"
        if finding.social_consent else "no social posts (no consent)"
    )
    lines.append(f"Based on {format_count(finding.texts_considered)} text(s), {consent}.")
    if finding.injection_attempts:
        lines.append(
            f"{format_count(len(finding.injection_attempts))} text(s) contained instructions aimed at the system; "
            f"they were treated as quoted data only: {_ids(finding.injection_attempts, 5)}."
        )
    headline = ("Customer voice: " + ", ".join(headline_parts) + ".") if headline_parts else (
        "No recent customer texts to judge the customer's mood."
    )
    return Section("sentiment", "Customer voice", lines, headline)


def blocked_products(compliance: ComplianceFinding | None) -> set[str]:
    if compliance is None:
        return set()
    return {v.product_code for v in compliance.violations if v.severity == "block" and v.product_code}


def products_section(finding: ProductsFinding, compliance: ComplianceFinding | None = None) -> Section:
    if not finding.available:
        return _not_available("products", "Recommended offers", finding.missing_reason)
    blocked = blocked_products(compliance)
    offers = [r for r in finding.recommendations if r.product_code not in blocked]
    lines: list[str] = []
    if offers:
        with_payment = any(r.estimated_monthly_payment is not None for r in offers)
        header = "| Product | Price tier |" + (" Monthly payment |" if with_payment else "") + " Why | Evidence |"
        lines += [header, "|" + "---|" * (header.count("|") - 1)]
        for offer in offers:
            tier = offer.price_tier or (f"{format_percent(offer.apr)} APR" if offer.apr is not None else "—")
            cells = [f"{offer.name} ({offer.product_code})", tier]
            if with_payment:
                payment = "—"
                if offer.estimated_monthly_payment is not None:
                    payment = format_money(offer.estimated_monthly_payment)
                    if offer.dti_after is not None:
                        payment += f" (debt-to-income after: {format_pct(offer.dti_after)})"
                cells.append(payment)
            cells += ["; ".join(offer.reasons) or "—", _ids(offer.evidence, 3) or "—"]
            lines.append("| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |")
        confirm = [(o.product_code, item) for o in offers for item in o.to_confirm]
        if confirm:
            lines.append("Confirm with the customer before applying:")
            lines.extend(f"  - {code}: {item}" for code, item in confirm)
        best = offers[0]
        tier = f" at {best.price_tier}" if best.price_tier else ""
        headline = f"Best fit: {best.name}{tier}."
    else:
        fallback = "every candidate was blocked by compliance" if blocked else "no product fits"
        reason = finding.no_offer_reason or fallback
        lines.append(f"No offer: {reason}.")
        headline = f"No product to offer: {reason}."
    if blocked & {r.product_code for r in finding.recommendations}:
        lines.append(f"Blocked by compliance (see below): {', '.join(sorted(blocked))}.")
    if finding.hardship_support:
        lines.append("Offer hardship support (payment plan, budgeting help) rather than new credit.")
        headline += " Offer hardship support rather than new credit."
    if finding.excluded:
        shown = list(finding.excluded.items())[:5]
        excluded = "; ".join(f"{code} ({', '.join(rules)})" for code, rules in shown)
        more = len(finding.excluded) - len(shown)
        lines.append(f"Not offered: {excluded}" + ("; and others" if more > 0 else "") + ".")
    return Section("products", "Recommended offers", lines, headline)


def disclosures_section(compliance: ComplianceFinding | None, products: ProductsFinding | None) -> Section | None:
    texts = compliance.disclosures if compliance is not None else []
    given = {d.id for d in texts}
    blocked = blocked_products(compliance)
    owed = [] if products is None else sorted(
        {d for r in products.recommendations if r.product_code not in blocked for d in r.disclosures} - given
    )
    if not texts and not owed:
        return None
    lines = []
    for disclosure in texts:
        product = f" ({disclosure.product_code})" if disclosure.product_code else ""
        lines.append(f"- **{disclosure.id}**{product}: {disclosure.text}")
    if owed:
        lines.append(f"- Also required (text in the disclosure register): {', '.join(owed)}.")
    headline = f"Disclosures to give: {', '.join([d.id for d in texts] + owed)}."
    return Section("disclosures", "Disclosures you must give", lines, headline)


def compliance_section(finding: ComplianceFinding) -> Section:
    if not finding.available:
        return _not_available("compliance", "Compliance", finding.missing_reason)
    lines = []
    blocking = [v for v in finding.violations if v.severity == "block"]
    if finding.passed and not finding.violations:
        lines.append(f"All {format_count(len(finding.rules_checked))} checks passed." if finding.rules_checked
                     else "All checks passed.")
    for violation in finding.violations:
        product = f" [{violation.product_code}]" if violation.product_code else ""
        lines.append(
            f"- **{violation.severity}** {violation.rule} ({violation.policy}){product}: {violation.message}"
        )
    if finding.restrictions:
        lines.append("Restrictions:")
        lines.extend(f"  - {restriction}" for restriction in finding.restrictions)
    if blocking:
        listed = "; ".join(f"{v.product_code}: {v.message}" if v.product_code else v.message for v in blocking)
        headline = f"Compliance blocks {listed}."
    elif finding.restrictions:
        headline = f"Restrictions apply: {'; '.join(finding.restrictions)}."
    else:
        headline = "Compliance checks passed."
    return Section("compliance", "Compliance", lines, headline, warning=bool(blocking or finding.restrictions))


def _source_fields(source: Any) -> tuple[str, str, str]:
    if isinstance(source, Mapping):
        return str(source.get("id", "")), str(source.get("collection", "")), str(source.get("snippet", ""))
    return str(source.id), str(getattr(source, "collection", "")), str(getattr(source, "snippet", ""))


def sources_section(sources: Sequence[Any]) -> Section | None:
    if not sources:
        return None
    lines = [f"- `{sid}` ({collection})" for sid, collection, _ in map(_source_fields, sources)]
    return Section("sources", "Sources", lines, "")


# --- the offline answer ---------------------------------------------------------------------
_STOPWORDS = frozenset(
    "a an and are as at be by can do does for from has have how i in is it its me my of on or our the this "
    "to was what when which who why will with you your customer customers bank please tell about".split()
)


def _terms(text: str) -> set[str]:
    return {word for word in re.findall(r"[a-z][a-z0-9-]+", text.lower()) if word not in _STOPWORDS}


def best_passage(question: str, snippet: str, sentences: int = 2) -> str:
    """The sentences of a snippet that share the most words with the question, in their order."""
    parts = [p.strip() for p in re.split(r"(?<=[.!?])\s+", snippet.strip()) if p.strip()]
    if len(parts) <= sentences:
        return " ".join(parts)
    wanted = _terms(question)
    ranked = sorted(range(len(parts)), key=lambda i: (-len(_terms(parts[i]) & wanted), i))[:sentences]
    return " ".join(parts[i] for i in sorted(ranked))


def _knowledge_answer(question: str, sources: Sequence[Any]) -> str:
    if not sources:
        return (
            "**In short:** I found nothing in the bank's documents or data that answers this question; "
            "please check with the product or compliance team."
        )
    first_id, _, first_snippet = _source_fields(sources[0])
    lines = [
        f"**In short:** the bank's documents answer this in `{first_id}`: "
        f"\"{best_passage(question, first_snippet)}\"",
        "",
        "### What the documents say",
    ]
    for sid, collection, snippet in map(_source_fields, sources):
        lines += [f"> {best_passage(question, snippet, 3)}", f"> — `{sid}` ({collection})", ""]
    lines += ["### Sources", *sources_section(sources).lines]
    return "\n".join(lines).strip()


def _analysis_sections(question: str, findings: Findings) -> list[Section]:
    builders: dict[str, Callable[[], Section]] = {}
    if findings.spending is not None:
        builders["spending"] = lambda: spending_section(findings.spending, question)
    if findings.credit is not None:
        builders["credit"] = lambda: credit_section(findings.credit)
    if findings.sentiment is not None:
        builders["sentiment"] = lambda: sentiment_section(findings.sentiment)
    if findings.products is not None:
        builders["products"] = lambda: products_section(findings.products, findings.compliance)
    return [builders[name]() for name in topic_order(question, builders)]


def _summary(question: str, sections: list[Section], compliance: Section | None, customer_id: str | None) -> str:
    """One line that answers what was asked: the headlines of the sections the question is about."""
    asked = [s for s in sections if _hits(question, _TOPIC_WORDS[s.key])][:2] or sections[:1]
    headlines = [s.headline for s in asked if s.headline]
    offers_in_view = any(s.key == "products" for s in asked) or _hits(question, _TOPIC_WORDS["compliance"])
    if compliance is not None and compliance.warning and offers_in_view:
        headlines.insert(0, compliance.headline)
    elif compliance is not None and not sections:
        headlines.append(compliance.headline)
    if not headlines:
        headlines = ["no findings are available for this question."]
    who = f"For {customer_id}: " if customer_id else ""
    return f"**In short:** {who}{' '.join(headlines)}"


def render_offline(
    question: str, findings: Findings, sources: Sequence[Any] = (), customer_id: str | None = None
) -> str:
    """The deterministic markdown answer from the findings (and sources) only."""
    sections = _analysis_sections(question, findings)
    compliance = compliance_section(findings.compliance) if findings.compliance is not None else None
    if not sections and compliance is None:
        return _knowledge_answer(question, sources)
    parts = [_summary(question, sections, compliance, customer_id)]
    tail = [disclosures_section(findings.compliance, findings.products), compliance, sources_section(sources)]
    for section in [*sections, *(s for s in tail if s is not None)]:
        parts.append(f"### {section.title}\n" + "\n".join(_as_markdown_lines(section.lines)))
    return "\n\n".join(parts)


def _as_markdown_lines(lines: list[str]) -> list[str]:
    """Plain sentences become bullets; tables, sub-bullets and ready bullets stay as they are."""
    return [line if line.startswith(("|", "  -", "- ")) else f"- {line}" for line in lines]


def compose_offline(
    question: str, findings: Findings, sources: Sequence[Any] = (), customer_id: str | None = None
) -> ComposedAnswer:
    started = time.perf_counter()
    answer = render_offline(question, findings, sources, customer_id)
    return ComposedAnswer(
        answer_markdown=answer, written_by="offline", latency_ms=round((time.perf_counter() - started) * 1000, 2)
    )


# --- the model-written answer ---------------------------------------------------------------
_BASE_PRIORITY = {"compliance": 100, "products": 90, "credit": 70, "spending": 65, "sentiment": 60}
# Blocks at or above this priority (offers, disclosures and compliance, the top document of a
# knowledge question) must reach the model: if the budget drops one, the offline composer answers.
ESSENTIAL_PRIORITY = 90


def context_blocks(question: str, findings: Findings, sources: Sequence[Any]) -> list[ContextBlock]:
    """The optional prompt context, each block with the priority that decides what the budget keeps."""
    blocks: list[ContextBlock] = []
    present = [name for name in _BASE_PRIORITY if getattr(findings, name) is not None]
    asked = set(topic_order(question, present)[:2])
    for section in _analysis_sections(question, findings):
        priority = _BASE_PRIORITY[section.key] + (15 if section.key in asked else 0)
        body = section.title + "\n" + "\n".join(_as_markdown_lines(section.lines))
        blocks.append(ContextBlock(f"findings.{section.key}", findings_block(section.key, body), priority))
    compliance_parts = [
        s for s in (disclosures_section(findings.compliance, findings.products),
                    compliance_section(findings.compliance) if findings.compliance is not None else None)
        if s is not None
    ]
    if compliance_parts:
        body = "\n\n".join(s.title + "\n" + "\n".join(_as_markdown_lines(s.lines)) for s in compliance_parts)
        block = findings_block("compliance", body)
        blocks.append(ContextBlock("findings.compliance", block, _BASE_PRIORITY["compliance"]))
    knowledge_only = not blocks
    for rank, source in enumerate(sources):
        sid, collection, snippet = _source_fields(source)
        if knowledge_only:
            priority = ESSENTIAL_PRIORITY + 5 if rank == 0 else 85 - rank
        else:
            priority = 50 - rank
        blocks.append(ContextBlock(f"document.{sid}", document_block(sid, collection, snippet), priority))
    if findings.sentiment is not None and findings.sentiment.available:
        flagged = set(findings.sentiment.injection_attempts)
        for age, text in enumerate(sorted(findings.sentiment.recent, key=lambda t: t.date, reverse=True)):
            block = customer_text_block(
                text.source_id, text.excerpt, channel=text.channel, when=format_date(text.date),
                flagged=text.source_id in flagged,
            )
            blocks.append(ContextBlock(f"customer_text.{text.source_id}", block, 20 - min(age, 19)))
    return blocks


def _customer_line(customer_id: str | None, findings: Findings) -> str:
    if customer_id:
        return f"The question is about customer {neutralise(customer_id)}."
    if any(getattr(findings, name) is not None for name in _BASE_PRIORITY):
        return "The question is about the customer the findings describe."
    return "No customer is selected: this is a general question; answer from the documents."


def _fit_essential(
    blocks: list[ContextBlock], fits: Callable[[Sequence[ContextBlock]], bool]
) -> tuple[list[ContextBlock], list[str]]:
    kept, dropped = fit_blocks(blocks, fits)
    essential = [b.key for b in blocks if b.priority >= ESSENTIAL_PRIORITY and b.key in dropped]
    if essential:
        raise PromptBudgetExceeded(f"essential context does not fit the prompt budget: {', '.join(essential)}")
    return kept, dropped


def composer_messages(
    question: str, findings: Findings, sources: Sequence[Any], fits: Callable[[list[dict[str, str]]], bool],
    customer_id: str | None = None,
) -> tuple[list[dict[str, str]], list[str]]:
    """The composer's chat messages within the budget, and the keys of the context blocks left out."""
    system = load_prompt("composer_system").render()
    user = load_prompt("composer_user")

    def build(blocks: Sequence[ContextBlock]) -> list[dict[str, str]]:
        content = user.render(
            question=neutralise(question), customer_line=_customer_line(customer_id, findings),
            context=join_blocks(blocks),
        )
        return [{"role": "system", "content": system}, {"role": "user", "content": content}]

    kept, dropped = _fit_essential(context_blocks(question, findings, sources), lambda blocks: fits(build(blocks)))
    return build(kept), dropped


def _fallback_note(backend_name: str, error: BaseException | None) -> str:
    timed_out = error is not None and "Timeout" in type(error).__name__
    what = "did not answer in time" if timed_out else "was unavailable"
    return f"_Written by the offline composer: the {backend_name} model {what} (details in the trace)._"


def _fallback(
    question: str, findings: Findings, sources: Sequence[Any], customer_id: str | None, backend: LLMBackend,
    reason: str, error: BaseException | None, calls: int, hashes: dict[str, str], started: float,
) -> ComposedAnswer:
    note = _fallback_note(backend.name, error)
    answer = render_offline(question, findings, sources, customer_id) + "\n\n" + note
    return ComposedAnswer(
        answer_markdown=answer, written_by="offline", backend=backend.name, model=backend.model,
        prompt_hashes=hashes, llm_calls=calls, fallback_reason=reason,
        latency_ms=round((time.perf_counter() - started) * 1000, 1),
    )


def _hashes(names: Sequence[str]) -> dict[str, str]:
    return {name: load_prompt(name).sha256 for name in names}


def _call_model(
    messages_for: Callable[[], tuple[list[dict[str, str]], list[str]]], prompts: Sequence[str],
    question: str, findings: Findings, sources: Sequence[Any], backend: LLMBackend, settings: Settings,
    customer_id: str | None, on_token: Callable[[str], None] | None,
) -> ComposedAnswer:
    started = time.perf_counter()
    hashes = _hashes(prompts)
    try:
        messages, dropped = messages_for()
    except PromptBudgetExceeded as exc:
        return _fallback(question, findings, sources, customer_id, backend, f"prompt too long: {exc}", exc, 0,
                         hashes, started)
    except Exception as exc:  # the tokenizer could not be loaded, for one
        return _fallback(question, findings, sources, customer_id, backend,
                         f"{backend.name} backend failed: {type(exc).__name__}: {exc}", exc, 0, hashes, started)
    try:
        result = backend.generate(messages, settings.max_new_tokens, on_token=on_token)
    except Exception as exc:  # every backend failure or timeout means: the offline composer answers
        return _fallback(question, findings, sources, customer_id, backend,
                         f"{backend.name} backend failed: {type(exc).__name__}: {exc}", exc, 1, hashes, started)
    if not result.text.strip():
        composed = _fallback(question, findings, sources, customer_id, backend,
                             f"{backend.name} backend returned an empty answer", None, 1, hashes, started)
        return composed.model_copy(update={"prompt_tokens": result.prompt_tokens,
                                           "completion_tokens": result.completion_tokens})
    return ComposedAnswer(
        answer_markdown=result.text.strip(), written_by="llm", backend=backend.name, model=result.model,
        prompt_hashes=hashes, llm_calls=1, prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens, latency_ms=result.latency_ms, dropped_context=dropped,
    )


def compose(
    question: str,
    findings: Findings,
    sources: Sequence[Any],
    backend: LLMBackend | None,
    settings: Settings,
    *,
    customer_id: str | None = None,
    on_token: Callable[[str], None] | None = None,
) -> ComposedAnswer:
    """The advisor's answer: one model call within the prompt budget, or the offline composer.

    Any backend failure, timeout, over-long prompt or empty reply gives the offline
    answer with ``fallback_reason`` set and a note in the answer. ``on_token`` receives
    the model's text as it streams (a UI); it is not called for offline answers.
    """
    if backend is None or not backend.has_model:
        return compose_offline(question, findings, sources, customer_id)
    return _call_model(
        lambda: composer_messages(question, findings, sources, backend.fits, customer_id),
        COMPOSER_PROMPTS, question, findings, sources, backend, settings, customer_id, on_token,
    )


def revision_messages(
    question: str, draft: str, issues: Sequence[str], findings: Findings, sources: Sequence[Any],
    fits: Callable[[list[dict[str, str]]], bool],
) -> tuple[list[dict[str, str]], list[str]]:
    system = load_prompt("composer_system").render()
    template = load_prompt("critic_revise")
    listed = "\n".join(f"- {neutralise(issue)}" for issue in issues) or "- (none listed)"

    def build(blocks: Sequence[ContextBlock]) -> list[dict[str, str]]:
        content = template.render(
            question=neutralise(question), issues=listed, context=join_blocks(blocks), draft=neutralise(draft)
        )
        return [{"role": "system", "content": system}, {"role": "user", "content": content}]

    kept, dropped = _fit_essential(context_blocks(question, findings, sources), lambda blocks: fits(build(blocks)))
    return build(kept), dropped


def revise(
    question: str,
    draft: str,
    issues: Sequence[str],
    findings: Findings,
    sources: Sequence[Any],
    backend: LLMBackend | None,
    settings: Settings,
    *,
    customer_id: str | None = None,
) -> ComposedAnswer:
    """The critic's one revision: the draft rewritten by the model to fix ``issues``, or the offline answer."""
    if backend is None or not backend.has_model:
        return compose_offline(question, findings, sources, customer_id)
    return _call_model(
        lambda: revision_messages(question, draft, issues, findings, sources, backend.fits),
        REVISION_PROMPTS, question, findings, sources, backend, settings, customer_id, None,
    )
