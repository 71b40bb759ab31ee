"""Next-best offers: eligible, affordable, suitable products ranked by fit.

``match_products`` (one customer, typed findings in, ``ProductsFinding`` out) and
``match_products_book`` (a whole book of feature rows, a DataFrame out) run the same
rule code (``tools.products.rules``) and the same selection (``select_offers``): a
customer's offers are identical on both paths.

Selection: eligible products (every check passed, a need matched) by score, ties by
product code; at most one new credit product (POL-MARKETING §5.2) and one product per
type, so three offers are three different kinds of help.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import numpy as np
import pandas as pd

from bank.knowledge import KnowledgeBase
from tools.compliance import rules as policy
from tools.findings import (
    CreditFinding,
    CustomerProfile,
    EligibilityCheck,
    ProductsFinding,
    Recommendation,
    SentimentFinding,
    SpendingFinding,
)
from tools.products.features import Holdings, features_from_findings, intent_needs, normalise_features
from tools.products.feedback import FeedbackAdjustments
from tools.products.rules import (
    NEED_LABELS,
    Columns,
    ProductEvaluation,
    annual_fee,
    eur,
    evaluate_products,
    pct,
)

DEFAULT_TOP_K = 3
MAX_CREDIT_OFFERS = 1  # POL-MARKETING §5.2: at most one new credit product per answer
MAX_PER_TYPE = 1  # variety: three offers of one type (three savings bonds) help no one
MAX_REASONS = 5
MIN_NEED_REASONS = 2
BOOK_COLUMNS = (
    "customer_id",
    "rank",
    "product_code",
    "score",
    "apr",
    "estimated_monthly_payment",
    "dti_after",
    "reasons",
)


# --- scoring and selection ------------------------------------------------------------------
def _scores(columns: Columns, evaluation: ProductEvaluation, feedback: FeedbackAdjustments | None) -> np.ndarray:
    score = np.where(evaluation.eligible, evaluation.fit, 0.0)
    if feedback is not None:
        factors = feedback.factors(evaluation.product.code, columns.frame["segment"], columns.frame["risk_band"])
        score = np.where(evaluation.eligible, score * factors, 0.0)
    return score


def select_offers(
    columns: Columns, evaluations: list[ProductEvaluation], feedback: FeedbackAdjustments | None, top_k: int
) -> pd.DataFrame:
    """Top ``top_k`` eligible products per row: score descending, ties by product code, at most
    ``MAX_CREDIT_OFFERS`` credit products and ``MAX_PER_TYPE`` of each product type.
    Columns: row, product (index), code, score, credit, rank."""
    rows, products, scores = [], [], []
    for index, evaluation in enumerate(evaluations):
        eligible = np.flatnonzero(evaluation.eligible)
        rows.append(eligible)
        products.append(np.full(len(eligible), index))
        scores.append(_scores(columns, evaluation, feedback)[eligible])
    codes = np.array([e.product.code for e in evaluations] or [""], dtype=object)
    types = np.array([e.product.type for e in evaluations] or [""], dtype=object)
    credit = np.array([e.is_credit for e in evaluations] or [False])
    row = np.concatenate(rows) if rows else np.zeros(0, int)
    product = np.concatenate(products) if products else np.zeros(0, int)
    score = np.concatenate(scores) if scores else np.zeros(0)
    # Product indices follow the catalogue order; ranking ties must break by code.
    code_rank = np.argsort(np.argsort(codes, kind="stable"), kind="stable")
    order = np.lexsort((code_rank[product], -score, row))
    offers = pd.DataFrame(
        {
            "row": row[order],
            "product": product[order],
            "code": codes[product[order]],
            "score": score[order],
            "credit": credit[product[order]],
            "type": types[product[order]],
        }
    )
    credit_rank = offers.groupby("row")["credit"].cumsum()
    type_rank = offers.groupby(["row", "type"]).cumcount() + 1
    offers = offers[(~offers["credit"] | (credit_rank <= MAX_CREDIT_OFFERS)) & (type_rank <= MAX_PER_TYPE)]
    offers = offers.assign(rank=offers.groupby("row").cumcount() + 1)
    return offers[offers["rank"] <= top_k].reset_index(drop=True)


# --- reasons ------------------------------------------------------------------------------------
def _need_reasons(columns: Columns, evaluation: ProductEvaluation, i: int) -> list[tuple[float, str]]:
    best: dict[str, float] = {}
    for need, stated in evaluation.needs.stated.items():
        strength = float(stated[i])
        if strength >= 1.0:
            best[f"The customer asked about {NEED_LABELS[need]}"] = strength
        elif strength > 0:
            best[f"Recent interactions show interest in {NEED_LABELS[need]} (confidence {strength:.2f})"] = (
                strength
            )
    for signal, weighted in evaluation.needs.signals:
        strength = float(weighted[i])
        if strength > 0:
            text = signal.describe(columns, i)
            best[text] = max(strength, best.get(text, 0.0))
    return sorted(((w, t) for t, w in best.items()), key=lambda item: (-item[0], item[1]))


def _product_reasons(columns: Columns, evaluation: ProductEvaluation, i: int) -> list[str]:
    p = evaluation.product
    c = columns
    out: list[str] = []
    if p.grants_credit:
        band = c.band(i)
        apr = evaluation.apr[i]
        if p.apr_min == p.apr_max:
            price = f"Priced at {apr:.1f}% APR, the product's single published rate"
        else:
            rep = evaluation.representative_apr
            price = (
                f"Priced at {apr:.1f}% APR, the band {band} price in the published {p.apr_min:g}%-{p.apr_max:g}% "
                f"range (representative {rep:.1f}% APR)"
            )
        if "monthly_saving" in evaluation.extras and p.type == "credit_card":
            saving = evaluation.extras["monthly_saving"][i]
            months = evaluation.extras["intro_months"][i]
            rate = 1200.0 * c.transferable_interest_monthly[i] / max(c.transferable_balance[i], 1e-9)
            out.append(
                f"Card utilisation is {pct(np.nan_to_num(c.utilisation[i]))} at {rate:.1f}% APR; a 0% balance "
                f"transfer for {months:.0f} months would save about {eur(saving)} a month after the transfer fee"
            )
        elif "monthly_saving" in evaluation.extras:
            out.append(
                f"One payment of {eur(evaluation.payment[i])} a month would replace "
                f"{eur(evaluation.payment[i] + evaluation.extras['monthly_saving'][i])} a month of card and loan "
                f"repayments, about {eur(evaluation.extras['monthly_saving'][i])} a month less"
            )
        out.append(price)
        method = (
            f"3% of a {eur(evaluation.amount[i])} limit"
            if evaluation.term is None
            else f"{eur(evaluation.amount[i])} over {evaluation.term:.0f} months"
        )
        stressed = (
            f"; {evaluation.stressed_dti[i]:.2f} with the rate 3 points higher"
            if evaluation.stressed_dti[i] != evaluation.dti_after[i]
            else ""
        )
        out.append(
            f"Estimated payment {eur(evaluation.payment[i])} a month ({method}) puts debt-to-income at "
            f"{evaluation.dti_after[i]:.2f} against the {evaluation.cap[i]:.2f} cap for band {band}{stressed}"
        )
    elif p.type == "savings" and p.interest_rate is not None:
        out.append(f"Pays {p.interest_rate:.2f}% AER")
    elif p.type == "investment" and p.risk_level is not None:
        out.append(
            f"Risk level {p.risk_level} of 7, within the maximum for risk band {c.band(i)}; "
            "to be discussed in a regulated suitability conversation (capital at risk)"
        )
    elif p.is_hardship_support:
        out.append(
            "Reduced payments or a payment holiday for 1 to 12 months with interest and charges frozen; "
            "offered as support, not as a sale"
        )
    if "annual_benefit" in evaluation.extras:
        out.append(
            f"Estimated benefits of about {eur(evaluation.extras['annual_benefit'][i])} a year exceed the "
            f"{eur(annual_fee(p))} fee"
        )
    return out


def reasons_for(columns: Columns, evaluation: ProductEvaluation, i: int) -> list[str]:
    """Plain sentences with the figures that justify offering this product to row ``i``."""
    need_part = [text for _, text in _need_reasons(columns, evaluation, i)]
    product_part = _product_reasons(columns, evaluation, i)
    keep_needs = max(MIN_NEED_REASONS, MAX_REASONS - len(product_part))
    return [*need_part[:keep_needs], *product_part]


# --- the book path -----------------------------------------------------------------------------
def evaluate_book(
    profiles: pd.DataFrame, features: pd.DataFrame, kb: KnowledgeBase, as_of: date
) -> tuple[pd.DataFrame, Columns, list[ProductEvaluation]]:
    """The normalised feature frame of a book (profiles joined to features on customer_id) and
    every product's evaluation over it; the first step of ``match_products_book``."""
    from tools.products.features import PROFILE_COLUMNS, profiles_frame

    if "age" not in profiles and "birth_date" in profiles:
        profiles = profiles_frame(profiles, as_of)
    profile_part = profiles[[c for c in PROFILE_COLUMNS if c in profiles]]
    feature_part = features.drop(columns=[c for c in PROFILE_COLUMNS if c in features and c != "customer_id"])
    frame = normalise_features(profile_part.merge(feature_part, on="customer_id", how="inner"))
    columns, evaluations = evaluate_products(frame, kb)
    return frame, columns, evaluations


