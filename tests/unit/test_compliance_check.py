"""Compliance check of recommendations: the rule table, and each policy invariant caught."""

from __future__ import annotations

import pytest

from bank.knowledge import load_knowledge_base
from tests.unit.test_products_rules import AS_OF, make_customer
from tools.compliance import POLICY_RULES, check_compliance, check_findings, missing_sections
from tools.findings import Findings, Recommendation
from tools.products import match_products


@pytest.fixture(scope="module")
def kb():
    return load_knowledge_base()


def run(kb, products_edit=None, **knobs):
    """Match, optionally tamper with the offers, then check compliance."""
    c = make_customer(**knobs)
    products = match_products(
        c["profile"], c["spending"], c["credit"], c["sentiment"], kb, AS_OF, holdings=c["holdings"]
    )
    if products_edit is not None:
        products = products.model_copy(update={"recommendations": products_edit(products.recommendations, kb)})
    return products, check_compliance(c["profile"], c["spending"], c["credit"], c["sentiment"], products, kb)


def rules_of(finding) -> set[str]:
    return {v.rule for v in finding.violations}


TRAVELLER = {
    "travel": 450.0,
    "segment": "Frequent traveller",
    "interests": ("saving_goal",),
    "cash": 9_000.0,
    "revolving_balance": 0.0,
}


def test_every_cited_section_exists_in_the_knowledge_base(kb):
    assert missing_sections(kb) == []
    for rule in POLICY_RULES.values():
        section = kb.section(rule.doc_id, rule.section_id)
        assert section.citation == rule.citation
        assert rule.severity in ("block", "revise", "warn")


def test_matcher_output_passes_and_lists_disclosure_texts(kb):
    products, finding = run(kb, **TRAVELLER)
    assert products.recommendations and finding.passed, finding.violations
    for rec in products.recommendations:
        listed = [d for d in finding.disclosures if d.product_code == rec.product_code]
        assert [d.id for d in listed] == list(kb.product(rec.product_code).disclosures)
        assert all(d.text == kb.disclosure(d.id).text for d in listed)
    assert "policy:POL-MARKETING:4.2" in finding.evidence
    assert "disclosures.required" in finding.rules_checked


def _replace(code: str, **changes):
    def edit(recs: list[Recommendation], kb) -> list[Recommendation]:
        return [r.model_copy(update=changes) if r.product_code == code else r for r in recs]

    return edit


def _add(code: str, **fields):
    def edit(recs: list[Recommendation], kb) -> list[Recommendation]:
        product = kb.product(code)
        extra = Recommendation(
            product_code=code,
            name=product.name,
            product_type=product.type,
            score=0.5,
            reasons=["stated need"],
            evidence=[f"product:{code}"],
            disclosures=list(product.disclosures),
            **fields,
        )
        return [*recs, extra]

    return edit


@pytest.mark.parametrize(
    "edit,knobs,rule,policy",
    [
        (_replace("CC-TRAVEL", apr=35.0), {}, "pricing.published_range", "POL-PRICING §3.1"),
        (_replace("CC-TRAVEL", apr=22.9), {}, "pricing.band_apr", "POL-PRICING §3.2"),
        (_replace("CC-TRAVEL", disclosures=["DISC-APR"]), {}, "disclosures.required", "POL-MARKETING §4.2"),
        (_replace("CC-TRAVEL", dti_after=0.45), {}, "affordability.dti_cap", "POL-AFFORD §3.2"),
        (
            _replace("CC-TRAVEL", estimated_monthly_payment=None),
            {},
            "affordability.payment_estimate",
            "POL-AFFORD §3.3",
        ),
        (_replace("CC-TRAVEL", evidence=[]), {}, "offers.evidence", "POL-AI-USE §3.2"),
        (_add("INV-GROWTH"), {"band": "C"}, "suitability.investment_risk_level", "POL-SUITABILITY §5.1"),
        (
            _add("CC-PREMIUM", apr=19.9, estimated_monthly_payment=300.0, dti_after=0.2),
            {},
            "eligibility.band_ceiling",
            "POL-SUITABILITY §3.3",
        ),
        (
            _add("PL-STANDARD", apr=9.9, estimated_monthly_payment=20.0, dti_after=0.15),
            {},
            "offers.limit",
            "POL-MARKETING §5.2",
        ),
        (_add("HARDSHIP-PLAN"), {}, "vulnerability.hardship_support", "POL-VULNERABLE §4.2"),
    ],
)
def test_tampered_offers_are_caught(kb, edit, knobs, rule, policy):
    _, finding = run(kb, products_edit=edit, **{**TRAVELLER, **knobs})
    hits = [v for v in finding.violations if v.rule == rule]
    assert hits, finding.violations
    assert hits[0].policy == policy
    assert not finding.passed


