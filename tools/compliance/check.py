"""The compliance check of a set of recommendations against the bank's policies.

``check_compliance`` is the second line of defence behind the product matcher: whatever
produced the recommendations, it verifies the policy invariants that the findings let it
verify (consent, open complaints, vulnerability, band ceilings, investment risk levels,
band pricing, debt-to-income caps, offer limits, disclosures, evidence) and lists the
disclosures to give with their texts and the restrictions that apply to the customer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bank.knowledge import RISK_BANDS, KnowledgeBase, Product
from tools.compliance import rules as policy
from tools.findings import (
    ComplianceFinding,
    CreditFinding,
    CustomerProfile,
    DisclosureText,
    Findings,
    ProductsFinding,
    Recommendation,
    SentimentFinding,
    SpendingFinding,
    Violation,
)
from tools.products.features import features_from_findings, normalise_features
from tools.products.rules import Columns, is_replacement

APR_TOLERANCE = 0.05
MAX_OFFERS = 3
MAX_CREDIT_OFFERS = 1


def violation(
    rule_id: str, message: str, product_code: str | None = None, severity: policy.Severity | None = None
) -> Violation:
    rule = policy.rule(rule_id)
    return Violation(
        rule=rule_id,
        policy=rule.citation,
        severity=severity or rule.severity,
        message=message,
        product_code=product_code,
    )


def customer_columns(
    profile: CustomerProfile,
    spending: SpendingFinding | None,
    credit: CreditFinding | None,
    sentiment: SentimentFinding | None,
) -> Columns:
    """The customer's rule columns (band, DTI, vulnerability signals) from the findings."""
    row = features_from_findings(profile, spending, credit, sentiment)
    return Columns(normalise_features(pd.DataFrame([row])))


def _restrictions(profile: CustomerProfile, columns: Columns, products: ProductsFinding | None) -> list[str]:
    out = []
    if not profile.consent_marketing:
        out.append(f"No product offers: no marketing consent on record ({policy.cite('consent.marketing')})")
    if not profile.consent_social:
        out.append(f"Social media posts may not be used: no social-data consent ({policy.cite('consent.social')})")
    if columns.open_complaints[0] > 0:
        out.append(f"No sales while a complaint is open ({policy.cite('complaints.no_sales')})")
    if columns.hardship[0]:
        signals = "; ".join(
            policy.describe_vulnerability(columns.vulnerability, 0, columns.text("vulnerability_notes", 0))
        )
        out.append(
            f"No new credit, investment or fee-bearing product: {signals} ({policy.cite('vulnerability.signals')}; "
            f"{policy.cite('vulnerability.restriction')}); offer hardship support "
            f"({policy.cite('vulnerability.hardship_support')})"
        )
    band = columns.band(0)
    if band == "E":
        out.append(f"No new credit: risk band E ({policy.cite('affordability.no_credit_band_e')})")
    elif band == "D":
        out.append(
            "Risk band D: only the Credit Builder card and the debt consolidation loan, at a 0.35 "
            f"debt-to-income cap ({policy.cite('affordability.dti_cap')})"
        )
    if products is not None and any(r.product_type == "investment" for r in products.recommendations):
        out.append(
            "Investments only as a prompt for a regulated suitability conversation "
            f"({policy.cite('suitability.investment_prompt_only')})"
        )
    return out


