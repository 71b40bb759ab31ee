"""The product rules, written once and vectorised over customers.

``evaluate_products(frame, kb)`` runs every rule of every catalogue product over all rows
of a feature frame (one customer or 100,000) and returns, per product, arrays of check
results, need strengths, price, payment and debt-to-income. The per-customer matcher
calls it with a one-row frame; the book job with the whole book.

Rule sources: the catalogue's eligibility fields and the sentences of ``eligibility.other``
that ``CONDITION_PATTERNS`` recognises; the policies through ``tools.compliance.rules``.
Catalogue sentences no pattern recognises are returned as ``to_confirm`` for the advisor.

Fit (0..1) comes from needs. Each need has a strength from what the customer stated
(interests and goals 1.0, intents their confidence) and from behaviour (``NEED_SIGNALS``,
each a strength 0..1 times a documented weight), combined as
``1 - (1 - stated) * prod(1 - weight * strength)``. A product's fit is the strongest of its
needs; its score is the fit times the feedback factor. A product with no matched need is
not suitable (POL-SUITABILITY §4.2).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from bank.knowledge import RISK_BANDS, KnowledgeBase, Product
from tools.compliance import rules as policy
from tools.products.features import stated_column

Describe = Callable[[int], str]

# --- need signals ------------------------------------------------------------------------------
TRAVEL_SHARE_FULL = 0.10  # 10% of spending on travel is a full-strength travel need
EVERYDAY_SPEND_FULL = 800.0  # groceries, dining and fuel a month
SUBSCRIPTIONS_FULL = 6
CARD_INTEREST_FULL = 50.0  # card interest a month
TRANSFER_INTEREST_FULL = 40.0
SAVINGS_CAPACITY_FULL = 200.0
TAXABLE_CASH_FROM = 10_000.0
BANK_FEES_FULL = 20.0
PREMIUM_SPEND_FULL = 4_000.0
PREMIUM_TRAVEL_SHARE = 0.05
DEBT_DTI_FROM, DEBT_DTI_SPAN = 0.15, 0.20
DEBT_UTILISATION_FROM, DEBT_UTILISATION_SPAN = 0.50, 0.40
CONSOLIDATION_MIN_BALANCE = 1_000.0
LONG_TERM_CASH_MONTHS = 6.0
# The cashback card is not suitable for customers who regularly carry a balance: a
# revolving utilisation at or above this share is read as carrying one.
CARRIES_BALANCE_UTILISATION = 0.30
DEFAULT_THRESHOLD_DAYS = 90  # an account 90+ days late is in default
# Reward rates (percent of spend) of fee-bearing products, from the catalogue's rewards text:
# (on travel spend, on other card spend). A test checks each figure against the text.
REWARD_RATES: dict[str, tuple[float, float]] = {
    "CC-TRAVEL": (2.0, 1.0),  # "2 Northbridge Miles per EUR 1 ... 1 Mile per EUR 1 elsewhere", 1 cent each
    "CC-PREMIUM": (1.5, 1.5),  # "1.5 Northbridge Points per EUR 1 spent (Points worth 1 cent each)"
}


class Columns:
    """The feature frame as float arrays (attribute access), plus derived figures."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        self.n = len(frame)
        self._cache: dict[str, np.ndarray] = {}
        self.rank = policy.band_rank(frame["risk_band"].tolist())
        self.income_m = frame["annual_income"].to_numpy(float) / 12.0
        with np.errstate(divide="ignore", invalid="ignore"):
            self.dti_before = self.monthly_debt_payments / self.income_m
        self.vulnerability = policy.vulnerability_signals(frame)
        self.hardship = np.logical_or.reduce(list(self.vulnerability.values()))
        self.travel_share = _ratio(self.travel_spend, self.monthly_spend)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.cash_months = np.where(self.essential_spend > 0, self.cash_savings / self.essential_spend, np.nan)
        self._signals: dict[str, np.ndarray] | None = None
        self._needs: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def weighted_signals(self) -> dict[str, np.ndarray]:
        """Weight x strength of every need signal, computed once per frame."""
        if self._signals is None:
            self._signals = {s.name: s.weight * _clip01(s.strength(self)) for s in NEED_SIGNALS}
        return self._signals

    def need(self, need: str) -> tuple[np.ndarray, np.ndarray]:
        """(stated strength, combined strength) of a need, computed once per frame."""
        if need not in self._needs:
            stated = _clip01(self.frame[stated_column(need)].to_numpy(float))
            miss = 1.0 - stated
            for s in NEED_SIGNALS:
                if need in s.needs:
                    miss = miss * (1.0 - self.weighted_signals[s.name])
            self._needs[need] = (stated, 1.0 - miss)
        return self._needs[need]

    def __getattr__(self, name: str) -> np.ndarray:
        if name.startswith("_") or name in ("frame", "weighted_signals"):
            raise AttributeError(name)
        if name not in self._cache:
            series = self.frame[name]
            if series.dtype == bool:
                self._cache[name] = series.to_numpy(bool)
            elif pd.api.types.is_numeric_dtype(series):
                self._cache[name] = series.to_numpy(float)
            else:
                self._cache[name] = series.to_numpy(dtype=object)
        return self._cache[name]

    def text(self, name: str, index: int) -> str:
        value = getattr(self, name)[index]
        return "" if value is None else str(value)

    def band(self, index: int) -> str:
        rank = self.rank[index]
        return "unknown" if np.isnan(rank) else RISK_BANDS[int(rank)]


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = numerator / denominator
    return np.where(np.isfinite(ratio), ratio, 0.0)


