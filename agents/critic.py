"""The bias-and-explanation critic: checks the draft, revises once or blocks.

Checks: every number in the answer is a figure of a finding (or of a quoted source);
every recommendation carries reasons and evidence; the compliance rules on the draft
(no guarantees, pressure, protected attributes as reasons, unsupported approvals or
rates, missing disclosures); and a counterfactual run of product matching with the
protected attributes changed gives the same offers.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import date

from langgraph.runtime import Runtime

from agents.answer import findings_of, usage_of
from agents.composer import (
    Section,
    compliance_section,
    compose_offline,
    credit_section,
    revise,
    sentiment_section,
    spending_section,
)
from agents.guard import profile_from_customer
from bank.knowledge import KnowledgeBase
from graph.context import AdvisorServices, services_from
from graph.state import AdvisorState, CriticVerdict
from tools.compliance import POLICY_RULES, check_draft
from tools.findings import Findings, ProductsFinding
from tools.products import match_products

NUMBER = re.compile(r"(?<![\w.-])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?%?|(?<![\w.-])-?\d+(?:\.\d+)?%?")
DATE = re.compile(r"\b\d{4}-\d{2}(?:-\d{2})?(?:T\d{2}:\d{2}(?::\d{2})?)?\b")
# Ids, bracketed references, evidence ids and policy sections ("§4.3") are names, not figures.
IDENTIFIER = re.compile(r"\b[A-Z]{1,4}-[A-Z0-9]+(?:-[A-Z0-9]+)*\b|\[[^\]]*\]|\b\w+:[\w.:-]+|§\s?\d+(?:\.\d+)*")
STRUCTURAL_MAX = 12


def _numbers_in(value, found: set[float]) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        found.add(float(value))
    elif isinstance(value, str):
        for token in NUMBER.findall(DATE.sub(" ", value)):
            found.add(float(token.rstrip("%").replace(",", "")))
    elif isinstance(value, dict):
        for item in value.values():
            _numbers_in(item, found)
    elif isinstance(value, (list, tuple)):
        found.add(float(len(value)))
        for item in value:
            _numbers_in(item, found)


def _dates_in(text: str) -> set[str]:
    return {d[:10] for d in DATE.findall(text)} | {d[:7] for d in DATE.findall(text)}


def ungrounded_figures(answer: str, findings: Findings, sources: list[dict], question: str) -> list[str]:
    """Numbers and dates in the answer that no finding, source or the question supports."""
    support = json.loads(findings.model_dump_json()) | {"sources": sources, "question": question}
    values: set[float] = set()
    _numbers_in(support, values)
    support_text = json.dumps(support, default=str)
    problems = [d for d in DATE.findall(answer) if d[:10] not in _dates_in(support_text)]
    text = IDENTIFIER.sub(" ", DATE.sub(" ", answer))
    for token in NUMBER.findall(text):
        percent = token.endswith("%")
        number = float(token.rstrip("%").replace(",", ""))
        decimals = len(token.rstrip("%").split(".")[1]) if "." in token else 0
        if not percent and decimals == 0 and 0 <= number <= STRUCTURAL_MAX:
            continue
        if not any(_matches(number, value, decimals, percent) for value in values):
            problems.append(token)
    return problems


def _matches(shown: float, value: float, decimals: int, percent: bool) -> bool:
    tolerance = 0.5 * 10 ** (-decimals) + 1e-9
    candidates = [value, abs(value)]
    if percent:
        candidates += [value * 100, abs(value) * 100]
    return any(abs(round(c, decimals) - shown) <= tolerance for c in candidates)


@dataclass(frozen=True)
class CriticIssue:
    """One problem of a draft: the policy rule it breaks and what was found.

    ``detail`` may quote the draft: it goes to the trace, the audit trail and the revision
    prompt, never into an answer shown to the advisor.
    """

    rule: str
    detail: str
    product_code: str | None = None


def recommendation_issues(products: ProductsFinding | None) -> list[CriticIssue]:
    if products is None:
        return []
    issues = []
    for offer in products.recommendations:
        if not offer.reasons:
            issues.append(CriticIssue("offers.evidence", f"offer {offer.product_code} has no reasons",
                                      offer.product_code))
        if not offer.evidence:
            issues.append(CriticIssue("offers.evidence", f"offer {offer.product_code} has no evidence",
                                      offer.product_code))
    return issues


COUNTERFACTUAL_SWAPS = {"gender": {"female": "male", "male": "female", "non_binary": "female"},
                        "marital_status": {"married": "single", "single": "married", "divorced": "married",
                                           "widowed": "single", "civil_partnership": "single"}}


def counterfactual_invariant(state: AdvisorState, services: AdvisorServices) -> bool:
    """Offers must not move when gender, age and marital status change."""
    products = state.get("products")
    customer_id = state.get("customer_id")
    if products is None or customer_id is None:
        return True
    customer = services.store.customer(customer_id)
    as_of = date.fromisoformat(state["as_of"])
    born = customer.birth_date or date(1980, 1, 1)
    shift = -17 if (as_of.year - born.year) < 50 else 17
    older = date(born.year + shift, born.month, min(born.day, 28))
    changed = customer.model_copy(update={
        "gender": COUNTERFACTUAL_SWAPS["gender"].get(customer.gender or "", "female"),
        "marital_status": COUNTERFACTUAL_SWAPS["marital_status"].get(customer.marital_status or "", "married"),
        "birth_date": older,
    })
    profile = profile_from_customer(changed, as_of)
    from agents.products import customer_holdings

    rerun = match_products(profile, state.get("spending"), state.get("credit"), state.get("sentiment"),
                           services.knowledge, as_of, held_product_codes=set(state.get("held_product_codes", [])),
                           holdings=customer_holdings(services, customer_id), feedback=services.feedback)
    original = [(o.product_code, round(o.score, 9), o.apr) for o in products.recommendations]
    return original == [(o.product_code, round(o.score, 9), o.apr) for o in rerun.recommendations]


def draft_issues(state: AdvisorState, services: AdvisorServices) -> tuple[list[CriticIssue], bool]:
    """The draft's problems, and whether the offers stay put when protected attributes change."""
    answer = state.get("answer", "")
    findings = findings_of(state)
    sources = [s.model_dump() for s in state.get("sources", [])]
    issues = [CriticIssue("forbidden.unsupported_figure", f"figure not found in any finding: {figure}")
              for figure in ungrounded_figures(answer, findings, sources, state["question"])]
    issues += recommendation_issues(state.get("products"))
    if state.get("compliance") is not None:
        for violation in check_draft(answer, state.get("products"), state["compliance"], state.get("credit"),
                                     services.knowledge):
            detail = f"{violation.rule} ({violation.policy}): {violation.message}"
            issues.append(CriticIssue(violation.rule, detail, violation.product_code))
    invariant = counterfactual_invariant(state, services)
    if not invariant:
        issues.append(CriticIssue("forbidden.protected_attribute",
                                  "offers change when protected attributes change"))
    return issues, invariant