def test_unknown_product_is_blocked(kb):
    def invent(recs, kb):
        return [
            *recs,
            Recommendation(
                product_code="CC-MAGIC",
                name="Magic card",
                product_type="credit_card",
                score=0.9,
                reasons=["x"],
                evidence=["y"],
            ),
        ]

    _, finding = run(kb, products_edit=invent, **TRAVELLER)
    assert "offers.catalogue_product" in rules_of(finding)


def test_offers_without_consent_or_during_a_complaint_or_hardship_are_blocked(kb):
    c = make_customer(**TRAVELLER)
    products = match_products(
        c["profile"], c["spending"], c["credit"], c["sentiment"], kb, AS_OF, holdings=c["holdings"]
    )
    no_consent = c["profile"].model_copy(update={"consent_marketing": False})
    complaint = c["sentiment"].model_copy(update={"open_complaints": 1})
    hardship = c["sentiment"].model_copy(update={"vulnerability_signals": ["redundancy mentioned (int:I-7)"]})
    cases = [
        (no_consent, c["sentiment"], "consent.marketing", "POL-MARKETING §3.1"),
        (c["profile"], complaint, "complaints.no_sales", "POL-COMPLAINTS §5.1"),
        (c["profile"], hardship, "vulnerability.restriction", "POL-VULNERABLE §4.1"),
    ]
    for profile, sentiment, rule, policy in cases:
        finding = check_compliance(profile, c["spending"], c["credit"], sentiment, products, kb)
        hits = [v for v in finding.violations if v.rule == rule]
        assert hits and hits[0].policy == policy and hits[0].severity == "block"
        assert not finding.passed
        assert any(policy in r for r in finding.restrictions)


def test_social_posts_used_without_consent_are_a_violation(kb):
    c = make_customer(**TRAVELLER)
    sentiment = c["sentiment"].model_copy(update={"social_posts_used": 2})
    finding = check_compliance(c["profile"], c["spending"], c["credit"], sentiment, None, kb)
    violation = next(v for v in finding.violations if v.rule == "consent.social")
    assert violation.policy == "POL-DATA-PROTECTION §3.2" and not finding.passed
    consented = c["profile"].model_copy(update={"consent_social": True})
    assert check_compliance(consented, c["spending"], c["credit"], sentiment, None, kb).passed


def test_hardship_with_credit_held_must_be_offered_support(kb):
    c = make_customer(signals=("cannot pay rent",))
    finding = check_compliance(c["profile"], c["spending"], c["credit"], c["sentiment"], None, kb)
    assert "vulnerability.hardship_support" in rules_of(finding)
    products = match_products(
        c["profile"], c["spending"], c["credit"], c["sentiment"], kb, AS_OF, holdings=c["holdings"]
    )
    assert check_compliance(c["profile"], c["spending"], c["credit"], c["sentiment"], products, kb).passed


def test_investments_carry_a_prompt_only_warning_but_pass(kb):
    _, finding = run(
        kb,
        band="A",
        income=95_000,
        cash=60_000.0,
        revolving_balance=0.0,
        interests=("investing_cautious",),
        everyday=0.0,
        savings_capacity=0.0,
    )
    warnings = [v for v in finding.violations if v.rule == "suitability.investment_prompt_only"]
    assert warnings and warnings[0].severity == "warn"
    assert finding.passed
    assert any("POL-SUITABILITY §5.3" in r for r in finding.restrictions)


def test_band_restrictions_are_listed(kb):
    _, band_d = run(kb, band="D")
    _, band_e = run(kb, band="E")
    assert any("band D" in r and "0.35" in r for r in band_d.restrictions)
    assert any("POL-AFFORD §5.1" in r for r in band_e.restrictions)


def test_check_findings_bundle(kb):
    c = make_customer(**TRAVELLER)
    products = match_products(
        c["profile"], c["spending"], c["credit"], c["sentiment"], kb, AS_OF, holdings=c["holdings"]
    )
    bundle = Findings(spending=c["spending"], credit=c["credit"], sentiment=c["sentiment"], products=products)
    assert check_findings(c["profile"], bundle, kb) == check_compliance(
        c["profile"], c["spending"], c["credit"], c["sentiment"], products, kb
    )