def _clip01(values: np.ndarray) -> np.ndarray:
    return np.clip(np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)


def eur(amount: float) -> str:
    return f"EUR {amount:,.0f}"


def pct(share: float) -> str:
    return f"{100 * share:.0f}%"


@dataclass(frozen=True)
class NeedSignal:
    """Behaviour that shows a need: strength 0..1 per customer, its weight, and a sentence."""

    name: str
    needs: tuple[str, ...]
    weight: float
    source: str  # which finding the figures come from: spending, credit, holdings, sentiment
    strength: Callable[[Columns], np.ndarray]
    describe: Callable[[Columns, int], str]


def _debt_strength(c: Columns) -> np.ndarray:
    by_dti = _clip01((c.dti_before - DEBT_DTI_FROM) / DEBT_DTI_SPAN)
    by_utilisation = _clip01((c.utilisation - DEBT_UTILISATION_FROM) / DEBT_UTILISATION_SPAN)
    return (c.consolidatable_balance >= CONSOLIDATION_MIN_BALANCE) * np.maximum(by_dti, by_utilisation)


def _card_apr(c: Columns, i: int) -> float:
    return 1200.0 * c.card_interest_monthly[i] / c.revolving_balance[i] if c.revolving_balance[i] > 0 else 0.0


NEED_SIGNALS: tuple[NeedSignal, ...] = (
    NeedSignal(
        "travel_spend",
        ("travel", "foreign_spending"),
        0.8,
        "spending",
        lambda c: _clip01(c.travel_share / TRAVEL_SHARE_FULL),
        lambda c, i: (
            f"Travel spending averages {eur(c.travel_spend[i])} a month ({pct(c.travel_share[i])} of spending)"
        ),
    ),
    NeedSignal(
        "travel_segment",
        ("travel", "foreign_spending"),
        0.6,
        "spending",
        lambda c: c.frame["segment"].str.lower().str.contains("travel", regex=False).to_numpy(float),
        lambda c, i: f"Spending segment: {c.text('segment', i)}",
    ),
    NeedSignal(
        "everyday_spend",
        ("cashback",),
        0.6,
        "spending",
        lambda c: _clip01(c.everyday_spend / EVERYDAY_SPEND_FULL),
        lambda c, i: f"Groceries, dining and fuel average {eur(c.everyday_spend[i])} a month",
    ),
    NeedSignal(
        "subscriptions",
        ("everyday_spending",),
        0.4,
        "spending",
        lambda c: _clip01(c.subscriptions_count / SUBSCRIPTIONS_FULL),
        lambda c, i: f"{c.subscriptions_count[i]:.0f} subscriptions cost {eur(c.subscriptions_cost[i])} a month",
    ),
    NeedSignal(
        "transferable_balance",
        ("balance_transfer",),
        0.9,
        "holdings",
        lambda c: (c.transferable_balance > 0) * _clip01(c.transferable_interest_monthly / TRANSFER_INTEREST_FULL),
        lambda c, i: (
            f"{eur(c.transferable_balance[i])} on other lenders' cards costs about "
            f"{eur(c.transferable_interest_monthly[i])} a month in interest"
        ),
    ),
    # Card interest is a need for products that replace card debt; "lower_interest" on its
    # own (a loan or mortgage) is taken only from what the customer states.
    NeedSignal(
        "card_interest",
        ("balance_transfer", "debt_consolidation"),
        0.7,
        "holdings",
        lambda c: _clip01(c.card_interest_monthly / CARD_INTEREST_FULL),
        lambda c, i: (
            f"Card balances of {eur(c.revolving_balance[i])} cost about "
            f"{eur(c.card_interest_monthly[i])} a month in interest at {_card_apr(c, i):.1f}% APR"
        ),
    ),
    NeedSignal(
        "debt_load",
        ("debt_consolidation",),
        0.8,
        "credit",
        _debt_strength,
        lambda c, i: (
            f"Card and loan balances of {eur(c.consolidatable_balance[i])}; repayments take "
            f"{pct(c.dti_before[i])} of income and card utilisation is "
            f"{pct(np.nan_to_num(c.utilisation[i]))}"
        ),
    ),
    NeedSignal(
        "cash_buffer",
        ("emergency_fund",),
        0.8,
        "holdings",
        lambda c: _clip01(1.0 - c.cash_months / policy.EMERGENCY_FUND_MONTHS),
        lambda c, i: (
            f"Cash savings of {eur(c.cash_savings[i])} cover {c.cash_months[i]:.1f} months of "
            f"essential spending ({policy.EMERGENCY_FUND_MONTHS:.0f} recommended)"
        ),
    ),
    NeedSignal(
        "savings_capacity",
        ("saving_goal",),
        0.6,
        "spending",
        lambda c: _clip01(c.savings_capacity / SAVINGS_CAPACITY_FULL),
        lambda c, i: f"The budget plan frees {eur(c.savings_capacity[i])} a month to save",
    ),
    NeedSignal(
        "surplus_cash",
        ("long_term_saving",),
        0.5,
        "holdings",
        lambda c: _clip01((c.cash_months - LONG_TERM_CASH_MONTHS) / LONG_TERM_CASH_MONTHS),
        lambda c, i: (
            f"Cash savings of {eur(c.cash_savings[i])} exceed {LONG_TERM_CASH_MONTHS:.0f} months "
            f"of essential spending"
        ),
    ),
    NeedSignal(
        "taxable_cash",
        ("tax_efficient_saving",),
        0.5,
        "holdings",
        lambda c: _clip01((c.cash_savings - TAXABLE_CASH_FROM) / TAXABLE_CASH_FROM),
        lambda c, i: f"{eur(c.cash_savings[i])} in cash savings earns taxable interest",
    ),
    NeedSignal(
        "thin_credit_file",
        ("credit_building",),
        0.6,
        "credit",
        lambda c: ((c.revolving_limit == 0) & (c.rank >= 2)).astype(float),
        lambda c, i: f"No credit card held and risk band {c.band(i)}: on-time card payments build a record",
    ),
    NeedSignal(
        "bank_fees",
        ("fee_reduction",),
        0.7,
        "spending",
        lambda c: _clip01(c.fees_spend / BANK_FEES_FULL),
        lambda c, i: f"Bank charges average {eur(c.fees_spend[i])} a month",
    ),
    NeedSignal(
        "high_spend_travel",
        ("premium_benefits",),
        0.5,
        "spending",
        lambda c: _clip01(c.monthly_spend / PREMIUM_SPEND_FULL) * (c.travel_share >= PREMIUM_TRAVEL_SHARE),
        lambda c, i: f"Spending of {eur(c.monthly_spend[i])} a month with regular travel",
    ),
    NeedSignal(
        "hardship",
        ("hardship_support",),
        1.0,
        "sentiment",
        lambda c: c.hardship.astype(float),
        lambda c, i: (
            "Signs of financial difficulty: "
            + "; ".join(policy.describe_vulnerability(c.vulnerability, i, c.text("vulnerability_notes", i)))
        ),
    ),
)
NEED_LABELS = {
    "balance_transfer": "a balance transfer",
    "debt_consolidation": "consolidating debts",
    "lower_interest": "paying less interest",
    "credit_building": "building a credit record",
    "everyday_spending": "a card for everyday spending",
    "cashback": "cashback",
    "travel": "travel",
    "foreign_spending": "spending abroad",
    "premium_benefits": "premium benefits",
    "car_purchase": "buying a car",
    "home_purchase": "buying a home",
    "remortgage": "remortgaging",
    "emergency_fund": "an emergency fund",
    "saving_goal": "a savings goal",
    "long_term_saving": "long-term saving",
    "tax_efficient_saving": "tax-free saving",
    "investing_cautious": "cautious investing",
    "investing_balanced": "balanced investing",
    "investing_growth": "growth investing",
    "hardship_support": "help with repayments",
    "fee_reduction": "lower bank charges",
}


