"""Product matcher rules: eligibility, affordability, pricing, suitability, consent, hardship,
complaints, fairness (counterfactual ages), feedback and ordering, on hand-made findings."""

from __future__ import annotations

import re
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from bank.knowledge import RISK_BANDS, load_knowledge_base
from tools.compliance import rules as policy
from tools.findings import (
    AccountUtilisation,
    BudgetPlan,
    CategorySpend,
    CreditFinding,
    CustomerProfile,
    DetectedIntent,
    SentimentFinding,
    SpendingFinding,
    Subscription,
)
from tools.products import FeedbackAdjustments, Holdings, features_from_findings, match_products
from tools.products.features import normalise_features
from tools.products.rules import REWARD_RATES, evaluate_products, product_conditions

AS_OF = date(2026, 10, 31)


@pytest.fixture(scope="module")
def kb():
    return load_knowledge_base()


def make_customer(
    *,
    income: float = 52_000,
    tenure: int = 40,
    consent: bool = True,
    consent_social: bool = False,
    age: int | None = 35,
    band: str | None = "B",
    debt_payments: float = 600.0,
    utilisation: float | None = 0.20,
    late_3m: int = 0,
    late_6m: int = 0,
    late_12m: int = 0,
    worst_days_late: int = 0,
    cash: float | None = 20_000.0,
    essential: float = 1_500.0,
    savings_capacity: float = 250.0,
    monthly_spend: float = 2_500.0,
    travel: float = 0.0,
    everyday: float = 300.0,
    fees: float = 0.0,
    gambling: float = 0.0,
    subscriptions: int = 0,
    paid_in: float = 3_200.0,
    segment: str | None = "Everyday spender",
    interests: tuple[str, ...] = (),
    intents: tuple[tuple[str, float, date, tuple[str, ...]], ...] = (),
    complaints: int = 0,
    signals: tuple[str, ...] = (),
    held: tuple[str, ...] = (),
    revolving_balance: float = 1_000.0,
    revolving_limit: float = 5_000.0,
    card_apr: float | None = 22.9,
    transferable: float = 0.0,
    loans: float = 0.0,
    loan_payment: float = 0.0,
    has_credit_account: bool = True,
    credit_available: bool = True,
) -> dict:
    """Findings of one customer from a few knobs (figures in EUR a month unless named)."""
    profile = CustomerProfile(
        customer_id="C-TEST",
        annual_income=income,
        tenure_months=tenure,
        consent_marketing=consent,
        consent_social=consent_social,
        age=age,
    )
    categories = [("travel", travel), ("groceries", everyday), ("fees", fees), ("gambling", gambling)]
    spending = SpendingFinding(
        months_covered=12,
        monthly_income=paid_in,
        monthly_spend=monthly_spend,
        by_category=[
            CategorySpend(category=c, monthly_average=v, last_month=v, share=v / monthly_spend)
            for c, v in categories
            if v > 0
        ],
        subscriptions=[
            Subscription(
                merchant=f"Service {i}",
                period="monthly",
                amount=10.0,
                first_seen=date(2025, 1, 1),
                last_seen=date(2026, 10, 1),
                charges=20,
            )
            for i in range(subscriptions)
        ],
        subscriptions_monthly_cost=10.0 * subscriptions,
        budget=BudgetPlan(
            monthly_income=paid_in,
            monthly_essential_spend=essential,
            monthly_discretionary_spend=monthly_spend - essential,
            monthly_savings_target=savings_capacity,
            actions=[],
        ),
        segment=segment,
        evidence=["txn:T-0000001"],
    )
    credit = CreditFinding(
        available=credit_available,
        utilisation_overall=utilisation,
        accounts=[
            AccountUtilisation(
                account_id="AC-1",
                product_code="CC-CLASSIC",
                balance=revolving_balance,
                credit_limit=revolving_limit,
                utilisation=revolving_balance / revolving_limit,
            )
        ]
        if revolving_limit
        else [],
        monthly_debt_payments=debt_payments,
        monthly_income=income / 12,
        debt_to_income=debt_payments / (income / 12),
        late_30_plus_12m=late_12m,
        late_30_plus_6m=late_6m,
        late_30_plus_3m=late_3m,
        worst_days_late=worst_days_late,
        risk_band=band,
        evidence=["model:default-risk", "pay:AC-1:2026-10-01"],
    )
    sentiment = SentimentFinding(
        open_complaints=complaints,
        product_interests=list(interests),
        vulnerability_signals=list(signals),
        intents=[
            DetectedIntent(intent=name, count=1, confidence=conf, last_seen=seen, evidence=list(ev))
            for name, conf, seen, ev in intents
        ],
        evidence=["int:I-000001"],
    )
    interest = revolving_balance * (card_apr or 0.0) / 1200.0
    holdings = Holdings(
        product_codes=frozenset(held),
        cash_savings=cash,
        revolving_balance=revolving_balance + transferable,
        revolving_limit=revolving_limit,
        card_interest_monthly=interest + transferable * (card_apr or 0.0) / 1200.0,
        revolving_apr_max=card_apr if (revolving_balance + transferable) > 0 else None,
        transferable_balance=transferable,
        transferable_interest_monthly=transferable * (card_apr or 0.0) / 1200.0,
        unsecured_loan_balance=loans,
        consolidatable_balance=revolving_balance + transferable + loans,
        consolidatable_payment=max(0.03 * (revolving_balance + transferable), 25.0) + loan_payment,
        has_credit_account=has_credit_account,
        evidence=["acct:AC-1"],
    )
    return {
        "profile": profile,
        "spending": spending,
        "credit": credit,
        "sentiment": sentiment,
        "holdings": holdings,
    }