def match_products_book(
    profiles: pd.DataFrame,
    features: pd.DataFrame,
    kb: KnowledgeBase,
    as_of: date,
    top_k: int = DEFAULT_TOP_K,
    feedback: FeedbackAdjustments | None = None,
    with_reasons: bool = True,
) -> pd.DataFrame:
    """Offers for a whole book: one row per (customer, rank) with ``BOOK_COLUMNS``.

    ``profiles`` has the profile columns (``tools.products.features.PROFILE_COLUMNS``; a
    ``birth_date`` column instead of ``age`` is turned into the age on ``as_of``);
    ``features`` has ``FEATURE_COLUMNS`` per customer_id, e.g. rows of ``features_from_findings``.
    """
    frame, columns, evaluations = evaluate_book(profiles, features, kb, as_of)
    offers = select_offers(columns, evaluations, feedback, top_k)
    rows = offers["row"].to_numpy()
    products = offers["product"].to_numpy()
    apr = np.full(len(offers), np.nan)
    payment = np.full(len(offers), np.nan)
    dti = np.full(len(offers), np.nan)
    for index, evaluation in enumerate(evaluations):
        mine = products == index
        if evaluation.is_credit and mine.any():
            apr[mine] = evaluation.apr[rows[mine]]
            payment[mine] = evaluation.payment[rows[mine]]
            dti[mine] = evaluation.dti_after[rows[mine]]
    result = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].to_numpy()[rows],
            "rank": offers["rank"].to_numpy(),
            "product_code": offers["code"].to_numpy(),
            "score": offers["score"].to_numpy(float),
            "apr": apr,
            "estimated_monthly_payment": payment,
            "dti_after": dti,
        }
    )
    if with_reasons:
        result["reasons"] = [reasons_for(columns, evaluations[j], r) for r, j in zip(rows, products, strict=True)]
    return result