@dataclass
class NeedStrengths:
    """A product's needs: stated and combined strength per need, and the weighted signals
    (weight x strength) that feed any of them."""

    stated: dict[str, np.ndarray]
    combined: dict[str, np.ndarray]
    signals: list[tuple[NeedSignal, np.ndarray]]


def need_strengths(c: Columns, needs: tuple[str, ...]) -> NeedStrengths:
    return NeedStrengths(
        stated={need: c.need(need)[0] for need in needs},
        combined={need: c.need(need)[1] for need in needs},
        signals=[(s, c.weighted_signals[s.name]) for s in NEED_SIGNALS if set(s.needs) & set(needs)],
    )


# --- catalogue conditions ----------------------------------------------------------------------
@dataclass(frozen=True)
class Conditions:
    """What the matcher reads from a product's ``eligibility.other`` sentences."""

    late_30_window_months: int | None = None
    carries_balance_excluded: bool = False
    deposit_from_savings: bool = False
    no_default: bool = False
    emergency_fund_months: float | None = None
    max_revolving_apr: float | None = None
    reserve_outside: bool = False
    min_paid_in: float | None = None
    needs_credit_account: bool = False
    monthly_deposits: bool = False
    monthly_alternative: float | None = None
    max_loan_to_income: float | None = None
    to_confirm: tuple[str, ...] = ()


def _number(text: str) -> float:
    return float(text.replace(",", ""))


