"""The bank's written rules as code: which policy section each rule enforces, and the
policy figures (caps, price positions, risk levels, vulnerability thresholds).

Every eligibility check of the product matcher and every compliance violation cites a
rule of ``POLICY_RULES``; a test checks that each cited section exists in the knowledge
base. The numeric helpers work on numpy arrays so that the per-customer path and the
book-wide path share one definition (a single customer is a 1-element array).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from bank.knowledge import RISK_BANDS, KnowledgeBase, Product

Severity = Literal["block", "revise", "warn"]


@dataclass(frozen=True)
class PolicyRule:
    id: str
    doc_id: str
    section_id: str
    severity: Severity
    description: str

    @property
    def citation(self) -> str:
        return f"{self.doc_id} §{self.section_id}"

    @property
    def evidence_id(self) -> str:
        return f"policy:{self.doc_id}:{self.section_id}"


_RULES = (
    # --- consent and data ---------------------------------------------------------------
    PolicyRule(
        "consent.marketing",
        "POL-MARKETING",
        "3.1",
        "block",
        "A product may be promoted only with marketing consent on record.",
    ),
    PolicyRule(
        "consent.lawful_basis",
        "POL-DATA-PROTECTION",
        "3.1",
        "block",
        "Marketing and product offers rest on consent (consent_marketing).",
    ),
    PolicyRule(
        "consent.social",
        "POL-DATA-PROTECTION",
        "3.2",
        "block",
        "Social media posts are used only with consent_social.",
    ),
    # --- eligibility (the catalogue's written rules) --------------------------------------
    PolicyRule(
        "eligibility.min_age",
        "POL-FAIR-LENDING",
        "3.1",
        "block",
        "Age is used only to confirm the legal minimum age.",
    ),
    PolicyRule(
        "eligibility.min_income",
        "POL-AFFORD",
        "3.5",
        "block",
        "Recorded annual income meets the product's min_income.",
    ),
    PolicyRule(
        "eligibility.product_rules",
        "POL-SUITABILITY",
        "4.1",
        "block",
        "A product's own eligibility rules (tenure, payment history, deposits) must be met.",
    ),
    PolicyRule(
        "eligibility.band_ceiling",
        "POL-SUITABILITY",
        "3.3",
        "block",
        "The customer's band is the product's max_risk_band or better.",
    ),
    PolicyRule(
        "eligibility.existing_utilisation",
        "POL-AFFORD",
        "4.3",
        "block",
        "Revolving utilisation within the product's max_existing_utilisation (and 0.90).",
    ),
    PolicyRule(
        "eligibility.already_held",
        "POL-SUITABILITY",
        "4.2",
        "block",
        "A product the customer already holds answers no new need.",
    ),
    # --- affordability --------------------------------------------------------------------
    PolicyRule(
        "affordability.credit_assessment",
        "POL-AFFORD",
        "3.1",
        "block",
        "Credit is offered only with a DTI computed from account data.",
    ),
    PolicyRule(
        "affordability.dti_cap",
        "POL-AFFORD",
        "3.2",
        "block",
        "DTI including the new payment within the band cap (0.40 A-C, 0.35 D).",
    ),
    PolicyRule(
        "affordability.payment_estimate",
        "POL-AFFORD",
        "3.3",
        "block",
        "The new payment is estimated by the written method.",
    ),
    PolicyRule(
        "affordability.stress",
        "POL-AFFORD",
        "3.4",
        "block",
        "Variable-rate credit also passes the cap at the band rate plus 3 points.",
    ),
    PolicyRule(
        "affordability.unsecured_limit",
        "POL-AFFORD",
        "4.1",
        "block",
        "Total unsecured credit after the offer at most 60% of gross annual income.",
    ),
    PolicyRule(
        "affordability.loan_to_income",
        "POL-AFFORD",
        "4.2",
        "block",
        "Mortgage loan-to-income at most 4.5 times gross annual income.",
    ),
    PolicyRule("affordability.no_credit_band_e", "POL-AFFORD", "5.1", "block", "No new credit for band E."),
    PolicyRule(
        "affordability.replacement",
        "POL-AFFORD",
        "5.3",
        "block",
        "Consolidation or balance transfer must lower the payment or the total cost.",
    ),
    # --- suitability ----------------------------------------------------------------------
    PolicyRule(
        "suitability.need_match",
        "POL-SUITABILITY",
        "4.2",
        "revise",
        "A product is suggested only for an identified need, stated with its evidence.",
    ),
    PolicyRule(
        "suitability.fee_value",
        "POL-SUITABILITY",
        "4.3",
        "block",
        "Fee-bearing products only where the benefits likely exceed the fee.",
    ),
    PolicyRule(
        "suitability.investment_risk_level",
        "POL-SUITABILITY",
        "5.1",
        "block",
        "Investment risk level within the band's maximum.",
    ),
    PolicyRule(
        "suitability.investment_preconditions",
        "POL-SUITABILITY",
        "5.2",
        "block",
        "Emergency fund first and no revolving balance above 15% APR before investing.",
    ),
    PolicyRule(
        "suitability.investment_prompt_only",
        "POL-SUITABILITY",
        "5.3",
        "warn",
        "Investments are surfaced only as a prompt for a regulated suitability conversation.",
    ),
    # --- vulnerability, complaints ---------------------------------------------------------
    PolicyRule(
        "vulnerability.restriction",
        "POL-VULNERABLE",
        "4.1",
        "block",
        "No new credit, investment or fee-bearing product while a signal is present.",
    ),
    PolicyRule(
        "vulnerability.hardship_support",
        "POL-VULNERABLE",
        "4.2",
        "warn",
        "The Payment Support Plan is offered, through the hardship rules only.",
    ),
    PolicyRule(
        "vulnerability.signals", "POL-VULNERABLE", "3.1", "warn", "Vulnerability and financial difficulty signals."
    ),
    PolicyRule(
        "complaints.no_sales",
        "POL-COMPLAINTS",
        "5.1",
        "block",
        "No product is promoted while a complaint is open.",
    ),
    # --- pricing and disclosures -------------------------------------------------------------
    PolicyRule(
        "pricing.published_range",
        "POL-PRICING",
        "3.1",
        "block",
        "An APR always lies within the product's published range.",
    ),
    PolicyRule(
        "pricing.band_apr",
        "POL-PRICING",
        "3.2",
        "block",
        "The APR is the band's position in the range, rounded to 0.1 (halves up).",
    ),
    PolicyRule(
        "pricing.representative_apr",
        "POL-MARKETING",
        "4.1",
        "revise",
        "A credit promotion shows the representative APR and example.",
    ),
    PolicyRule(
        "disclosures.required",
        "POL-MARKETING",
        "4.2",
        "block",
        "Every recommendation carries all disclosures the catalogue lists for it.",
    ),
    PolicyRule(
        "offers.limit",
        "POL-MARKETING",
        "5.2",
        "revise",
        "At most 3 products per answer and at most one new credit product.",
    ),
    PolicyRule(
        "offers.catalogue_product",
        "POL-AI-USE",
        "3.1",
        "block",
        "Only catalogue products are recommended; none is invented.",
    ),
    PolicyRule(
        "offers.evidence", "POL-AI-USE", "3.2", "revise", "Each recommendation lists its reasons and evidence ids."
    ),
    # --- draft content ------------------------------------------------------------------------
    PolicyRule(
        "forbidden.guarantee",
        "POL-MARKETING",
        "4.3",
        "revise",
        "No claim that credit is guaranteed or certain to be accepted, or that returns are promised.",
    ),
    PolicyRule(
        "forbidden.risk_free",
        "POL-MARKETING",
        "4.3",
        "revise",
        "No product described as risk-free; no language that plays down risks.",
    ),
    PolicyRule(
        "forbidden.approval",
        "POL-MARKETING",
        "4.3",
        "revise",
        "No approval or pre-approval stated before a full application.",
    ),
    PolicyRule(
        "forbidden.superlative",
        "POL-MARKETING",
        "4.3",
        "revise",
        "No 'best', 'cheapest' or 'lowest rate on the market'.",
    ),
    PolicyRule(
        "forbidden.no_credit_check",
        "POL-MARKETING",
        "4.3",
        "revise",
        "No 'no credit check' claim for a credit product.",
    ),
    PolicyRule(
        "forbidden.unsupported_figure",
        "POL-AI-USE",
        "3.1",
        "revise",
        "Every rate, fee, payment or ratio quoted comes from a tool result or the catalogue.",
    ),
    PolicyRule("forbidden.pressure", "POL-MARKETING", "5.1", "revise", "No false urgency or pressure selling."),
    PolicyRule(
        "forbidden.protected_attribute",
        "POL-FAIR-LENDING",
        "3.2",
        "block",
        "No protected attribute in the text of an answer or used as a reason.",
    ),
    PolicyRule(
        "forbidden.offer_while_restricted",
        "POL-MARKETING",
        "5.2",
        "block",
        "No product promoted while consent, complaint or vulnerability restrictions apply.",
    ),
)
POLICY_RULES: dict[str, PolicyRule] = {rule.id: rule for rule in _RULES}


def rule(rule_id: str) -> PolicyRule:
    return POLICY_RULES[rule_id]


def cite(rule_id: str) -> str:
    """'POL-AFFORD §3.2' for a rule id."""
    return POLICY_RULES[rule_id].citation


def missing_sections(kb: KnowledgeBase) -> list[str]:
    """Citations of the rule table that the knowledge base does not hold (should be empty)."""
    missing = []
    for policy_rule in POLICY_RULES.values():
        try:
            kb.section(policy_rule.doc_id, policy_rule.section_id)
        except KeyError:
            missing.append(f"{policy_rule.id}: {policy_rule.citation}")
    return missing


# --- policy figures -------------------------------------------------------------------------
# POL-AFFORD §3.2: DTI cap including the new payment; band E gets no new credit.
BAND_DTI_CAPS: dict[str, float] = {"A": 0.40, "B": 0.40, "C": 0.40, "D": 0.35}
STRESS_POINTS = 3.0  # POL-AFFORD §3.4
CARD_PAYMENT_SHARE = 0.03  # POL-AFFORD §3.1 and §3.3: cards and overdrafts at 3% of balance or limit
DEFAULT_LOAN_TERM_MONTHS = 60  # POL-AFFORD §3.3
DEFAULT_MORTGAGE_TERM_MONTHS = 300  # POL-AFFORD §3.3
UNSECURED_INCOME_SHARE = 0.60  # POL-AFFORD §4.1
MAX_LOAN_TO_INCOME = 4.5  # POL-AFFORD §4.2
HIGH_UTILISATION = 0.90  # POL-AFFORD §4.3
# POL-SUITABILITY §5.1: highest investment risk level by band (E: none).
MAX_INVESTMENT_RISK_LEVEL: dict[str, int] = {"A": 7, "B": 6, "C": 4, "D": 2, "E": 0}
EMERGENCY_FUND_MONTHS = 3.0  # POL-SUITABILITY §5.2 (6 for the managed service, from the catalogue)
MAX_REVOLVING_APR_BEFORE_INVESTING = 15.0  # POL-SUITABILITY §5.2
# POL-PRICING §3.2: position of each band in the published range.
BAND_PRICE_POSITION: dict[str, float] = {"A": 0.0, "B": 0.25, "C": 0.50, "D": 0.75, "E": 1.0}
# POL-PRICING §5.1: the standard foreign transaction fee on cards that do not state 0%.
STANDARD_CARD_FX_FEE_PCT = 2.95
# POL-VULNERABLE §3.1 financial-difficulty thresholds.
VULNERABLE_DAYS_LATE = 60
VULNERABLE_UTILISATION = 0.95
VULNERABLE_GAMBLING_SHARE = 0.10
VULNERABLE_LATE_30_IN_3M = 2
# A hardship intent stated with at least this confidence is expressed distress (§3.1).
STATED_HARDSHIP_CONFIDENCE = 0.5


def band_rank(bands: pd.Series | np.ndarray | list) -> np.ndarray:
    """A=0 .. E=4 as floats; NaN where the band is unknown."""
    mapping = {band: float(i) for i, band in enumerate(RISK_BANDS)}
    return np.array([mapping.get(b, np.nan) if isinstance(b, str) else np.nan for b in bands], dtype=float)


def _by_rank(table: dict[str, float], ranks: np.ndarray, missing: float = np.nan) -> np.ndarray:
    lookup = np.array([table.get(band, missing) for band in RISK_BANDS], dtype=float)
    out = np.full(ranks.shape, missing, dtype=float)
    known = ~np.isnan(ranks)
    out[known] = lookup[ranks[known].astype(int)]
    return out


def dti_cap(ranks: np.ndarray, product_max_dti: float | None) -> np.ndarray:
    """POL-AFFORD §3.2 cap for each band, lowered to the product's own max_dti; NaN: no credit."""
    caps = _by_rank(BAND_DTI_CAPS, ranks)
    if product_max_dti is not None:
        caps = np.minimum(caps, product_max_dti)
    return caps