# --- the per-customer path ---------------------------------------------------------------------
def _checks(evaluation: ProductEvaluation, i: int) -> list[EligibilityCheck]:
    return [
        EligibilityCheck(
            rule=check.label, passed=bool(check.passed[i]), detail=check.detail(i), policy=check.citation
        )
        for check in evaluation.checks
    ]


def _evidence(
    evaluation: ProductEvaluation,
    columns: Columns,
    spending: SpendingFinding | None,
    credit: CreditFinding | None,
    sentiment: SentimentFinding | None,
    holdings: Holdings | None,
) -> list[str]:
    p = evaluation.product
    ids = [f"product:{p.code}"]
    ids += [policy.rule(check.rule_id).evidence_id for check in evaluation.checks]
    sources: set[str] = set()
    for signal, weighted in evaluation.needs.signals:
        if weighted[0] > 0:
            sources.add(signal.source)
    if p.grants_credit:
        sources.add("credit")
    if sentiment is not None:
        for intent in sentiment.intents:
            if any(
                need in p.needs and evaluation.needs.stated[need][0] > 0 for need in intent_needs(intent.intent)
            ):
                ids += intent.evidence
    if "spending" in sources and spending is not None:
        ids += spending.evidence[:5]
    if "credit" in sources and credit is not None:
        ids += credit.evidence[:5]
    if sources & {"holdings", "credit"} and holdings is not None:
        ids += holdings.evidence[:5]
    if "sentiment" in sources and sentiment is not None:
        ids += sentiment.evidence[:5]
    return list(dict.fromkeys(ids))


def price_tier(columns: Columns, evaluation: ProductEvaluation, i: int) -> str | None:
    """The price tier of a credit product for row ``i`` ("Band B: 9.9% APR"); None for others."""
    if not evaluation.product.grants_credit:
        return None
    return f"Band {columns.band(i)}: {float(evaluation.apr[i]):.1f}% APR"