# Sentences the rules below evaluate (directly or through a policy rule they restate).
CONDITION_PATTERNS: tuple[tuple[re.Pattern, Callable[[re.Match], dict]], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), build)
    for pattern, build in (
        (
            r"no (?:mortgage )?payment 30 or more days late in the last (\d+) months",
            lambda m: {"late_30_window_months": int(m.group(1))},
        ),
        (
            r"not suitable for customers who regularly carry a balance",
            lambda m: {"carries_balance_excluded": True},
        ),
        (r"fund the security deposit from own savings", lambda m: {"deposit_from_savings": True}),
        (r"no active default or arrangement to pay", lambda m: {"no_default": True}),
        (
            r"emergency fund of at least (\d+) months of essential spending",
            lambda m: {"emergency_fund_months": float(m.group(1))},
        ),
        (
            r"no revolving credit card balance above (\d+(?:\.\d+)?)% APR",
            lambda m: {"max_revolving_apr": float(m.group(1))},
        ),
        (r"keep an accessible emergency fund outside", lambda m: {"reserve_outside": True}),
        (r"at least EUR ([\d,]+) paid in each month", lambda m: {"min_paid_in": _number(m.group(1))}),
        (r"holds at least one Northbridge credit account", lambda m: {"needs_credit_account": True}),
        (r"deposit limits are per month", lambda m: {"monthly_deposits": True}),
        (r"monthly investing from EUR ([\d,]+) a month", lambda m: {"monthly_alternative": _number(m.group(1))}),
        (r"maximum loan-to-income (\d+(?:\.\d+)?) times", lambda m: {"max_loan_to_income": float(m.group(1))}),
        # Restatements of rules applied to every product of the kind:
        (r"annual fee|justify the EUR", lambda m: {}),  # POL-SUITABILITY §4.3 fee value
        (r"balances can only be transferred from cards issued by other lenders", lambda m: {}),
        (r"new monthly repayment must be lower than the total monthly repayments", lambda m: {}),
        (r"band D customers are assessed against the 0\.35", lambda m: {}),
        (r"total unsecured debt after the loan must not exceed", lambda m: {}),
        (r"affordability stressed at the current rate plus 3", lambda m: {}),
        (r"credit limit set by affordability assessment", lambda m: {}),
        (r"offered only through the hardship rules", lambda m: {}),
        (r"one (?:account|tax-free savings subscription) per customer", lambda m: {}),
    )
)


def product_conditions(product: Product) -> Conditions:
    return _parse_conditions(product.eligibility.other)


@lru_cache(maxsize=256)
def _parse_conditions(sentences: tuple[str, ...]) -> Conditions:
    values: dict = {}
    to_confirm = []
    for sentence in sentences:
        matched = False
        for pattern, build in CONDITION_PATTERNS:
            found = pattern.search(sentence)
            if found:
                values.update(build(found))
                matched = True
                break
        if not matched:
            to_confirm.append(sentence)
    return Conditions(**values, to_confirm=tuple(to_confirm))


def is_replacement(product: Product) -> bool:
    """Balance transfer cards and consolidation loans replace existing debt (POL-AFFORD §3.3, §5.3)."""
    return bool({"balance_transfer", "debt_consolidation"} & set(product.needs)) and product.grants_credit


def is_variable_rate(product: Product) -> bool:
    """Variable-rate or tracker credit (POL-AFFORD §3.4); fixed and five-year fixed are not stressed."""
    example = product.representative_example.lower()
    return (
        product.grants_credit
        and "variable" in example
        and "fixed rate" not in example
        and "fixed annual" not in example
    )


def annual_fee(product: Product) -> float:
    fees = product.fees
    yearly = fees.get("annual_fee", 0)
    monthly = fees.get("monthly_fee", 0)
    return float(yearly if isinstance(yearly, (int, float)) else 0) + 12.0 * float(
        monthly if isinstance(monthly, (int, float)) else 0
    )


def _fee_pct(product: Product, key: str, default: float) -> float:
    value = product.fees.get(key, default)
    return float(value) if isinstance(value, (int, float)) else default


def is_unsecured_credit(product: Product) -> bool:
    """POL-AFFORD §4.1 covers card limits, overdraft limits and unsecured loans (not car loans or mortgages)."""
    return product.grants_credit and product.type in ("credit_card", "personal_loan", "checking")


# --- evaluation ---------------------------------------------------------------------------------
@dataclass
class Check:
    label: str  # e.g. "eligibility.min_income"
    rule_id: str  # key of tools.compliance.rules.POLICY_RULES
    passed: np.ndarray
    detail: Describe

    @property
    def citation(self) -> str:
        return policy.cite(self.rule_id)


class Checks(list[Check]):
    def add(self, label: str, rule_id: str, passed: np.ndarray, detail: Describe) -> None:
        self.append(Check(label, rule_id, np.asarray(passed, dtype=bool), detail))