def _check_recommendation(
    rec: Recommendation, product: Product, profile: CustomerProfile, columns: Columns, credit: CreditFinding | None
) -> list[Violation]:
    found: list[Violation] = []
    code = rec.product_code
    rank = columns.rank[0]
    band = columns.band(0)
    promotional = product.eligibility.requires_marketing_consent
    if promotional and not profile.consent_marketing:
        found.append(violation("consent.marketing", f"{code} is promoted without marketing consent", code))
    if promotional and columns.open_complaints[0] > 0:
        found.append(violation("complaints.no_sales", f"{code} is promoted while a complaint is open", code))
    if columns.hardship[0] and not product.is_hardship_support:
        found.append(
            violation(
                "vulnerability.restriction", f"{code} is offered while vulnerability signals are present", code
            )
        )
    if product.is_hardship_support and not columns.hardship[0]:
        found.append(
            violation(
                "vulnerability.hardship_support",
                f"{code} is offered without a hardship signal: it is never a cross-sell",
                code,
                severity="block",
            )
        )
    ceiling = RISK_BANDS.index(product.eligibility.max_risk_band)
    if product.grants_credit or ceiling < len(RISK_BANDS) - 1:
        if np.isnan(rank):
            found.append(
                violation("eligibility.band_ceiling", f"{code} needs a risk band and none was assessed", code)
            )
        elif rank > ceiling:
            found.append(
                violation(
                    "eligibility.band_ceiling",
                    f"{code} has ceiling {product.eligibility.max_risk_band}; the customer is band {band}",
                    code,
                )
            )
    if product.type == "investment" and product.risk_level is not None:
        level_cap = policy.max_investment_level(np.array([rank]))[0]
        if np.isnan(level_cap) or product.risk_level > level_cap:
            found.append(
                violation(
                    "suitability.investment_risk_level",
                    f"{code} is risk level {product.risk_level}; band {band} allows at most "
                    f"{0 if np.isnan(level_cap) else level_cap:.0f}",
                    code,
                )
            )
        found.append(
            violation(
                "suitability.investment_prompt_only",
                f"{code} may be raised only as a prompt for a regulated suitability conversation",
                code,
            )
        )
    if product.grants_credit:
        found += _check_credit(rec, product, columns, credit)
    missing = [d for d in product.disclosures if d not in rec.disclosures]
    if missing:
        found.append(
            violation("disclosures.required", f"{code} lacks required disclosures: {', '.join(missing)}", code)
        )
    if not rec.reasons or not rec.evidence:
        found.append(violation("offers.evidence", f"{code} has no reasons or no evidence ids", code))
    for check in rec.checks:
        if not check.passed:
            found.append(
                Violation(
                    rule=check.rule,
                    policy=check.policy or policy.cite("eligibility.product_rules"),
                    severity="block",
                    message=f"{code} failed {check.rule}: {check.detail}",
                    product_code=code,
                )
            )
    return found


def _check_credit(
    rec: Recommendation, product: Product, columns: Columns, credit: CreditFinding | None
) -> list[Violation]:
    found: list[Violation] = []
    code = rec.product_code
    rank = columns.rank[0]
    if credit is None or not credit.available or np.isnan(rank):
        return [
            violation(
                "affordability.credit_assessment", f"{code} is credit but no credit assessment is available", code
            )
        ]
    if rank >= RISK_BANDS.index("E"):
        found.append(
            violation("affordability.no_credit_band_e", f"{code} is new credit for a band E customer", code)
        )
    if rec.apr is None or not (product.apr_min - APR_TOLERANCE <= rec.apr <= product.apr_max + APR_TOLERANCE):
        found.append(
            violation(
                "pricing.published_range",
                f"{code} APR {rec.apr} is outside the published {product.apr_min:g}%-{product.apr_max:g}%",
                code,
            )
        )
    else:
        expected = float(policy.band_apr(product, np.array([rank]))[0])
        if abs(rec.apr - expected) > APR_TOLERANCE:
            found.append(
                violation(
                    "pricing.band_apr",
                    f"{code} APR {rec.apr:.1f}% differs from the band {columns.band(0)} price {expected:.1f}%",
                    code,
                )
            )
    cap = float(policy.dti_cap(np.array([rank]), product.eligibility.max_dti)[0])
    if rec.dti_after is None or rec.estimated_monthly_payment is None:
        found.append(
            violation(
                "affordability.payment_estimate",
                f"{code} has no estimated payment or debt-to-income after the offer",
                code,
            )
        )
    elif not np.isnan(cap):
        dti_before = float(columns.dti_before[0])
        lowers_debt = is_replacement(product) and rec.dti_after <= dti_before + 1e-9
        if rec.dti_after > cap + 1e-9 and not lowers_debt:
            found.append(
                violation(
                    "affordability.dti_cap",
                    f"{code} takes debt-to-income to {rec.dti_after:.2f}, above the {cap:.2f} cap",
                    code,
                )
            )
        if rec.dti_after + 1e-9 < dti_before and not is_replacement(product):
            found.append(
                violation(
                    "affordability.payment_estimate",
                    f"{code} shows debt-to-income {rec.dti_after:.2f} after the offer, below the "
                    f"{dti_before:.2f} before it",
                    code,
                )
            )
    return found


