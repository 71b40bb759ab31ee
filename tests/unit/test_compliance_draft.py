"""Draft answers: each kind of forbidden content caught, clean drafts pass."""

from __future__ import annotations

import pytest

from bank.knowledge import KnowledgeBase, load_knowledge_base
from tests.unit.test_products_rules import AS_OF, make_customer
from tools.compliance import POLICY_RULES, check_compliance, check_draft
from tools.findings import ProductsFinding
from tools.products import match_products

TRAVELLER = {
    "travel": 450.0,
    "segment": "Frequent traveller",
    "interests": ("saving_goal",),
    "cash": 9_000.0,
    "revolving_balance": 0.0,
}


@pytest.fixture(scope="module")
def kb():
    return load_knowledge_base()


@pytest.fixture(scope="module")
def case(kb):
    c = make_customer(**TRAVELLER)
    products = match_products(
        c["profile"], c["spending"], c["credit"], c["sentiment"], kb, AS_OF, holdings=c["holdings"]
    )
    compliance = check_compliance(c["profile"], c["spending"], c["credit"], c["sentiment"], products, kb)
    assert {r.product_code for r in products.recommendations} >= {"CC-TRAVEL", "SAV-FIXED12"}
    return {**c, "products": products, "compliance": compliance}


def clean_draft(products: ProductsFinding, kb: KnowledgeBase) -> str:
    """What a compliant composer writes: each offer with its price, representative example,
    reasons and the titles of its disclosures."""
    lines = ["Offers for C-TEST, subject to a full application:"]
    for rec in products.recommendations:
        product = kb.product(rec.product_code)
        lines.append(f"**{rec.name} ({rec.product_code})**")
        if rec.apr is not None:
            lines.append(f"Personal rate {rec.apr:.1f}% APR ({rec.price_tier}). {product.representative_example}")
        lines += [f"- {reason}" for reason in rec.reasons]
        lines.append("Disclosures: " + "; ".join(kb.disclosure(d).title for d in product.disclosures) + ".")
    return "\n".join(lines)


def violations_of(case, kb, text: str):
    return check_draft(text, case["products"], case["compliance"], case["credit"], kb)


def test_the_clean_draft_passes(case, kb):
    assert violations_of(case, kb, clean_draft(case["products"], kb)) == []


CLEAN_ADDITIONS = [
    "The legal minimum age of 18 applies to every product.",
    "Deposits are covered by the deposit guarantee scheme up to EUR 100,000.",
    "A single monthly payment is easier to plan; the foreign transaction fee is 0% on this card.",
    "Any application is subject to approval and a credit check; the rate is not guaranteed until then.",
    "The value of investments can fall as well as rise, so capital is at risk.",
    "Her card utilisation is 12% and she has 3 subscriptions; the customer is 2 payments ahead.",
    "CHK-ESSENTIAL: no credit check and no overdraft facility.",
]


@pytest.mark.parametrize("addition", CLEAN_ADDITIONS)
def test_clean_wording_passes(case, kb, addition):
    assert violations_of(case, kb, clean_draft(case["products"], kb) + "\n" + addition) == []


def test_disclosure_texts_themselves_pass(case, kb):
    texts = "\n".join(kb.disclosure(d.id).text for d in case["compliance"].disclosures)
    assert violations_of(case, kb, clean_draft(case["products"], kb) + "\n" + texts) == []


