"""The typed findings the specialists write: the shared vocabulary of tools, agents,
the graph state, the composer, the critic, the audit trail and the evaluators.

Every figure an answer may state lives in one of these models, with the ids of the
rows or documents it was computed from (``evidence``). Evidence ids are readable:
``txn:T-0000123``, ``acct:AC-0000042``, ``pay:AC-0000042:2026-03-01``,
``int:I-000042``, ``post:P-000042``, ``product:CC-TRAVEL``, ``policy:POL-AFFORD:3.2``,
``model:default-risk``.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

RiskBand = Literal["A", "B", "C", "D", "E"]
AgentName = Literal["spending", "credit", "sentiment", "products", "compliance"]
AGENT_NAMES: tuple[AgentName, ...] = ("spending", "credit", "sentiment", "products", "compliance")


class Finding(BaseModel):
    """Common envelope: every finding says whether its data was there."""

    available: bool = True
    missing_reason: str | None = Field(None, description="Why the finding could not be computed.")
    evidence: list[str] = Field(default_factory=list)
    tools_called: list[str] = Field(default_factory=list)


# --- spending ----------------------------------------------------------------------------
class CategorySpend(BaseModel):
    category: str
    monthly_average: float
    last_month: float
    share: float = Field(description="Share of total spend over the window, 0..1.")


class CategoryTrend(BaseModel):
    category: str
    period: Literal["month_on_month", "quarter_on_quarter"]
    previous: float
    current: float
    change_pct: float | None = None


class MerchantSpend(BaseModel):
    merchant: str
    total: float
    count: int


class Subscription(BaseModel):
    merchant: str
    period: Literal["monthly", "annual"]
    amount: float = Field(description="Latest charge.")
    first_seen: date
    last_seen: date
    charges: int
    price_rise_from: float | None = None
    price_rise_date: date | None = None
    duplicate: bool = Field(False, description="The same service charged more than once per period.")
    overlaps_with: list[str] = Field(default_factory=list, description="Services of the same family.")
    family: str | None = None
    evidence: list[str] = Field(default_factory=list)


class OverspendingAlert(BaseModel):
    category: str
    month: str = Field(description="YYYY-MM")
    amount: float
    baseline: float = Field(description="The customer's own typical monthly spend in the category.")
    excess_pct: float
    evidence: list[str] = Field(default_factory=list)


class SuspiciousTransaction(BaseModel):
    transaction_id: str
    timestamp: str
    amount: float
    merchant: str | None = None
    reasons: list[str] = Field(description="E.g. 'amount 6.2x the customer's largest usual spend'.")
    kinds: list[Literal["amount", "place", "time", "velocity", "new_merchant"]]
    score: float


class BudgetPlan(BaseModel):
    monthly_income: float
    monthly_essential_spend: float
    monthly_discretionary_spend: float
    monthly_savings_target: float = Field(description="A concrete amount to save each month.")
    actions: list[str] = Field(description="Specific cuts, each with its monthly saving.")


class SpendingFinding(Finding):
    months_covered: int = 0
    window_start: date | None = None
    window_end: date | None = None
    monthly_income: float = 0.0
    monthly_spend: float = 0.0
    by_category: list[CategorySpend] = Field(default_factory=list)
    monthly_by_category: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="month (YYYY-MM) -> category -> spend; for charts"
    )
    trends: list[CategoryTrend] = Field(default_factory=list, description="The largest movers.")
    top_merchants: list[MerchantSpend] = Field(default_factory=list)
    subscriptions: list[Subscription] = Field(default_factory=list)
    subscriptions_monthly_cost: float = 0.0
    overspending: list[OverspendingAlert] = Field(default_factory=list)
    budget: BudgetPlan | None = None
    suspicious: list[SuspiciousTransaction] = Field(default_factory=list)
    segment: str | None = Field(None, description="Readable spending segment, e.g. 'Frequent traveller'.")
    segment_id: int | None = None
    segment_rewards: list[str] = Field(default_factory=list, description="Rewards that suit the spending segment.")
    recurring_payments: list[Subscription] = Field(
        default_factory=list, description="Recurring bills, housing and debt payments (not subscriptions)."
    )


# --- credit ------------------------------------------------------------------------------
class AccountUtilisation(BaseModel):
    account_id: str
    product_code: str | None = None
    balance: float
    credit_limit: float
    utilisation: float


class ReasonCode(BaseModel):
    code: str = Field(description="Stable code, e.g. 'R01'.")
    feature: str
    text: str = Field(description="Adverse-action phrasing, e.g. 'Proportion of balances to credit limits is too high'.")
    contribution: float = Field(description="Contribution to the risk score (log-odds), larger = worse.")
    value: float | str | None = None


class CreditFinding(Finding):
    utilisation_overall: float | None = None
    accounts: list[AccountUtilisation] = Field(default_factory=list)
    total_debt: float = 0.0
    monthly_debt_payments: float = 0.0
    monthly_income: float = 0.0
    debt_to_income: float | None = Field(None, description="Monthly debt payments / monthly gross income.")
    late_payments_12m: int = 0
    late_30_plus_12m: int = 0
    late_30_plus_6m: int | None = Field(None, description="Payments 30+ days late in the last 6 months (None: not computed).")
    late_30_plus_3m: int | None = Field(None, description="Payments 30+ days late in the last 3 months (None: not computed).")
    worst_days_late: int = 0
    missed_payments_12m: int = 0
    default_probability: float | None = None
    risk_band: RiskBand | None = None
    reason_codes: list[ReasonCode] = Field(default_factory=list)
    model_version: str | None = None


# --- sentiment and intent ----------------------------------------------------------------
class ScoredText(BaseModel):
    source_id: str = Field(description="int:I-... or post:P-...")
    date: date
    channel: str
    sentiment: float = Field(ge=-1, le=1)
    intent: str
    intent_confidence: float
    excerpt: str = Field(description="Redacted, at most 200 characters.")


class DetectedIntent(BaseModel):
    intent: str
    count: int
    confidence: float
    last_seen: date
    evidence: list[str]


class SentimentFinding(Finding):
    texts_considered: int = 0
    social_posts_used: int = 0
    social_consent: bool = False
    mood: float | None = Field(None, description="Recent sentiment, -1..1 (last 90 days, recency-weighted).")
    mood_label: Literal["negative", "neutral", "positive"] | None = None
    mood_trend: Literal["improving", "stable", "worsening"] | None = None
    open_complaints: int = 0
    churn_risk: Literal["low", "medium", "high"] | None = None
    intents: list[DetectedIntent] = Field(default_factory=list)
    goals: list[str] = Field(default_factory=list, description="Need tags such as saving_goal, home_purchase.")
    product_interests: list[str] = Field(default_factory=list, description="Need tags from the catalogue vocabulary.")
    vulnerability_signals: list[str] = Field(default_factory=list, description="E.g. 'job loss mentioned (int:I-42)'.")
    recent: list[ScoredText] = Field(default_factory=list)
    injection_attempts: list[str] = Field(default_factory=list, description="Source ids of texts with instructions.")


# --- products ----------------------------------------------------------------------------
class EligibilityCheck(BaseModel):
    rule: str
    passed: bool
    detail: str
    policy: str | None = Field(None, description="e.g. POL-AFFORD §3.2")


class Recommendation(BaseModel):
    product_code: str
    name: str
    product_type: str
    score: float
    apr: float | None = Field(None, description="Offered APR within the published range, from the risk band.")
    price_tier: str | None = Field(None, description="e.g. 'Band B: 20.9% APR'.")
    estimated_monthly_payment: float | None = None
    dti_after: float | None = None
    reasons: list[str]
    evidence: list[str]
    checks: list[EligibilityCheck] = Field(default_factory=list)
    disclosures: list[str] = Field(default_factory=list, description="Disclosure ids the advisor must give.")
    to_confirm: list[str] = Field(
        default_factory=list,
        description="Catalogue conditions the tool cannot check from data; the advisor confirms them.",
    )


class ProductsFinding(Finding):
    recommendations: list[Recommendation] = Field(default_factory=list)
    considered: int = 0
    excluded: dict[str, list[str]] = Field(
        default_factory=dict, description="product code -> failed rules (eligibility, affordability, suitability)"
    )
    no_offer_reason: str | None = Field(None, description="Why nothing is offered (consent, hardship, risk).")
    hardship_support: bool = False


# --- compliance --------------------------------------------------------------------------
class Violation(BaseModel):
    rule: str = Field(description="Rule id, e.g. 'affordability', 'forbidden.guarantee'.")
    policy: str = Field(description="The policy document and section it enforces, e.g. 'POL-AFFORD §3.2'.")
    severity: Literal["block", "revise", "warn"]
    message: str
    product_code: str | None = None


class DisclosureText(BaseModel):
    id: str
    product_code: str | None = None
    text: str


class ComplianceFinding(Finding):
    passed: bool = True
    violations: list[Violation] = Field(default_factory=list)
    disclosures: list[DisclosureText] = Field(default_factory=list)
    restrictions: list[str] = Field(default_factory=list, description="E.g. 'no new credit: hardship signals'.")
    rules_checked: list[str] = Field(default_factory=list)


class Findings(BaseModel):
    spending: SpendingFinding | None = None
    credit: CreditFinding | None = None
    sentiment: SentimentFinding | None = None
    products: ProductsFinding | None = None
    compliance: ComplianceFinding | None = None


class CustomerProfile(BaseModel):
    """What tools may know of a customer: no protected attribute but age for the legal minimum."""

    customer_id: str
    annual_income: float
    employment_status: str | None = None
    tenure_months: int = 0
    consent_marketing: bool = False
    consent_social: bool = False
    age: int | None = Field(None, description="Used only for a product's legal minimum age, never to score or rank.")
    advisor_id: str | None = None