def match(kb, feedback=None, **knobs):
    c = make_customer(**knobs)
    return match_products(
        c["profile"],
        c["spending"],
        c["credit"],
        c["sentiment"],
        kb,
        AS_OF,
        feedback=feedback,
        holdings=c["holdings"],
    )


def check_of(kb, product_code: str, label: str, **knobs):
    """(passed, detail) of one check of one product for a customer, or None if not applied."""
    c = make_customer(**knobs)
    row = features_from_findings(c["profile"], c["spending"], c["credit"], c["sentiment"], c["holdings"], AS_OF)
    _, evaluations = evaluate_products(normalise_features(pd.DataFrame([row])), kb)
    evaluation = next(e for e in evaluations if e.product.code == product_code)
    for check in evaluation.checks:
        if check.label == label:
            return bool(check.passed[0]), check.detail(0), check.citation
    return None


# --- pricing ----------------------------------------------------------------------------------
def test_band_prices_follow_the_published_table(kb):
    classic = kb.product("CC-CLASSIC")
    prices = policy.band_apr(classic, np.arange(5, dtype=float))
    assert prices.tolist() == [18.9, 20.9, 22.9, 24.9, 26.9]  # POL-PRICING §3.2's own example
    assert np.isnan(policy.band_apr(classic, np.array([np.nan]))[0])


def test_rounding_is_half_up():
    assert policy.round_half_up(np.array([20.85, 4.45, 4.449, 7.05])).tolist() == [20.9, 4.5, 4.4, 7.1]


def test_representative_apr_of_every_credit_product_is_its_band_b_price(kb):
    for product in kb.products:
        if not product.grants_credit:
            continue
        stated = re.search(
            r"(\d+(?:\.\d+)?)% APRC? representative|Representative (\d+(?:\.\d+)?)% APR",
            product.representative_example,
        )
        assert stated, product.code
        figure = float(stated.group(1) or stated.group(2))
        assert policy.representative_apr(product) == pytest.approx(figure), product.code


@pytest.mark.parametrize("band", RISK_BANDS[:4])
def test_offered_apr_and_price_tier_follow_the_band(kb, band):
    found = match(
        kb,
        band=band,
        interests=("debt_consolidation",),
        revolving_balance=4_000,
        loans=3_000,
        loan_payment=150,
        tenure=40,
    )
    offer = next(r for r in found.recommendations if r.product_code == "PL-CONSOLIDATE")
    expected = float(policy.band_apr(kb.product("PL-CONSOLIDATE"), np.array([RISK_BANDS.index(band)], float))[0])
    assert offer.apr == expected
    assert offer.price_tier == f"Band {band}: {expected:.1f}% APR"


