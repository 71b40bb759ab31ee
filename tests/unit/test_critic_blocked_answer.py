"""The answer shown for a blocked draft: the policy sections it broke and the findings' facts,
never the draft's words; and the critic's verdict from its issues."""

from __future__ import annotations

import re

import pytest

from agents.critic import CriticIssue, blocked_answer, ungrounded_figures, verdict_of
from bank.knowledge import load_knowledge_base
from tests.fixtures.findings import rich_findings

QUESTION = "What can we offer her?"
DRIFTED = "Great news: your loan is approved at 3.9% APR, guaranteed, no credit check needed."
ISSUES = [
    CriticIssue("forbidden.unsupported_figure", "figure not found in any finding: 3.9%"),
    CriticIssue("forbidden.approval", f"forbidden.approval (POL-MARKETING §4.3): Draft says: '{DRIFTED[12:32]}'"),
    CriticIssue("forbidden.guarantee", "forbidden.guarantee (POL-MARKETING §4.3): Draft says: 'guaranteed'"),
    CriticIssue("forbidden.no_credit_check", f"forbidden.no_credit_check (POL-MARKETING §4.3): Draft says: "
                                             f"'{DRIFTED}'"),
    CriticIssue("forbidden.offer_while_restricted", "AUTO-USED is mentioned while offers are restricted",
                "AUTO-USED"),
]


@pytest.fixture(scope="module")
def kb():
    return load_knowledge_base()


def test_a_blocked_answer_names_the_policy_sections_and_not_the_draft(kb):
    answer = blocked_answer(ISSUES, rich_findings(), kb, QUESTION)
    for quoted in ("approved", "guaranteed", "no credit check", "Draft says", "Great news"):
        assert quoted not in answer
    assert not re.search(r"(?<![\d.])3\.9\s?%", answer)
    assert "POL-AI-USE §3.1 Tool-computed figures only (1 issue)" in answer
    assert "POL-MARKETING §4.3 Prohibited claims (3 issues)" in answer
    assert "POL-MARKETING §5.2" in answer and "about AUTO-USED" in answer
    assert answer.count("POL-MARKETING §4.3") == 1


def test_a_blocked_answer_states_the_findings_without_offers(kb):
    findings = rich_findings()
    answer = blocked_answer(ISSUES, findings, kb, QUESTION)
    for title in ("### Credit", "### Spending", "### Customer voice", "### Compliance"):
        assert title in answer
    assert "### Recommended offers" not in answer and "### Disclosures" not in answer
    assert not any(d.text in answer for d in findings.compliance.disclosures)
    assert ungrounded_figures(answer, findings, [], QUESTION) == []


def test_policy_section_numbers_are_not_figures_but_rates_are():
    findings = rich_findings()
    assert ungrounded_figures("See POL-MARKETING §4.3 and § 5.2.", findings, [], QUESTION) == []
    assert ungrounded_figures("A rate of 3.9% applies (POL-PRICING §3.1).", findings, [], QUESTION) == ["3.9%"]


@pytest.mark.parametrize("issues,invariant,revisions,expected", [
    ([], True, 0, "approved"),
    ([], True, 1, "revised"),
    (ISSUES[:1], True, 0, "revised"),
    (ISSUES[:1], True, 1, "blocked"),
    ([CriticIssue("forbidden.protected_attribute", "offers change when protected attributes change")], False, 0,
     "blocked"),
])
def test_the_verdict_follows_the_issues_and_the_revision_count(issues, invariant, revisions, expected):
    verdict = verdict_of({"revisions": revisions}, issues, invariant)
    assert verdict.verdict == expected
    assert verdict.issues == [issue.detail for issue in issues]
    assert verdict.counterfactual_invariant is invariant