FORBIDDEN = [
    ("Approval is guaranteed.", "forbidden.guarantee"),
    ("You will definitely be approved for this card.", "forbidden.guarantee"),
    ("The fund offers guaranteed returns.", "forbidden.guarantee"),
    ("It is completely risk-free.", "forbidden.risk_free"),
    ("You have nothing to lose.", "forbidden.risk_free"),
    ("The customer is pre-approved for the travel card.", "forbidden.approval"),
    ("Good news: the application has been approved.", "forbidden.approval"),
    ("Act now to lock in this rate.", "forbidden.pressure"),
    ("This is a limited time offer.", "forbidden.pressure"),
    ("Only today: no annual fee.", "forbidden.pressure"),
    ("Apply before it's too late.", "forbidden.pressure"),
    ("This is the best rate on the market.", "forbidden.superlative"),
    ("It is the cheapest card we know of.", "forbidden.superlative"),
    ("This card needs no credit check.", "forbidden.no_credit_check"),
    ("Recommended because of her gender.", "forbidden.protected_attribute"),
    ("Because she is 62, a travel card suits her.", "forbidden.protected_attribute"),
    ("A 45-year-old customer like this one travels often.", "forbidden.protected_attribute"),
    ("As a married woman she will want the lounge passes.", "forbidden.protected_attribute"),
    ("The customer is single, so a travel card fits.", "forbidden.protected_attribute"),
    ("Given her postcode, she can afford it.", "forbidden.protected_attribute"),
    ("Customers in her region prefer this card.", "forbidden.protected_attribute"),
    ("Her nationality suggests frequent trips home.", "forbidden.protected_attribute"),
    ("As a Catholic she may prefer the bond.", "forbidden.protected_attribute"),
    ("She is pregnant, so saving matters more.", "forbidden.protected_attribute"),
    ("We can offer 23.0% APR on the card.", "forbidden.unsupported_figure"),
    ("A rate of 12.5% APR is available.", "pricing.published_range"),
    ("The bond pays 5.5% AER.", "forbidden.unsupported_figure"),
    ("Her debt-to-income is 0.05 today.", "forbidden.unsupported_figure"),
]


@pytest.mark.parametrize("addition,rule", FORBIDDEN)
def test_forbidden_content_is_caught(case, kb, addition, rule):
    found = violations_of(case, kb, clean_draft(case["products"], kb) + "\n" + addition)
    hits = [v for v in found if v.rule == rule]
    assert hits, found
    assert hits[0].policy == POLICY_RULES[rule].citation
    assert hits[0].severity in ("block", "revise")


def test_protected_attributes_block_and_prohibited_claims_ask_for_revision(case, kb):
    base = clean_draft(case["products"], kb)
    protected = violations_of(case, kb, base + "\nBecause she is divorced, offer the bond.")
    claim = violations_of(case, kb, base + "\nIt is risk-free.")
    assert [v.severity for v in protected] == ["block"]
    assert [v.severity for v in claim] == ["revise"]


def test_supported_figures_pass(case, kb):
    travel = next(r for r in case["products"].recommendations if r.product_code == "CC-TRAVEL")
    fixed = kb.product("SAV-FIXED12")
    text = (
        clean_draft(case["products"], kb) + f"\nThe card's published range is 22.9% APR to 28.9% APR; "
        f"her rate is {travel.apr:.1f}% APR and the bond pays {fixed.interest_rate:.2f}% AER. "
        f"Her debt-to-income would be {travel.dti_after:.2f}, under the 0.40 cap."
    )
    assert violations_of(case, kb, text) == []


def test_missing_disclosures_and_representative_apr_are_caught(case, kb):
    travel = next(r for r in case["products"].recommendations if r.product_code == "CC-TRAVEL")
    bare = f"We suggest the {travel.name} at {travel.apr:.1f}% APR."
    rules = {v.rule: v for v in violations_of(case, kb, bare)}
    assert rules["disclosures.required"].product_code == "CC-TRAVEL"
    assert "DISC-REP-EXAMPLE" in rules["disclosures.required"].message
    assert rules["disclosures.required"].policy == "POL-MARKETING §4.2"
    titles = "; ".join(kb.disclosure(d).title for d in kb.product("CC-TRAVEL").disclosures)
    without_rep = bare.replace(f"{travel.apr:.1f}% APR", "a personal rate") + f" Disclosures: {titles}."
    rules = {v.rule: v for v in violations_of(case, kb, without_rep)}
    assert "pricing.representative_apr" in rules and "disclosures.required" not in rules


def test_offers_while_restricted_are_caught(kb):
    c = make_customer(consent=False, **TRAVELLER)
    products = match_products(
        c["profile"], c["spending"], c["credit"], c["sentiment"], kb, AS_OF, holdings=c["holdings"]
    )
    compliance = check_compliance(c["profile"], c["spending"], c["credit"], c["sentiment"], products, kb)
    assert products.recommendations == []
    calm = "No new products can be offered: there is no marketing consent on record."
    assert check_draft(calm, products, compliance, c["credit"], kb) == []
    listed = calm + "\nNot offered: CC-TRAVEL (consent.marketing); CC-CASHBACK (consent.marketing)."
    assert check_draft(listed, products, compliance, c["credit"], kb) == []
    held = calm + "\nThe CC-CLASSIC card (already held) is at 20% of its limit."
    assert check_draft(held, products, compliance, c["credit"], kb) == []
    pushy = calm + " Still, the Northbridge Travel Rewards Credit Card would suit her travel."
    found = check_draft(pushy, products, compliance, c["credit"], kb)
    assert [v.rule for v in found] == ["forbidden.offer_while_restricted"]
    assert found[0].severity == "block"