def round_half_up(values: np.ndarray, decimals: int = 1) -> np.ndarray:
    scale = 10.0**decimals
    # The epsilon keeps 20.85 (stored as 20.8499999...) rounding up as the policy says.
    return np.floor(np.asarray(values, dtype=float) * scale + 0.5 + 1e-9) / scale


def band_apr(product: Product, ranks: np.ndarray) -> np.ndarray:
    """POL-PRICING §3.2: apr_min + position x (apr_max - apr_min), to 0.1 with halves up."""
    if product.apr_min is None or product.apr_max is None:
        return np.full(np.shape(ranks), np.nan)
    positions = _by_rank(BAND_PRICE_POSITION, np.asarray(ranks, dtype=float))
    return round_half_up(product.apr_min + positions * (product.apr_max - product.apr_min))


def representative_apr(product: Product) -> float | None:
    """POL-PRICING §3.3: the band B price."""
    if product.apr_min is None:
        return None
    return float(band_apr(product, np.array([RISK_BANDS.index("B")], dtype=float))[0])


def max_investment_level(ranks: np.ndarray) -> np.ndarray:
    """POL-SUITABILITY §5.1; NaN where the band is unknown."""
    return _by_rank({k: float(v) for k, v in MAX_INVESTMENT_RISK_LEVEL.items()}, ranks)