def check_compliance(
    profile: CustomerProfile,
    spending: SpendingFinding | None,
    credit: CreditFinding | None,
    sentiment: SentimentFinding | None,
    products: ProductsFinding | None,
    kb: KnowledgeBase,
) -> ComplianceFinding:
    """Check the recommendations (if any) and the use of data against the policies."""
    columns = customer_columns(profile, spending, credit, sentiment)
    violations: list[Violation] = []
    checked = ["consent.social", "vulnerability.hardship_support"]
    if sentiment is not None and sentiment.social_posts_used > 0 and not profile.consent_social:
        violations.append(
            violation(
                "consent.social",
                f"{sentiment.social_posts_used} social posts were used without social-data consent",
            )
        )
    recommendations = products.recommendations if products is not None else []
    disclosures: list[DisclosureText] = []
    for rec in recommendations:
        try:
            product = kb.product(rec.product_code)
        except KeyError:
            violations.append(
                violation(
                    "offers.catalogue_product", f"{rec.product_code} is not a catalogue product", rec.product_code
                )
            )
            continue
        violations += _check_recommendation(rec, product, profile, columns, credit)
        disclosures += [
            DisclosureText(id=d, product_code=product.code, text=kb.disclosure(d).text)
            for d in product.disclosures
        ]
    if recommendations:
        checked += [
            "consent.marketing",
            "complaints.no_sales",
            "vulnerability.restriction",
            "eligibility.band_ceiling",
            "suitability.investment_risk_level",
            "affordability.credit_assessment",
            "pricing.published_range",
            "pricing.band_apr",
            "affordability.dti_cap",
            "disclosures.required",
            "offers.limit",
            "offers.evidence",
            "offers.catalogue_product",
        ]
    credit_offers = [r for r in recommendations if r.apr is not None]
    if len(recommendations) > MAX_OFFERS or len(credit_offers) > MAX_CREDIT_OFFERS:
        violations.append(
            violation(
                "offers.limit",
                f"{len(recommendations)} products, {len(credit_offers)} of them "
                f"credit: at most {MAX_OFFERS} and {MAX_CREDIT_OFFERS}",
            )
        )
    holds_credit = credit is not None and (bool(credit.accounts) or credit.monthly_debt_payments > 0)
    hardship_codes = {p.code for p in kb.products if p.is_hardship_support}
    hardship_offered = any(r.product_code in hardship_codes for r in recommendations)
    if columns.hardship[0] and holds_credit and not hardship_offered:
        violations.append(
            violation(
                "vulnerability.hardship_support",
                "Signs of financial difficulty and Northbridge credit held: the Payment Support "
                "Plan must be offered",
            )
        )
    passed = not any(v.severity in ("block", "revise") for v in violations)
    cited = list(dict.fromkeys(policy.rule(r).evidence_id for r in checked))
    return ComplianceFinding(
        passed=passed,
        violations=violations,
        disclosures=disclosures,
        restrictions=_restrictions(profile, columns, products),
        rules_checked=checked,
        evidence=cited,
        tools_called=["check_compliance"],
    )


def check_findings(profile: CustomerProfile, findings: Findings, kb: KnowledgeBase) -> ComplianceFinding:
    """``check_compliance`` over a ``Findings`` bundle."""
    return check_compliance(profile, findings.spending, findings.credit, findings.sentiment, findings.products, kb)