# --- eligibility, one rule at a time ----------------------------------------------------------
ELIGIBILITY_CASES = [
    ("CC-TRAVEL", "eligibility.min_income", {"income": 30_000}, False),
    ("CC-TRAVEL", "eligibility.min_income", {"income": 40_000}, True),
    ("PL-CONSOLIDATE", "eligibility.min_tenure", {"tenure": 3}, False),
    ("PL-CONSOLIDATE", "eligibility.min_tenure", {"tenure": 6}, True),
    ("CC-CASHBACK", "eligibility.band_ceiling", {"band": "C"}, False),
    ("CC-CASHBACK", "eligibility.band_ceiling", {"band": "B"}, True),
    ("CC-CASHBACK", "eligibility.band_ceiling", {"band": None}, False),
    ("SAV-EASY", "eligibility.min_age", {"age": 17}, False),
    ("SAV-EASY", "eligibility.min_age", {"age": None}, False),
    ("SAV-EASY", "eligibility.min_age", {"age": 18}, True),
    ("CC-CASHBACK", "eligibility.existing_utilisation", {"utilisation": 0.75}, False),
    ("CC-CASHBACK", "eligibility.existing_utilisation", {"utilisation": 0.65}, True),
    ("PL-STANDARD", "eligibility.existing_utilisation", {"utilisation": 0.92}, False),
    ("PL-CONSOLIDATE", "eligibility.existing_utilisation", {"utilisation": 0.99}, None),  # no limit: not applied
    ("CC-CLASSIC", "eligibility.late_payments_6m", {"late_6m": 1, "late_12m": 1}, False),
    ("CC-CLASSIC", "eligibility.late_payments_6m", {"late_6m": 0, "late_12m": 2}, True),
    ("CC-TRAVEL", "eligibility.late_payments_12m", {"late_12m": 1}, False),
    ("CC-PREMIUM", "eligibility.late_payments_24m", {"late_12m": 1}, False),
    ("CC-CASHBACK", "eligibility.carries_balance", {"utilisation": 0.45}, False),
    ("CC-CASHBACK", "eligibility.carries_balance", {"utilisation": 0.10}, True),
    ("CC-BUILDER", "eligibility.deposit_from_savings", {"cash": 150.0}, False),
    ("CC-BUILDER", "eligibility.deposit_from_savings", {"cash": None}, False),
    ("CC-BUILDER", "eligibility.deposit_from_savings", {"cash": 500.0}, True),
    ("CC-BUILDER", "eligibility.no_default", {"worst_days_late": 95}, False),
    ("CHK-PLUS", "eligibility.income_paid_in", {"paid_in": 1_500.0}, False),
    ("CHK-PLUS", "eligibility.income_paid_in", {"paid_in": 2_500.0}, True),
    ("SAV-EASY", "eligibility.already_held", {"held": ("SAV-EASY",)}, False),
    ("SAV-EASY", "consent.marketing", {"consent": False}, False),
    ("HARDSHIP-PLAN", "consent.marketing", {"consent": False}, None),  # a service, not a promotion
    ("SAV-EASY", "complaints.no_sales", {"complaints": 1}, False),
    ("INV-GROWTH", "suitability.investment_risk_level", {"band": "C"}, False),
    ("INV-GROWTH", "suitability.investment_risk_level", {"band": "A"}, True),
    ("INV-CAUTIOUS", "suitability.investment_risk_level", {"band": "D"}, True),
    ("INV-BALANCED", "suitability.emergency_fund", {"cash": 3_000.0}, False),
    ("INV-MANAGED", "suitability.emergency_fund", {"cash": 6_000.0}, False),  # 6 months for the managed service
    ("INV-BALANCED", "suitability.no_expensive_revolving_debt", {"card_apr": 22.9}, False),
    ("INV-BALANCED", "suitability.no_expensive_revolving_debt", {"revolving_balance": 0.0}, True),
    ("INV-MANAGED", "suitability.funds_available", {"cash": 30_000.0}, False),
    ("SAV-FIXED12", "suitability.funds_available", {"cash": 5_000.0}, False),  # EUR 4,500 kept as emergency fund
    ("SAV-GOAL", "suitability.funds_available", {"savings_capacity": 0.0}, False),
    ("CC-TRAVEL", "suitability.fee_value", {"travel": 50.0}, False),
    ("CC-TRAVEL", "suitability.fee_value", {"travel": 400.0}, True),
    ("MTG-FTB-FIXED5", "affordability.loan_to_income", {"income": 30_000}, True),
    ("AUTO-NEW", "affordability.unsecured_limit", {}, None),  # secured on the car
    ("CC-CLASSIC", "affordability.unsecured_limit", {"income": 15_000, "revolving_limit": 8_600}, False),
    ("CC-CLASSIC", "affordability.credit_assessment", {"credit_available": False}, False),
    ("CC-CLASSIC", "affordability.no_credit_band_e", {"band": "E"}, False),
]