@dataclass
class Payments:
    """POL-AFFORD §3.3 estimate of a new credit product, and the debt-to-income it leads to."""

    apr: np.ndarray
    amount: np.ndarray
    term: float | None
    payment: np.ndarray  # the new product's monthly payment
    added: np.ndarray  # what it adds to the customer's debt payments (less for replacements)
    stressed_added: np.ndarray
    replaced: np.ndarray  # payments of the debts a consolidation repays
    cap: np.ndarray
    dti_after: np.ndarray
    stressed_dti: np.ndarray


@dataclass
class ProductEvaluation:
    product: Product
    checks: list[Check]
    eligible: np.ndarray
    fit: np.ndarray
    needs: NeedStrengths
    apr: np.ndarray
    amount: np.ndarray
    term: float | None
    payment: np.ndarray
    added_payment: np.ndarray
    dti_after: np.ndarray
    stressed_dti: np.ndarray
    cap: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    to_confirm: tuple[str, ...] = ()
    representative_apr: float | None = None

    @property
    def is_credit(self) -> bool:
        return self.product.grants_credit


def payments(c: Columns, p: Product) -> Payments:
    """New payment, payment added to the debts and stressed payment (POL-AFFORD §3.3, §3.4)."""
    n = c.n
    apr = policy.band_apr(p, c.rank)
    amount = np.full(n, float(p.amount_min or 0.0))
    term: float | None = None
    replaced = np.zeros(n)
    if not p.grants_credit:
        payment = np.full(n, np.nan)
        added = stressed_added = np.zeros(n)
    elif p.type in ("credit_card", "checking"):
        # 3% of the limit; the stressed payment is the same, as the payment does not follow the rate.
        if is_replacement(p):
            fee = _fee_pct(p, "balance_transfer_fee_pct", 0.0) / 100.0
            transferred = np.minimum(c.transferable_balance, float(p.amount_max or np.inf))
            amount = np.maximum(transferred * (1.0 + fee), amount)
            replaced = policy.CARD_PAYMENT_SHARE * transferred
        payment = policy.CARD_PAYMENT_SHARE * amount
        added = stressed_added = payment - replaced
    else:
        default_term = (policy.DEFAULT_MORTGAGE_TERM_MONTHS if p.type == "mortgage"
                        else policy.DEFAULT_LOAN_TERM_MONTHS)
        term = max(float(min(default_term, p.term_months_max or default_term)), float(p.term_months_min or 1))
        if is_replacement(p):
            debts = c.consolidatable_balance
            amount = np.clip(debts, float(p.amount_min or 0.0), float(p.amount_max or np.inf))
            repaid_share = np.where(debts > 0, np.minimum(amount / np.where(debts > 0, debts, 1.0), 1.0), 0.0)
            replaced = c.consolidatable_payment * repaid_share
        payment = policy.annuity_payment(amount, apr, term)
        stress = policy.STRESS_POINTS if is_variable_rate(p) else 0.0
        stressed = policy.annuity_payment(amount, apr + stress, term) if stress else payment
        added, stressed_added = payment - replaced, stressed - replaced
    cap = policy.dti_cap(c.rank, p.eligibility.max_dti) if p.grants_credit else np.full(n, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        dti_after = (c.monthly_debt_payments + added) / c.income_m
        stressed_dti = (c.monthly_debt_payments + stressed_added) / c.income_m
    return Payments(apr=apr, amount=amount, term=term, payment=payment, added=added, stressed_added=stressed_added,
                    replaced=replaced, cap=cap, dti_after=dti_after, stressed_dti=stressed_dti)


def _signals_text(c: Columns, i: int) -> str:
    return "; ".join(policy.describe_vulnerability(c.vulnerability, i, c.text("vulnerability_notes", i)))


def _gate_checks(c: Columns, p: Product, checks: Checks) -> None:
    """Vulnerability, consent, complaints, holdings, age, income, tenure, band and utilisation."""
    rules = p.eligibility
    if p.is_hardship_support:  # a service, not a promotion: no consent or complaint gate
        checks.add("vulnerability.hardship_support", "vulnerability.hardship_support", c.hardship,
                   lambda i: "signs of financial difficulty: " + _signals_text(c, i) if c.hardship[i]
                   else "no vulnerability or financial difficulty signal")
    else:
        checks.add("vulnerability.restriction", "vulnerability.restriction", ~c.hardship,
                   lambda i: "no vulnerability signal" if not c.hardship[i]
                   else "restricted while signals are present: " + _signals_text(c, i))
    if rules.requires_marketing_consent:
        checks.add("consent.marketing", "consent.marketing", c.consent_marketing,
                   lambda i: "marketing consent on record" if c.consent_marketing[i]
                   else "no marketing consent on record")
        checks.add("complaints.no_sales", "complaints.no_sales", c.open_complaints == 0,
                   lambda i: "no open complaint" if c.open_complaints[i] == 0
                   else f"{c.open_complaints[i]:.0f} complaint(s) open: no promotion")
    held = c.frame["held"].str.contains(f"|{p.code}|", regex=False).to_numpy()
    checks.add("eligibility.already_held", "eligibility.already_held", ~held,
               lambda i: "already held" if held[i] else "not held")
    checks.add("eligibility.min_age", "eligibility.min_age", c.age >= rules.min_age,
               lambda i: f"legal minimum age {rules.min_age} met" if c.age[i] >= rules.min_age
               else f"legal minimum age {rules.min_age} not confirmed")
    if rules.min_income > 0:
        checks.add("eligibility.min_income", "eligibility.min_income", c.annual_income >= rules.min_income,
                   lambda i: f"recorded income {eur(c.annual_income[i])} a year against a minimum of "
                             f"{eur(rules.min_income)}")
    if rules.min_tenure_months > 0:
        long_enough = c.tenure_months >= rules.min_tenure_months
        checks.add("eligibility.min_tenure", "eligibility.product_rules", long_enough,
                   lambda i: f"{c.tenure_months[i]:.0f} months with the bank against a minimum of "
                             f"{rules.min_tenure_months}")
    if rules.max_risk_band != RISK_BANDS[-1] or p.grants_credit:
        ceiling = RISK_BANDS.index(rules.max_risk_band)
        checks.add("eligibility.band_ceiling", "eligibility.band_ceiling", c.rank <= ceiling,
                   lambda i: f"risk band {c.band(i)} against a ceiling of {rules.max_risk_band}")
    limit = rules.max_existing_utilisation
    if is_unsecured_credit(p) and not is_replacement(p):
        limit = min(limit or 1.0, policy.HIGH_UTILISATION)
    if limit is not None:
        checks.add("eligibility.existing_utilisation", "eligibility.existing_utilisation",
                   np.isnan(c.utilisation) | (c.utilisation <= limit),
                   lambda i: "no revolving credit in use" if np.isnan(c.utilisation[i])
                   else f"utilisation {pct(c.utilisation[i])} against a maximum of {pct(limit)}")


def _catalogue_checks(c: Columns, p: Product, cond: Conditions, checks: Checks) -> None:
    """The sentences of ``eligibility.other`` that ``CONDITION_PATTERNS`` recognised."""
    if cond.late_30_window_months is not None:
        months = cond.late_30_window_months
        counts = c.late_30_plus_6m if months <= 6 else c.late_30_plus_12m
        note = "" if months <= 12 else " (repayment history covers 12 months)"
        checks.add(f"eligibility.late_payments_{months}m", "eligibility.product_rules", counts == 0,
                   lambda i: "payment history not assessed" if np.isnan(counts[i])
                   else f"{counts[i]:.0f} payment(s) 30+ days late in the last {min(months, 12)} months{note}")
    if cond.carries_balance_excluded:
        carries = c.utilisation >= CARRIES_BALANCE_UTILISATION
        checks.add("eligibility.carries_balance", "eligibility.product_rules", ~carries,
                   lambda i: f"card utilisation {pct(c.utilisation[i])}: a balance is carried, so interest would "
                             "outweigh cashback" if carries[i] else "no regularly carried card balance")
    if cond.deposit_from_savings:
        deposit = float(p.amount_min or 0.0)
        checks.add("eligibility.deposit_from_savings", "eligibility.product_rules", c.cash_savings >= deposit,
                   lambda i: "cash savings not known" if np.isnan(c.cash_savings[i])
                   else f"cash savings {eur(c.cash_savings[i])} against the {eur(deposit)} minimum deposit")
    if cond.no_default:
        no_default = c.worst_days_late < DEFAULT_THRESHOLD_DAYS
        checks.add("eligibility.no_default", "eligibility.product_rules", no_default,
                   lambda i: f"worst arrears {c.worst_days_late[i]:.0f} days (in default at "
                             f"{DEFAULT_THRESHOLD_DAYS})")
    if cond.min_paid_in is not None:
        paid_in = cond.min_paid_in
        checks.add("eligibility.income_paid_in", "eligibility.product_rules", c.income_paid_in >= paid_in,
                   lambda i: f"{eur(np.nan_to_num(c.income_paid_in[i]))} paid in a month against {eur(paid_in)} "
                             "required")
    if cond.needs_credit_account:
        checks.add("eligibility.credit_account_held", "vulnerability.hardship_support", c.has_credit_account,
                   lambda i: "holds a Northbridge credit account" if c.has_credit_account[i]
                   else "no Northbridge credit account to put in a plan")


def _credit_checks(c: Columns, p: Product, cond: Conditions, pay: Payments, checks: Checks) -> None:
    """POL-AFFORD: assessment, band E, DTI cap, stress, unsecured limit, loan-to-income."""
    assessed = ~np.isnan(c.monthly_debt_payments) & ~np.isnan(c.rank) & (c.income_m > 0)
    checks.add("affordability.credit_assessment", "affordability.credit_assessment", assessed,
               lambda i: f"monthly debt payments {eur(c.monthly_debt_payments[i])}, income {eur(c.income_m[i])} "
                         f"a month, DTI {c.dti_before[i]:.2f}" if assessed[i]
               else "no credit assessment (risk band and debt payments) available")
    checks.add("affordability.no_credit_band_e", "affordability.no_credit_band_e", c.rank < 4,
               lambda i: f"risk band {c.band(i)}")
    replacement = is_replacement(p)
    within = pay.dti_after <= pay.cap
    # A replacement that does not raise the payments may be offered above the cap (§3.2, §5.3);
    # other credit needs the customer under the cap before the new payment too.
    within = within | (assessed & (pay.added <= 0)) if replacement else within & (c.dti_before <= pay.cap)
    checks.add("affordability.dti_cap", "affordability.dti_cap", within,
               lambda i: f"DTI {c.dti_before[i]:.2f} now, {pay.dti_after[i]:.2f} with an estimated "
                         f"{eur(pay.payment[i])} a month, cap {pay.cap[i]:.2f}" if not np.isnan(pay.cap[i])
               else f"no new credit for risk band {c.band(i)}")
    if is_variable_rate(p):
        checks.add("affordability.stress", "affordability.stress",
                   (pay.stressed_dti <= pay.cap) | (replacement & assessed & (pay.stressed_added <= 0)),
                   lambda i: f"DTI {pay.stressed_dti[i]:.2f} at the band rate plus {policy.STRESS_POINTS:.0f} "
                             f"points, cap {np.nan_to_num(pay.cap[i]):.2f}")
    if is_unsecured_credit(p) and not replacement:
        exposure = c.revolving_limit + c.unsecured_loan_balance + pay.amount
        ceiling = policy.UNSECURED_INCOME_SHARE * c.annual_income
        checks.add("affordability.unsecured_limit", "affordability.unsecured_limit", exposure <= ceiling,
                   lambda i: f"unsecured credit {eur(np.nan_to_num(exposure[i]))} after the offer against "
                             f"{eur(ceiling[i])} ({pct(policy.UNSECURED_INCOME_SHARE)} of income)")
    if p.type == "mortgage":
        lti = cond.max_loan_to_income or policy.MAX_LOAN_TO_INCOME
        within_lti = pay.amount <= lti * c.annual_income
        checks.add("affordability.loan_to_income", "affordability.loan_to_income", within_lti,
                   lambda i: f"{eur(pay.amount[i])} is {pay.amount[i] / max(c.annual_income[i], 1):.1f} times "
                             f"income (maximum {lti:g})")


def _replacement_check(c: Columns, p: Product, pay: Payments, checks: Checks) -> dict[str, np.ndarray]:
    """POL-AFFORD §5.3 for balance transfers (total cost) and consolidation (monthly payment);
    returns the monthly saving for the reasons."""
    if p.type == "credit_card":
        intro = _fee_pct(p, "intro_period_months", 0.0)
        fee = _fee_pct(p, "balance_transfer_fee_pct", 0.0) / 100.0
        transferred = np.minimum(c.transferable_balance, float(p.amount_max or np.inf))
        interest_saved = c.transferable_interest_monthly * _ratio(transferred, c.transferable_balance) * intro
        fee_cost = fee * transferred
        checks.add("affordability.replacement", "affordability.replacement",
                   (transferred > 0) & (interest_saved > fee_cost),
                   lambda i: f"{eur(transferred[i])} transferable from other lenders' cards: {intro:.0f} "
                             f"months at 0% save about {eur(interest_saved[i])} in interest against a "
                             f"{eur(fee_cost[i])} fee"
                   if transferred[i] > 0 else "no card balance with another lender to transfer")
        saving = (interest_saved - fee_cost) / max(intro, 1.0)
        return {"monthly_saving": saving, "intro_months": np.full(c.n, intro)}
    checks.add("affordability.replacement", "affordability.replacement",
               (c.consolidatable_balance >= float(p.amount_min or 0.0)) & (pay.payment < pay.replaced),
               lambda i: f"new payment {eur(pay.payment[i])} a month replaces {eur(pay.replaced[i])} a month on "
                         f"{eur(c.consolidatable_balance[i])} of card and loan balances")
    return {"monthly_saving": pay.replaced - pay.payment}


def _investment_checks(c: Columns, p: Product, cond: Conditions, checks: Checks) -> None:
    """POL-SUITABILITY §5.1 risk level by band and §5.2 preconditions."""
    level_cap = policy.max_investment_level(c.rank)
    checks.add("suitability.investment_risk_level", "suitability.investment_risk_level", p.risk_level <= level_cap,
               lambda i: "risk band not assessed" if np.isnan(level_cap[i])
               else f"risk level {p.risk_level} against a maximum of {level_cap[i]:.0f} for band {c.band(i)}")
    months = cond.emergency_fund_months or policy.EMERGENCY_FUND_MONTHS
    max_apr = cond.max_revolving_apr or policy.MAX_REVOLVING_APR_BEFORE_INVESTING
    checks.add("suitability.emergency_fund", "suitability.investment_preconditions", c.cash_months >= months,
               lambda i: "cash savings or essential spending not known" if np.isnan(c.cash_months[i])
               else f"cash savings cover {c.cash_months[i]:.1f} months of essential spending; {months:g} required "
                    "first")
    no_dear_debt = np.isnan(c.revolving_apr_max) | (c.revolving_apr_max <= max_apr)
    checks.add("suitability.no_expensive_revolving_debt", "suitability.investment_preconditions", no_dear_debt,
               lambda i: f"no card balance above {max_apr:g}% APR" if no_dear_debt[i]
               else f"card balance at {c.revolving_apr_max[i]:.1f}% APR: repay it before investing")
    spare = c.cash_savings - months * c.essential_spend
    funds = spare >= float(p.amount_min or 0.0)
    if cond.monthly_alternative is not None:
        funds = funds | (c.savings_capacity >= cond.monthly_alternative)
    checks.add("suitability.funds_available", "suitability.investment_preconditions", funds,
               lambda i: f"cash beyond the emergency fund: {eur(np.nan_to_num(spare[i]))} against a minimum of "
                         f"{eur(p.amount_min or 0)}")


def _savings_checks(c: Columns, p: Product, cond: Conditions, checks: Checks) -> None:
    """Money to open the account: a monthly deposit, or a lump sum beyond an emergency fund."""
    minimum = float(p.amount_min or 0.0)
    if cond.monthly_deposits:
        checks.add("suitability.funds_available", "suitability.need_match", c.savings_capacity >= minimum,
                   lambda i: f"{eur(np.nan_to_num(c.savings_capacity[i]))} a month to save against the "
                             f"{eur(minimum)} minimum monthly deposit")
    elif minimum > 1:
        reserve = policy.EMERGENCY_FUND_MONTHS * c.essential_spend if cond.reserve_outside else 0.0
        spare = c.cash_savings - reserve
        rule_id = "suitability.investment_preconditions" if cond.reserve_outside else "suitability.need_match"
        checks.add("suitability.funds_available", rule_id, spare >= minimum,
                   lambda i: f"{eur(np.nan_to_num(spare[i]))} of cash beyond an emergency fund against the "
                             f"{eur(minimum)} minimum deposit")


def _fee_value_check(c: Columns, p: Product, fee: float, checks: Checks) -> np.ndarray:
    """POL-SUITABILITY §4.3: foreign-fee savings and rewards a year against the product's fee."""
    travel_rate, other_rate = REWARD_RATES.get(p.code, (0.0, 0.0))
    own_fx = _fee_pct(p, "foreign_transaction_pct", policy.STANDARD_CARD_FX_FEE_PCT)
    fx_saving = max(policy.STANDARD_CARD_FX_FEE_PCT - own_fx, 0.0)
    benefit = 12.0 * (np.nan_to_num(c.travel_spend) * (fx_saving + travel_rate)
                      + np.nan_to_num(c.everyday_spend) * other_rate) / 100.0
    checks.add("suitability.fee_value", "suitability.fee_value", benefit >= fee,
               lambda i: f"estimated benefits {eur(benefit[i])} a year against a {eur(fee)} fee")
    return benefit


def evaluate_product(c: Columns, p: Product) -> ProductEvaluation:
    """Every rule of one product over every row of ``c``."""
    cond = product_conditions(p)
    checks = Checks()
    extras: dict[str, np.ndarray] = {}
    needs = need_strengths(c, p.needs)
    fit = np.max(np.vstack([needs.combined[need] for need in p.needs]), axis=0)
    pay = payments(c, p)
    _gate_checks(c, p, checks)
    _catalogue_checks(c, p, cond, checks)
    if p.grants_credit:
        _credit_checks(c, p, cond, pay, checks)
        if is_replacement(p):
            extras.update(_replacement_check(c, p, pay, checks))
    if p.type == "investment" and p.risk_level is not None:
        _investment_checks(c, p, cond, checks)
    if p.type == "savings":
        _savings_checks(c, p, cond, checks)
    fee = annual_fee(p)
    if fee > 0:
        extras["annual_benefit"] = _fee_value_check(c, p, fee, checks)
    checks.add("suitability.need_match", "suitability.need_match", fit > 0,
               lambda i: "needs: " + ", ".join(NEED_LABELS[n] for n in p.needs if needs.combined[n][i] > 0)
               if fit[i] > 0 else "no identified need this product answers")
    return ProductEvaluation(
        product=p, checks=list(checks), eligible=np.logical_and.reduce([ch.passed for ch in checks]), fit=fit,
        needs=needs, apr=pay.apr, amount=np.asarray(pay.amount, dtype=float), term=pay.term,
        payment=np.asarray(pay.payment, dtype=float), added_payment=np.asarray(pay.added, dtype=float),
        dti_after=pay.dti_after, stressed_dti=pay.stressed_dti, cap=pay.cap, extras=extras,
        to_confirm=cond.to_confirm, representative_apr=policy.representative_apr(p),
    )


def evaluate_products(frame: pd.DataFrame, kb: KnowledgeBase) -> tuple[Columns, list[ProductEvaluation]]:
    """Every rule of every catalogue product over every row of a normalised feature frame."""
    columns = Columns(frame)
    return columns, [evaluate_product(columns, product) for product in kb.products]
