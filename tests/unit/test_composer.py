"""The offline composer: deterministic, grounded, complete, and every figure traceable."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from agents.composer import (
    compose_offline,
    extract_figures,
    figures_in_findings,
    format_money,
    format_pct,
    format_percent,
    format_score,
    render_offline,
    supported_figures,
    unsupported_figures,
)
from tests.fixtures.findings import (
    KNOWLEDGE_SOURCES,
    compliance_finding,
    credit_finding,
    products_finding,
    rich_findings,
    sentiment_finding,
    spending_finding,
)
from tools.findings import CreditFinding, Findings, ProductsFinding, SpendingFinding

OFFER_QUESTION = "Customer C-00042 called about her card balance, what can I offer?"
# Numbers the composer may print that are structure, not facts. Kept empty on purpose:
# the offline composer words its text so that every digit comes from a finding.
STRUCTURAL_NUMBERS: set[str] = set()


def sections_of(markdown: str) -> dict[str, str]:
    parts = re.split(r"^### (.+)$", markdown, flags=re.MULTILINE)
    return {title: body for title, body in zip(parts[1::2], parts[2::2], strict=True)}


def test_formatting_helpers():
    assert format_money(1234.5) == "EUR 1,234.50"
    assert format_money(-12) == "EUR -12.00"
    assert format_pct(0.7812) == "78.1%"
    assert format_percent(-94.32) == "-94.3%"
    assert format_score(0.35) == "+0.35"


def test_the_answer_is_deterministic():
    findings = rich_findings()
    first = compose_offline(OFFER_QUESTION, findings, KNOWLEDGE_SOURCES, "C-00042")
    second = compose_offline(OFFER_QUESTION, rich_findings(), KNOWLEDGE_SOURCES, "C-00042")
    assert first.answer_markdown == second.answer_markdown
    assert first.written_by == "offline" and first.llm_calls == 0 and first.backend == "offline"


def test_it_leads_with_what_was_asked():
    findings = rich_findings()
    assert render_offline(OFFER_QUESTION, findings).startswith(
        "**In short:** Compliance blocks PL-FLEX: No new loan while reduced working hours are reported. "
        "Best fit: Northbridge Travel Credit Card at Band C: 22.9% APR."
    )
    subscriptions = render_offline("Which subscriptions could she cancel?", findings).splitlines()[0]
    assert "Subscriptions cost EUR 35.97 a month across 2 services" in subscriptions
    assert "Compliance" not in subscriptions
    assert "savings target is EUR 420.00" in render_offline("How much could he save each month?", findings)
    first_section = list(sections_of(render_offline("Is her credit risk high?", findings)))[0]
    assert first_section == "Credit"


def test_the_key_figures_of_every_finding_are_stated():
    answer = render_offline(OFFER_QUESTION, rich_findings(), KNOWLEDGE_SOURCES, "C-00042")
    sections = sections_of(answer)
    assert list(sections) == ["Recommended offers", "Credit", "Customer voice", "Spending",
                              "Disclosures you must give", "Compliance", "Sources"]
    spending = sections["Spending"]
    for expected in ("EUR 4,210.50", "EUR 3,387.25", "travel EUR 1,250.00 (36.9%)", "down 94.3%",
                     "EUR 35.97 a month", "price rise from EUR 12.99 on 2026-03-03", "(duplicate)",
                     "overlaps with ViewBox", "EUR 590.00 against a usual EUR 402.75 (up 46.5%)",
                     "save EUR 420.00 a month", "saves EUR 9.99 a month", "`txn:T-0000999` EUR 2,300.00",
                     "6.2x the customer's largest usual spend", "Frequent traveller"):
        assert expected in spending, expected
    credit = sections["Credit"]
    for expected in ("Risk band C: default probability 4.2%", "R01: Proportion of balances", "78.1% overall",
                     "EUR 2,343.60 of EUR 3,000.00", "12.2% of a monthly income", "2 late payment(s)",
                     "41 days late"):
        assert expected in credit, expected
    voice = sections["Customer voice"]
    for expected in ("negative (-0.42), worsening", "Open complaints: 1", "Churn risk: high", "fee complaint",
                     "reduced working hours", "`int:I-000061`"):
        assert expected in voice, expected
    assert "| Northbridge Travel Credit Card (CC-TRAVEL) | Band C: 22.9% APR | EUR 60.00" in answer


def test_disclosures_and_compliance_are_given():
    answer = render_offline(OFFER_QUESTION, rich_findings(), KNOWLEDGE_SOURCES)
    disclosures = sections_of(answer)["Disclosures you must give"]
    for disclosure in compliance_finding().disclosures:
        assert f"**{disclosure.id}** ({disclosure.product_code}): {disclosure.text}" in disclosures
    assert "DISC-SAVINGS-RATE" in disclosures, "a recommended product's disclosure id without text is still listed"
    compliance = sections_of(answer)["Compliance"]
    assert "**block** vulnerability.new_credit (POL-VULN §2.1) [PL-FLEX]" in compliance
    assert "offer support before any new credit" in compliance


def test_a_product_blocked_by_compliance_is_not_offered():
    offers = sections_of(render_offline(OFFER_QUESTION, rich_findings()))["Recommended offers"]
    assert "Northbridge Flexible Loan" not in offers
    assert "Blocked by compliance (see below): PL-FLEX" in offers


def test_only_present_findings_get_sections():
    answer = render_offline("How is her credit?", Findings(credit=credit_finding()))
    assert list(sections_of(answer)) == ["Credit"]
    assert answer.startswith("**In short:** Credit: risk band C (default probability 4.2%)")


def test_missing_findings_say_why():
    findings = Findings(
        spending=SpendingFinding(available=False, missing_reason="no transactions in the last 12 months"),
        credit=credit_finding(),
        products=ProductsFinding(recommendations=[], no_offer_reason="no marketing consent"),
    )
    answer = render_offline("What can I offer and how does she spend?", findings)
    sections = sections_of(answer)
    assert "Not available: no transactions in the last 12 months." in sections["Spending"]
    assert "No offer: no marketing consent." in sections["Recommended offers"]
    assert "No product to offer: no marketing consent." in answer.splitlines()[0]


def test_knowledge_questions_quote_and_cite_the_sources():
    question = "What is the affordability rule for new credit?"
    answer = render_offline(question, Findings(), KNOWLEDGE_SOURCES)
    assert answer.startswith("**In short:** the bank's documents answer this in `policy:POL-AFFORD:3.2`")
    assert "must not exceed 40% of gross monthly income" in answer.splitlines()[0]
    assert "> — `product:CC-TRAVEL` (products)" in answer
    assert list(sections_of(answer)) == ["What the documents say", "Sources"]
    assert unsupported_figures(answer, supported_figures(Findings(), KNOWLEDGE_SOURCES)) == []


def test_nothing_to_answer_from_is_said_plainly():
    answer = render_offline("What is the meaning of life?", Findings(), [])
    assert "found nothing in the bank's documents" in answer


def assert_every_figure_is_traceable(answer: str, findings: Findings, sources=()) -> None:
    supported = supported_figures(findings, sources) | STRUCTURAL_NUMBERS
    stated = extract_figures(answer)
    assert stated, "the answer states figures"
    missing = [figure for figure in stated if figure not in supported]
    assert missing == [], f"figures not traceable to a finding: {missing}"


def test_every_printed_figure_is_in_figures_in_findings():
    findings = rich_findings()
    for question in (OFFER_QUESTION, "Which subscriptions could she cancel?", "Any suspicious transactions?",
                     "How is his mood?", "Summarise"):
        answer = render_offline(question, findings, [], "C-00042")
        assert_every_figure_is_traceable(answer, findings)
        assert unsupported_figures(answer, figures_in_findings(findings)) == []


def test_the_figure_check_catches_invented_figures():
    findings = rich_findings()
    supported = figures_in_findings(findings)
    assert unsupported_figures("She spends EUR 4,210.50 and earns 78.1% more", supported) == []
    assert unsupported_figures("Offer 19.9% APR on EUR 5,000.00 over 36 months", supported) == [
        "EUR 5,000.00", "19.9%", "36"]
    # the customer's own words are data, not facts: the EUR 12 of a complaint is not a figure
    assert "EUR 12.00" not in supported and "EUR 12.99" in supported


def test_extract_figures_skips_identifiers_and_normalises_units():
    text = ("`txn:T-0000123` R01 §3.2 policy:POL-AFFORD:3.2 at 03:12 on 2026-06-21T03:12 (T-0000999) "
            "EUR 1234.5, 1,250 EUR, 78% and -94.3%, 6.2x, mood +0.35, 2 late")
    assert extract_figures(text) == ["2026-06-21", "EUR 1,234.50", "EUR 1,250.00", "78.0%", "-94.3%", "6.2x",
                                     "+0.35", "2"]


money = st.floats(min_value=0, max_value=250_000, allow_nan=False).map(lambda v: round(v, 2))
fraction = st.floats(min_value=0, max_value=1.5, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(income=money, spend=money, debt=money, payments=money, utilisation=fraction, dti=fraction,
       probability=st.floats(min_value=0, max_value=1), late=st.integers(0, 40), worst=st.integers(0, 400))
def test_figures_stay_traceable_for_any_values(income, spend, debt, payments, utilisation, dti, probability, late,
                                               worst):
    findings = Findings(
        spending=spending_finding().model_copy(update={"monthly_income": income, "monthly_spend": spend}),
        credit=CreditFinding(utilisation_overall=utilisation, total_debt=debt, monthly_debt_payments=payments,
                             monthly_income=income, debt_to_income=dti, late_payments_12m=late,
                             late_30_plus_12m=min(late, 3), worst_days_late=worst, default_probability=probability,
                             risk_band="B"),
        sentiment=sentiment_finding(),
        products=products_finding(),
        compliance=compliance_finding(),
    )
    answer = render_offline(OFFER_QUESTION, findings, [], "C-00042")
    assert_every_figure_is_traceable(answer, findings)