def verdict_of(state: AdvisorState, issues: list[CriticIssue], invariant: bool) -> CriticVerdict:
    if not issues:
        verdict = "revised" if state.get("revisions", 0) else "approved"
    elif not invariant or state.get("revisions", 0) >= 1:
        verdict = "blocked"
    else:
        verdict = "revised"
    return CriticVerdict(verdict=verdict, issues=[issue.detail for issue in issues],
                         counterfactual_invariant=invariant)


def critique(state: AdvisorState, services: AdvisorServices) -> CriticVerdict:
    return verdict_of(state, *draft_issues(state, services))


def blocked_answer(issues: list[CriticIssue], findings: Findings, kb: KnowledgeBase, question: str = "") -> str:
    """What the advisor reads instead of a blocked draft: the policy sections it broke and the
    facts of the findings, never the draft's own words (those are in the trace for review)."""
    lines = ["**This answer was blocked by the compliance critic.** The draft is not shown and no offer may be "
             "made from it; the draft and the critic's notes are in the trace for compliance review.",
             "", "### Policy sections the draft broke"]
    by_section: dict[str, list[CriticIssue]] = {}
    for issue in issues:
        by_section.setdefault(POLICY_RULES[issue.rule].citation, []).append(issue)
    for citation, broken in by_section.items():
        rule = POLICY_RULES[broken[0].rule]
        heading = kb.section(rule.doc_id, rule.section_id).heading
        products = sorted({issue.product_code for issue in broken if issue.product_code})
        about = f", about {', '.join(products)}" if products else ""
        lines.append(f"- {citation} {heading} ({len(broken)} issue{'s' if len(broken) > 1 else ''}{about})")
    for section in fact_sections(findings, question):
        lines += ["", f"### {section.title}", *(line if line.startswith(("|", "  -", "- ")) else f"- {line}"
                                                for line in section.lines)]
    return "\n".join(lines)


def fact_sections(findings: Findings, question: str = "") -> list[Section]:
    """The findings the advisor may rely on when a draft is blocked: no offers and no disclosures."""
    sections = []
    if findings.credit is not None:
        sections.append(credit_section(findings.credit))
    if findings.spending is not None:
        sections.append(spending_section(findings.spending, question))
    if findings.sentiment is not None:
        sections.append(sentiment_section(findings.sentiment))
    if findings.compliance is not None:
        sections.append(compliance_section(findings.compliance))
    return sections


def critic_node(state: AdvisorState, runtime: Runtime[AdvisorServices]) -> dict:
    started = time.perf_counter()
    services = services_from(runtime)
    issues, invariant = draft_issues(state, services)
    verdict = verdict_of(state, issues, invariant)
    update: dict = {"critic": verdict}
    if verdict.verdict == "blocked":
        update["answer"] = blocked_answer(issues, findings_of(state), services.knowledge, state["question"])
    elapsed = (time.perf_counter() - started) * 1000
    return {**update, "timings_ms": {f"critic{'_2' if state.get('revisions') else ''}": round(elapsed, 2)},
            "nodes_run": ["critic"]}


def revise_node(state: AdvisorState, runtime: Runtime[AdvisorServices]) -> dict:
    """Rewrite the draft once: through the backend when it is a model, otherwise (and on
    any failure) the offline composer's answer, which states only finding figures."""
    started = time.perf_counter()
    services = services_from(runtime)
    findings = findings_of(state)
    sources = [s.model_dump() for s in state.get("sources", [])]
    if services.settings.llm_backend == "offline":
        composed = compose_offline(state["question"], findings, sources)
    else:
        composed = revise(state["question"], state["answer"], state["critic"].issues, findings, sources,
                          services.backend, services.settings)
    elapsed = (time.perf_counter() - started) * 1000
    return {"answer": composed.answer_markdown, "revisions": state.get("revisions", 0) + 1,
            "llm": usage_of(composed), "prompt_hashes": composed.prompt_hashes,
            "timings_ms": {"revise": round(elapsed, 2)}, "nodes_run": ["revise"]}