@pytest.mark.parametrize("code,label,knobs,expected", ELIGIBILITY_CASES)
def test_each_eligibility_rule(kb, code, label, knobs, expected):
    result = check_of(kb, code, label, **knobs)
    if expected is None:
        assert result is None
        return
    assert result is not None, f"{label} not applied to {code}"
    passed, detail, citation = result
    assert passed is expected, detail
    assert citation == policy.cite(next(c.rule_id for c in _checks(kb, code, **knobs) if c.label == label))


def _checks(kb, code, **knobs):
    c = make_customer(**knobs)
    row = features_from_findings(c["profile"], c["spending"], c["credit"], c["sentiment"], c["holdings"], AS_OF)
    _, evaluations = evaluate_products(normalise_features(pd.DataFrame([row])), kb)
    return next(e for e in evaluations if e.product.code == code).checks


def test_every_check_cites_a_rule_of_the_table(kb):
    c = make_customer()
    row = features_from_findings(c["profile"], c["spending"], c["credit"], c["sentiment"], c["holdings"], AS_OF)
    _, evaluations = evaluate_products(normalise_features(pd.DataFrame([row])), kb)
    for evaluation in evaluations:
        for check in evaluation.checks:
            assert check.rule_id in policy.POLICY_RULES, check.label


# --- affordability ------------------------------------------------------------------------------
def test_dti_caps_by_band():
    ranks = np.arange(5, dtype=float)
    assert np.allclose(policy.dti_cap(ranks, None)[:4], [0.40, 0.40, 0.40, 0.35])
    assert np.isnan(policy.dti_cap(ranks, None)[4])
    assert np.allclose(policy.dti_cap(ranks, 0.30)[:4], [0.30, 0.30, 0.30, 0.30])


@pytest.mark.parametrize(
    "band,payments,expected",
    [
        ("C", 1_480.0, True),  # (1,480 + 15) / 4,333 = 0.345 <= 0.40
        ("D", 1_480.0, True),  # 0.345 <= 0.35
        ("D", 1_520.0, False),  # 0.354 > 0.35 for band D
        ("C", 1_520.0, True),  # the same customer in band C passes 0.40
        ("C", 1_720.0, False),  # 0.401 > 0.40
    ],
)
def test_affordability_cap_by_band(kb, band, payments, expected):
    passed, detail, citation = check_of(
        kb,
        "CC-BUILDER" if band == "D" else "CC-CLASSIC",
        "affordability.dti_cap",
        band=band,
        debt_payments=payments,
    )
    cap = "0.35" if band == "D" else "0.40"
    assert passed is expected, detail
    assert f"cap {cap}" in detail and citation == "POL-AFFORD §3.2"


def test_product_max_dti_below_the_band_cap_applies(kb):
    passed, detail, _ = check_of(
        kb, "CC-PREMIUM", "affordability.dti_cap", band="A", income=120_000, debt_payments=3_200.0
    )  # 0.32 + new payment: above the card's own 0.30
    assert not passed and "cap 0.30" in detail


def test_variable_rate_credit_is_stressed_and_fixed_is_not(kb):
    tracker = _checks(kb, "MTG-TRACKER")
    fixed = _checks(kb, "MTG-FTB-FIXED5")
    loan = _checks(kb, "PL-STANDARD")
    assert any(c.label == "affordability.stress" for c in tracker)
    assert not any(c.label == "affordability.stress" for c in fixed + loan)