def _recommendation(
    evaluation: ProductEvaluation, columns: Columns, score: float, evidence: list[str]
) -> Recommendation:
    p = evaluation.product
    credit = p.grants_credit
    apr = float(evaluation.apr[0]) if credit else None
    return Recommendation(
        product_code=p.code,
        name=p.name,
        product_type=p.type,
        score=float(score),
        apr=apr,
        price_tier=price_tier(columns, evaluation, 0),
        estimated_monthly_payment=round(float(evaluation.payment[0]), 2) if credit else None,
        dti_after=round(float(evaluation.dti_after[0]), 4) if credit else None,
        reasons=reasons_for(columns, evaluation, 0),
        evidence=evidence,
        checks=_checks(evaluation, 0),
        disclosures=list(p.disclosures),
        to_confirm=list(evaluation.to_confirm),
    )


def no_offer_reason(columns: Columns, i: int, hardship_offered: bool, has_offers: bool) -> str | None:
    """Why row ``i`` gets no offer, or only hardship support (None when it gets offers)."""
    if columns.hardship[i]:
        signals = "; ".join(
            policy.describe_vulnerability(columns.vulnerability, i, columns.text("vulnerability_notes", i))
        )
        if hardship_offered:
            return (
                f"Signs of financial difficulty ({signals}): no new product is promoted; only hardship support "
                f"is offered ({policy.cite('vulnerability.restriction')}, "
                f"{policy.cite('vulnerability.hardship_support')})"
            )
        return (
            f"Signs of financial difficulty ({signals}): no new product is promoted "
            f"({policy.cite('vulnerability.restriction')}); the customer holds no Northbridge credit account "
            "for a payment support plan, so refer them to Customer Support and free debt advice "
            "(POL-VULNERABLE §4.3)"
        )
    if has_offers:
        return None
    if columns.open_complaints[i] > 0:
        return (
            f"A complaint is open: no product may be promoted until 10 business days after the final response "
            f"({policy.cite('complaints.no_sales')})"
        )
    if not columns.consent_marketing[i]:
        return (
            f"No marketing consent on record: new products may not be offered "
            f"({policy.cite('consent.marketing')}; lawful basis {policy.cite('consent.lawful_basis')})"
        )
    if columns.rank[i] == 4:
        return (
            f"Risk band E: no new credit ({policy.cite('affordability.no_credit_band_e')}), and no savings or "
            f"account product matches an identified need ({policy.cite('suitability.need_match')})"
        )
    return (
        f"No product is both eligible and matched to an identified need ({policy.cite('suitability.need_match')})"
    )


def match_products(
    profile: CustomerProfile,
    spending: SpendingFinding | None,
    credit: CreditFinding | None,
    sentiment: SentimentFinding | None,
    kb: KnowledgeBase,
    as_of: date,
    feedback: FeedbackAdjustments | None = None,
    top_k: int = DEFAULT_TOP_K,
    held_product_codes: Iterable[str] | None = None,
    holdings: Holdings | None = None,
) -> ProductsFinding:
    """Rank the catalogue for one customer from the specialists' findings.

    Products in ``held_product_codes`` (or ``holdings.product_codes``) are never offered.
    ``holdings`` (``holdings_from_accounts``) adds cash savings, card APRs and balances with
    other lenders; without it, card balances come from the credit finding and cash savings
    are unknown, so products that need them (investments, fixed bonds, balance transfers)
    are not offered. ``as_of`` dates the findings: intents older than 180 days before it no
    longer count as needs.
    """
    codes = frozenset(held_product_codes or ()) | (holdings.product_codes if holdings else frozenset())
    holdings = (holdings or Holdings()).model_copy(update={"product_codes": codes})
    row = features_from_findings(profile, spending, credit, sentiment, holdings, as_of=as_of)
    frame = normalise_features(pd.DataFrame([row]))
    columns, evaluations = evaluate_products(frame, kb)
    offers = select_offers(columns, evaluations, feedback, top_k)
    recommendations = [
        _recommendation(
            evaluations[j],
            columns,
            score,
            _evidence(evaluations[j], columns, spending, credit, sentiment, holdings),
        )
        for j, score in zip(offers["product"], offers["score"], strict=True)
    ]
    excluded = {
        e.product.code: [check.label for check in e.checks if not check.passed[0]]
        for e in evaluations
        if not e.eligible[0]
    }
    hardship_offered = any(evaluations[j].product.is_hardship_support for j in offers["product"])
    evidence = list(dict.fromkeys(e for r in recommendations for e in r.evidence))
    return ProductsFinding(
        recommendations=recommendations,
        considered=len(evaluations),
        excluded=excluded,
        no_offer_reason=no_offer_reason(columns, 0, hardship_offered, bool(recommendations)),
        hardship_support=bool(columns.hardship[0]),
        evidence=evidence,
        tools_called=["match_products"],
    )