def test_no_products_means_any_rate_is_unsupported(case, kb):
    found = check_draft("A loan at 7.9% APR would work.", None, case["compliance"], case["credit"], kb)
    assert [v.rule for v in found] == ["forbidden.unsupported_figure"]


@pytest.mark.parametrize("dti", [0.016, 0.134])
def test_a_debt_to_income_percentage_matching_the_finding_is_not_a_breach(case, kb, dti):
    credit = case["credit"].model_copy(update={"debt_to_income": dti})
    base = clean_draft(case["products"], kb)

    def violations(text: str):
        return check_draft(base + "\n" + text, case["products"], case["compliance"], credit, kb)

    for wording in (f"Credit: debt-to-income {dti * 100:.1f}%.", f"Her DTI is {dti * 100:.1f} %, under the cap.",
                    f"Debt-to-income: {dti:.3f}."):
        assert violations(wording) == [], wording
    assert [v.rule for v in violations(f"Credit: debt-to-income {dti * 100 + 7:.1f}%.")] == [
        "forbidden.unsupported_figure"]


def test_the_debt_to_income_after_an_offer_is_checked(case, kb):
    travel = next(r for r in case["products"].recommendations if r.product_code == "CC-TRAVEL")
    base = clean_draft(case["products"], kb)
    assert violations_of(case, kb, base + f"\n(debt-to-income after: {travel.dti_after * 100:.1f}%)") == []
    found = violations_of(case, kb, base + f"\n(debt-to-income after: {travel.dti_after * 100 + 9:.1f}%)")
    assert [v.rule for v in found] == ["forbidden.unsupported_figure"]


@pytest.fixture(scope="module")
def restricted(kb):
    c = make_customer(consent=False, **TRAVELLER)
    products = match_products(
        c["profile"], c["spending"], c["credit"], c["sentiment"], kb, AS_OF, holdings=c["holdings"]
    )
    compliance = check_compliance(c["profile"], c["spending"], c["credit"], c["sentiment"], products, kb)
    assert products.recommendations == []
    return lambda text: check_draft(text, products, compliance, c["credit"], kb)


RULED_OUT_LISTS = [
    "**Not offered:**\n- CC-TRAVEL: no marketing consent\n- Northbridge Travel Rewards Credit Card: fee value",
    "### Products not offered\n- CC-TRAVEL (consent.marketing)\n\nCC-CASHBACK is ruled out too.",
    "Declined:\n1. CC-TRAVEL\n2. SAV-FIXED12",
    "- Not eligible: CC-TRAVEL (consent.marketing)\n  - SAV-FIXED12 (consent.marketing)",
    "### Sources\n- `product:CC-TRAVEL` (products)\n- `policy:POL-MARKETING:3.1` (policies)",
]


@pytest.mark.parametrize("listing", RULED_OUT_LISTS)
def test_products_listed_as_not_offered_or_cited_are_not_offers(restricted, listing):
    calm = "No new products can be offered: there is no marketing consent on record."
    assert restricted(calm + "\n" + listing) == []


PROMOTIONS_AFTER_A_LIST = [
    "**Not offered:**\n- CC-CASHBACK: no consent\n\nThe Northbridge Travel Rewards Credit Card would suit her travel.",
    "- Not offered: CC-CASHBACK (consent.marketing)\n- CC-TRAVEL would suit her travel.",
    "### Sources\n- `product:CC-CASHBACK` (products)\n\n### Next steps\n- Suggest the CC-TRAVEL card for her trips.",
]


@pytest.mark.parametrize("listing", PROMOTIONS_AFTER_A_LIST)
def test_a_promotion_after_a_list_of_products_ruled_out_is_still_caught(restricted, listing):
    found = restricted(listing)
    assert [(v.rule, v.product_code) for v in found] == [("forbidden.offer_while_restricted", "CC-TRAVEL")]


def test_a_recommended_product_only_cited_as_a_source_needs_no_disclosures(case, kb):
    text = "No change is suggested today.\n\n### Sources\n- `product:CC-TRAVEL` (products)"
    assert violations_of(case, kb, text) == []