def test_stress_can_fail_a_tracker_that_passes_unstressed(kb):
    c = make_customer(band="A", income=30_000, debt_payments=700.0)
    row = features_from_findings(c["profile"], c["spending"], c["credit"], c["sentiment"], c["holdings"], AS_OF)
    _, evaluations = evaluate_products(normalise_features(pd.DataFrame([row])), kb)
    tracker = next(e for e in evaluations if e.product.code == "MTG-TRACKER")
    assert tracker.stressed_dti[0] > tracker.dti_after[0]
    stress = next(ch for ch in tracker.checks if ch.label == "affordability.stress")
    assert bool(stress.passed[0]) == bool(tracker.stressed_dti[0] <= 0.40)


def test_band_e_gets_no_credit_but_may_get_savings(kb):
    found = match(kb, band="E", interests=("emergency_fund", "balance_transfer"), cash=1_000.0)
    assert found.recommendations, found.no_offer_reason
    assert all(r.apr is None for r in found.recommendations)
    assert "affordability.no_credit_band_e" in found.excluded["CC-BT0"]


# --- consent, hardship, complaints --------------------------------------------------------------
def test_no_offers_without_marketing_consent(kb):
    found = match(kb, consent=False, travel=500.0, interests=("travel", "saving_goal"))
    assert found.recommendations == []
    assert "consent" in found.no_offer_reason and "POL-MARKETING §3.1" in found.no_offer_reason
    assert "POL-DATA-PROTECTION §3.1" in found.no_offer_reason
    assert "consent.marketing" in found.excluded["CC-TRAVEL"]


def test_hardship_signals_give_only_hardship_support(kb):
    found = match(
        kb,
        signals=("job loss mentioned (int:I-000042)",),
        travel=500.0,
        interests=("travel", "saving_goal", "balance_transfer"),
    )
    assert [r.product_code for r in found.recommendations] == ["HARDSHIP-PLAN"]
    assert found.hardship_support
    assert "POL-VULNERABLE §4.1" in found.no_offer_reason
    assert any("job loss" in reason for reason in found.recommendations[0].reasons)
    assert "vulnerability.restriction" in found.excluded["SAV-EASY"]


@pytest.mark.parametrize(
    "knobs",
    [
        {"worst_days_late": 65},
        {"late_3m": 2},
        {"utilisation": 0.97},
        {"gambling": 500.0},  # above 10% of EUR 4,333 monthly income
        {"intents": (("hardship", 0.9, AS_OF - timedelta(days=3), ("int:I-000009",)),)},
        {"intents": (("hardship", 0.9, AS_OF - timedelta(days=400), ("int:I-000009",)),)},  # kept until reviewed
    ],
)
def test_financial_difficulty_from_the_findings_is_a_vulnerability_signal(kb, knobs):
    found = match(kb, interests=("saving_goal",), **knobs)
    assert found.hardship_support
    assert [r.product_code for r in found.recommendations] == ["HARDSHIP-PLAN"]


def test_hardship_support_ignores_consent_and_complaints(kb):
    found = match(kb, consent=False, complaints=1, signals=("says they cannot pay",))
    assert [r.product_code for r in found.recommendations] == ["HARDSHIP-PLAN"]


def test_hardship_without_credit_account_offers_nothing_and_refers(kb):
    found = match(
        kb,
        signals=("bereavement mentioned",),
        has_credit_account=False,
        revolving_limit=0.0,
        revolving_balance=0.0,
        utilisation=None,
    )
    assert found.recommendations == [] and found.hardship_support
    assert "Customer Support" in found.no_offer_reason


def test_open_complaint_means_no_sales(kb):
    found = match(kb, complaints=1, travel=500.0, interests=("travel", "saving_goal"))
    assert found.recommendations == []
    assert "POL-COMPLAINTS §5.1" in found.no_offer_reason


def test_hardship_plan_is_never_a_cross_sell(kb):
    found = match(kb, interests=("saving_goal",))
    assert "vulnerability.hardship_support" in found.excluded["HARDSHIP-PLAN"]
    asked = match(kb, interests=("hardship_support",))  # asking for help is expressed distress
    assert asked.hardship_support and [r.product_code for r in asked.recommendations] == ["HARDSHIP-PLAN"]