def annuity_payment(principal: np.ndarray | float, apr: np.ndarray | float, term_months: float) -> np.ndarray:
    """Level monthly repayment of ``principal`` at ``apr`` percent a year over ``term_months``."""
    principal = np.asarray(principal, dtype=float)
    rate = np.asarray(apr, dtype=float) / 1200.0
    with np.errstate(divide="ignore", invalid="ignore"):
        paid = principal * rate / (1.0 - (1.0 + rate) ** (-term_months))
    return np.where(rate == 0, principal / term_months, paid)


# --- vulnerability signals (POL-VULNERABLE §3.1) -----------------------------------------------
VULNERABILITY_SIGNALS: dict[str, str] = {
    "stated": "the customer said they are in financial difficulty",
    "days_late_60": "a payment 60 or more days late in the last 12 months",
    "late_30_recent": "two or more payments 30 or more days late in the last 3 months",
    "utilisation_95": "utilisation above 95% of revolving credit",
    "gambling": "gambling above 10% of monthly income",
}


def vulnerability_signals(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """POL-VULNERABLE §3.1 signals that the findings show, one bool array per signal.

    ``frame`` holds the matcher's feature columns (see ``tools.products.features``).
    """
    monthly_income = frame["annual_income"].to_numpy(float) / 12.0
    with np.errstate(invalid="ignore", divide="ignore"):
        gambling_share = frame["gambling_spend"].to_numpy(float) / monthly_income
    return {
        "stated": (frame["vulnerability_signals"].to_numpy(float) > 0)
        | (frame["stated_hardship_support"].to_numpy(float) >= STATED_HARDSHIP_CONFIDENCE),
        "days_late_60": frame["worst_days_late"].to_numpy(float) >= VULNERABLE_DAYS_LATE,
        "late_30_recent": frame["late_30_plus_3m"].to_numpy(float) >= VULNERABLE_LATE_30_IN_3M,
        "utilisation_95": frame["utilisation"].to_numpy(float) > VULNERABLE_UTILISATION,
        "gambling": np.nan_to_num(gambling_share, nan=0.0, posinf=0.0) > VULNERABLE_GAMBLING_SHARE,
    }


def in_hardship(frame: pd.DataFrame) -> np.ndarray:
    """True where any vulnerability signal is present (the POL-VULNERABLE §4.1 restrictions apply)."""
    signals = vulnerability_signals(frame)
    return np.logical_or.reduce(list(signals.values()))


def describe_vulnerability(signals: dict[str, np.ndarray], index: int, notes: str = "") -> list[str]:
    """Readable signals present for one row; ``notes`` are the sentiment finding's own signals."""
    described = []
    for name, present in signals.items():
        if not present[index]:
            continue
        if name == "stated" and notes:
            described.extend(n for n in notes.split(" | ") if n)
        else:
            described.append(VULNERABILITY_SIGNALS[name])
    return described