# --- fairness -------------------------------------------------------------------------------------
def test_counterfactual_ages_give_identical_offers(kb):
    knobs = {
        "travel": 450.0,
        "interests": ("saving_goal", "long_term_saving"),
        "subscriptions": 5,
        "cash": 30_000.0,
        "revolving_balance": 0.0,
        "band": "A",
        "income": 90_000,
    }
    results = [match(kb, age=age, **knobs).model_dump() for age in (19, 34, 52, 67, 88)]
    assert results[0]["recommendations"], "the counterfactual needs offers to compare"
    assert all(result == results[0] for result in results[1:])
    age_details = {
        check["detail"]
        for offer in results[0]["recommendations"]
        for check in offer["checks"]
        if check["rule"] == "eligibility.min_age"
    }
    assert age_details == {"legal minimum age 18 met"}  # the age itself is never written


def test_age_below_legal_minimum_is_the_only_age_effect(kb):
    adult = match(kb, age=30, interests=("saving_goal",))
    minor = match(kb, age=16, interests=("saving_goal",))
    assert adult.recommendations and minor.recommendations == []
    assert all("eligibility.min_age" in rules for rules in minor.excluded.values())


# --- fit, reasons, ordering -----------------------------------------------------------------------
def test_balance_transfer_reason_states_the_saving(kb):
    found = match(
        kb, transferable=3_000.0, card_apr=24.9, utilisation=0.78, revolving_balance=900.0, revolving_limit=5_000.0
    )
    offer = next(r for r in found.recommendations if r.product_code == "CC-BT0")
    text = " ".join(offer.reasons)
    assert "Card utilisation is 78% at 24.9% APR" in text
    saving = re.search(r"save about EUR ([\d,]+) a month", text)
    assert saving and int(saving.group(1).replace(",", "")) == round(3_000 * 24.9 / 1200 - 0.03 * 3_000 / 24)


def test_balance_transfer_needs_a_balance_with_another_lender(kb):
    found = match(
        kb,
        transferable=0.0,
        card_apr=24.9,
        utilisation=0.78,
        revolving_balance=3_900.0,
        interests=("balance_transfer",),
    )
    assert "affordability.replacement" in found.excluded["CC-BT0"]


def test_consolidation_lowers_the_monthly_payment(kb):
    found = match(
        kb,
        revolving_balance=4_000.0,
        loans=6_000.0,
        loan_payment=300.0,
        utilisation=0.85,
        debt_payments=1_400.0,
        band="C",
    )
    offer = next(r for r in found.recommendations if r.product_code == "PL-CONSOLIDATE")
    check = next(c for c in offer.checks if c.rule == "affordability.replacement")
    assert check.passed and check.policy == "POL-AFFORD §5.3"
    assert offer.dti_after < 1_400.0 / (52_000 / 12)


def test_at_most_one_credit_product_one_per_type_and_three_offers(kb):
    found = match(
        kb,
        band="A",
        income=95_000,
        travel=900.0,
        everyday=900.0,
        subscriptions=8,
        revolving_balance=0.0,
        utilisation=0.05,
        cash=60_000.0,
        interests=("car_purchase", "home_purchase", "saving_goal", "investing_cautious"),
    )
    assert len(found.recommendations) == 3
    assert sum(r.apr is not None for r in found.recommendations) == 1
    assert len({r.product_type for r in found.recommendations}) == 3


def test_ranking_is_by_score_then_code(kb):
    found = match(kb, interests=("saving_goal", "long_term_saving", "tax_efficient_saving"), revolving_balance=0.0)
    keys = [(-r.score, r.product_code) for r in found.recommendations]
    assert keys == sorted(keys)
    assert all(0.0 <= r.score <= 1.0 for r in found.recommendations)


def test_held_products_are_not_offered(kb):
    found = match(kb, interests=("saving_goal",), held=("SAV-FIXED12", "SAV-GOAL"))
    codes = [r.product_code for r in found.recommendations]
    assert "SAV-FIXED12" not in codes and "SAV-GOAL" not in codes and codes


def test_recommendation_carries_disclosures_evidence_and_checks(kb):
    found = match(kb, travel=450.0, segment="Frequent traveller")
    offer = next(r for r in found.recommendations if r.product_code == "CC-TRAVEL")
    assert offer.disclosures == list(kb.product("CC-TRAVEL").disclosures)
    assert "product:CC-TRAVEL" in offer.evidence
    assert "policy:POL-AFFORD:3.2" in offer.evidence and "txn:T-0000001" in offer.evidence
    assert all(check.passed for check in offer.checks)
    assert any("Travel spending averages EUR 450 a month" in reason for reason in offer.reasons)


def test_conditions_the_tool_cannot_check_are_left_to_the_advisor(kb):
    assert (
        "vehicle no more than 12 months old and bought from a registered dealer"
        in product_conditions(kb.product("AUTO-NEW")).to_confirm
    )
    assert product_conditions(kb.product("CC-CLASSIC")).late_30_window_months == 6
    assert product_conditions(kb.product("INV-MANAGED")).emergency_fund_months == 6


def test_reward_rates_match_the_catalogue_text(kb):
    travel = kb.product("CC-TRAVEL").rewards
    premium = kb.product("CC-PREMIUM").rewards
    assert REWARD_RATES["CC-TRAVEL"] == (2.0, 1.0)
    assert "2 Northbridge Miles per EUR 1" in travel and "1 Mile per EUR 1 elsewhere" in travel
    assert "1 cent each" in travel
    assert REWARD_RATES["CC-PREMIUM"] == (1.5, 1.5)
    assert "1.5 Northbridge Points per EUR 1" in premium and "worth 1 cent each" in premium


def test_social_only_intents_need_social_consent_and_stale_intents_expire(kb):
    recent = AS_OF - timedelta(days=10)
    quiet = {
        "everyday": 0.0,
        "savings_capacity": 0.0,
        "cash": 9_000.0,
        "essential": 1_500.0,
        "revolving_balance": 0.0,
    }
    social = (("savings_goal", 0.9, recent, ("post:P-000001",)),)
    assert not match(kb, consent_social=False, intents=social, **quiet).recommendations
    assert match(kb, consent_social=True, intents=social, **quiet).recommendations
    stale = (("savings_goal", 0.9, AS_OF - timedelta(days=400), ("int:I-000001",)),)
    assert not match(kb, intents=stale, **quiet).recommendations
    fresh = (("savings_goal", 0.9, recent, ("int:I-000001",)),)
    offer = match(kb, intents=fresh, **quiet).recommendations[0]
    assert "int:I-000001" in offer.evidence
    assert any("confidence 0.90" in reason for reason in offer.reasons)


# --- feedback -------------------------------------------------------------------------------------
def test_repeated_rejections_lower_the_rank(kb):
    knobs = {"interests": ("saving_goal", "travel"), "travel": 400.0, "cash": 30_000.0, "revolving_balance": 0.0}
    before = [r.product_code for r in match(kb, **knobs).recommendations]
    top = before[0]
    feedback = FeedbackAdjustments()
    for _ in range(3):
        feedback.record(top, accepted=False, segment="Everyday spender", risk_band="B")
    after = [r.product_code for r in match(kb, feedback=feedback, **knobs).recommendations]
    assert after[0] != top
    assert top not in after or after.index(top) > before.index(top)


def test_feedback_penalty_is_bounded_and_never_changes_eligibility(kb):
    feedback = FeedbackAdjustments()
    for _ in range(10):
        feedback.record("SAV-GOAL", accepted=False, segment="Everyday spender")
        feedback.record("CC-PREMIUM", accepted=True, segment="Everyday spender")
    assert feedback.factor("SAV-GOAL", "Everyday spender", "B") == pytest.approx(0.7)
    assert feedback.factor("SAV-GOAL", "Other segment", "B") == 1.0
    assert FeedbackAdjustments.model_validate_json(feedback.model_dump_json()) == feedback  # stored as JSON
    found = match(kb, feedback=feedback, interests=("saving_goal",), cash=None)
    plain = match(kb, interests=("saving_goal",), cash=None)
    assert found.excluded == plain.excluded  # the same products are eligible
    assert "CC-PREMIUM" not in [r.product_code for r in found.recommendations]
    goal_before = next(r.score for r in plain.recommendations if r.product_code == "SAV-GOAL")
    goal_after = next(r.score for r in found.recommendations if r.product_code == "SAV-GOAL")
    assert goal_after == pytest.approx(0.7 * goal_before)
