"""Next-best offers, product target lists and alerts for a whole book.

``next_best_offers`` runs the product rules once over every customer (``evaluate_book``),
selects offers as the per-customer matcher does (``select_offers``) and writes, per
customer, the ranked offers with price tier, fit score, reasons and the disclosures to
give; a customer with no offer (no marketing consent, an open complaint, signs of
difficulty, band E ...) gets one row without a product that states why.
``customers_for_product`` answers "which customers should we offer product P".
``book_alerts`` lists overspending and credit-risk alerts.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from bank.knowledge import KnowledgeBase
from tools.products.feedback import FeedbackAdjustments
from tools.products.matcher import (
    DEFAULT_TOP_K,
    evaluate_book,
    no_offer_reason,
    price_tier,
    reasons_for,
    select_offers,
)
from tools.products.rules import Columns, ProductEvaluation

OFFER_COLUMNS = (
    "customer_id", "segment", "risk_band", "rank", "product_code", "product_name", "product_type", "price_tier",
    "apr", "estimated_monthly_payment", "dti_after", "fit_score", "reasons", "disclosures", "no_offer_reason",
)
ALERT_COLUMNS = ("customer_id", "kind", "severity", "subject", "detail", "value", "threshold")
RISK_BANDS_TO_WATCH = ("D", "E")
HIGH_UTILISATION = 0.9
LATE_DAYS_ALERT = 30


def _credit_figures(evaluation: ProductEvaluation, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not evaluation.is_credit:
        empty = np.full(len(rows), np.nan)
        return empty, empty, empty
    return (evaluation.apr[rows], np.round(evaluation.payment[rows], 2), np.round(evaluation.dti_after[rows], 4))


def _offer_rows(columns: Columns, evaluations: list[ProductEvaluation], rows: np.ndarray,
                products: np.ndarray, scores: np.ndarray, ranks: np.ndarray) -> pd.DataFrame:
    apr = np.full(len(rows), np.nan)
    payment = np.full(len(rows), np.nan)
    dti = np.full(len(rows), np.nan)
    for j, evaluation in enumerate(evaluations):
        mine = products == j
        if mine.any():
            apr[mine], payment[mine], dti[mine] = _credit_figures(evaluation, rows[mine])
    frame = columns.frame
    return pd.DataFrame({
        "customer_id": frame["customer_id"].to_numpy()[rows],
        "segment": frame["segment"].to_numpy()[rows],
        "risk_band": frame["risk_band"].to_numpy()[rows],
        "rank": ranks,
        "product_code": [evaluations[j].product.code for j in products],
        "product_name": [evaluations[j].product.name for j in products],
        "product_type": [evaluations[j].product.type for j in products],
        "price_tier": [price_tier(columns, evaluations[j], r) for r, j in zip(rows, products, strict=True)],
        "apr": apr,
        "estimated_monthly_payment": payment,
        "dti_after": dti,
        "fit_score": scores,
        "reasons": [" | ".join(reasons_for(columns, evaluations[j], r))
                    for r, j in zip(rows, products, strict=True)],
        "disclosures": [", ".join(evaluations[j].product.disclosures) for j in products],
    })


def _customer_order(offers: pd.DataFrame, n: int) -> np.ndarray:
    """Rows ordered by their best offer's score, strongest first (customers without one last)."""
    best = np.full(n, -1.0)
    np.maximum.at(best, offers["row"].to_numpy(), offers["score"].to_numpy())
    return np.lexsort((np.arange(n), -best))


def next_best_offers(
    profiles: pd.DataFrame,
    features: pd.DataFrame,
    kb: KnowledgeBase,
    as_of: date,
    top_k: int = DEFAULT_TOP_K,
    feedback: FeedbackAdjustments | None = None,
    segment: str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Ranked offers for every customer (``OFFER_COLUMNS``), customers with the strongest best
    offer first; ``segment`` keeps one spending segment, ``limit`` the first customers."""
    if segment is not None:
        features = features[features["segment"] == segment]
    _, columns, evaluations = evaluate_book(profiles, features, kb, as_of)
    offers = select_offers(columns, evaluations, feedback, top_k)
    order = _customer_order(offers, columns.n)
    if limit is not None:
        order = order[:limit]
    position = np.empty(columns.n, dtype=np.int64)
    position[order] = np.arange(len(order))
    chosen = offers[np.isin(offers["row"].to_numpy(), order)]
    rows = chosen["row"].to_numpy()
    offered = _offer_rows(columns, evaluations, rows, chosen["product"].to_numpy(),
                          chosen["score"].to_numpy(float), chosen["rank"].to_numpy())
    hardship_product = np.array([e.product.is_hardship_support for e in evaluations])
    has_offer = np.zeros(columns.n, bool)
    has_offer[rows] = True
    hardship_offered = np.zeros(columns.n, bool)
    hardship_offered[rows[hardship_product[chosen["product"].to_numpy()]]] = True
    reasons = {i: no_offer_reason(columns, i, bool(hardship_offered[i]), bool(has_offer[i]))
               for i in order if columns.hardship[i] or not has_offer[i]}
    offered["no_offer_reason"] = [reasons.get(r) for r in rows]
    empty_rows = np.array([i for i in order if not has_offer[i]], dtype=np.int64)
    frame = columns.frame
    without = pd.DataFrame({
        "customer_id": frame["customer_id"].to_numpy()[empty_rows],
        "segment": frame["segment"].to_numpy()[empty_rows],
        "risk_band": frame["risk_band"].to_numpy()[empty_rows],
        "rank": 0,
        "no_offer_reason": [reasons[i] for i in empty_rows],
    })
    result = pd.concat([offered.assign(_row=rows), without.assign(_row=empty_rows)], ignore_index=True)
    result["_position"] = position[result["_row"].to_numpy()]
    result = result.sort_values(["_position", "rank"], kind="stable").drop(columns=["_row", "_position"])
    result["rank"] = result["rank"].astype(int)
    return result.reindex(columns=list(OFFER_COLUMNS)).reset_index(drop=True)


def customers_for_product(
    profiles: pd.DataFrame,
    features: pd.DataFrame,
    kb: KnowledgeBase,
    as_of: date,
    product_code: str,
    top_k: int = DEFAULT_TOP_K,
    feedback: FeedbackAdjustments | None = None,
    segment: str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Every customer for whom ``product_code`` passes every check and meets a need, by fit
    score (ties by customer id), with ``offer_rank``: its rank among the customer's own
    next-best offers (0 when other products rank above it)."""
    if segment is not None:
        features = features[features["segment"] == segment]
    _, columns, evaluations = evaluate_book(profiles, features, kb, as_of)
    index = next((j for j, e in enumerate(evaluations) if e.product.code == product_code), None)
    if index is None:
        raise KeyError(f"no product {product_code} in the catalogue")
    offers = select_offers(columns, evaluations, feedback, top_k)
    mine = offers[offers["product"] == index]
    evaluation = evaluations[index]
    rows = np.flatnonzero(evaluation.eligible)
    scores = np.where(evaluation.eligible, evaluation.fit, 0.0)
    if feedback is not None:
        factors = feedback.factors(product_code, columns.frame["segment"], columns.frame["risk_band"])
        scores = scores * factors
    scores = scores[rows]
    ids = columns.frame["customer_id"].to_numpy()[rows]
    order = np.lexsort((ids, -scores))
    if limit is not None:
        order = order[:limit]
    rows, scores = rows[order], scores[order]
    offer_rank = pd.Series(mine["rank"].to_numpy(), index=mine["row"].to_numpy()).reindex(rows).fillna(0)
    frame = _offer_rows(columns, evaluations, rows, np.full(len(rows), index), scores, offer_rank.to_numpy(int))
    return frame.rename(columns={"rank": "offer_rank"}).drop(columns=["no_offer_reason"], errors="ignore")


def book_alerts(overspending: pd.DataFrame, credit: pd.DataFrame) -> pd.DataFrame:
    """Overspending alerts (a category's month well above the customer's own baseline) and
    credit-risk alerts (band D or E, flagged by the risk model, cards nearly full, a payment
    30+ days late in the last 3 months), one row each (``ALERT_COLUMNS``)."""
    parts = [pd.DataFrame({
        "customer_id": overspending["customer_id"],
        "kind": "overspending",
        "severity": np.where(overspending["excess_pct"] >= 100, "high", "medium"),
        "subject": overspending["category"],
        "detail": [f"{m}: EUR {a:,.2f} against a usual EUR {b:,.2f} (+{p:.0f}%)" for m, a, b, p in zip(
            overspending["month"], overspending["amount"], overspending["baseline"], overspending["excess_pct"],
            strict=True)],
        "value": overspending["amount"],
        "threshold": overspending["baseline"],
    })]
    ids = credit["customer_id"]
    band = credit["risk_band"].astype(object)
    watched = band.isin(RISK_BANDS_TO_WATCH)
    parts.append(pd.DataFrame({
        "customer_id": ids[watched], "kind": "risk", "severity": np.where(band[watched] == "E", "high", "medium"),
        "subject": "risk_band",
        "detail": [f"risk band {b}: default probability {p:.1%} (main reason {r or '-'})" for b, p, r in zip(
            band[watched], credit.loc[watched, "model_probability"], credit.loc[watched, "model_reason_1"],
            strict=True)],
        "value": credit.loc[watched, "model_probability"], "threshold": np.nan,
    }))
    utilisation = credit["utilisation"]
    full = utilisation >= HIGH_UTILISATION
    parts.append(pd.DataFrame({
        "customer_id": ids[full], "kind": "risk", "severity": "medium", "subject": "utilisation",
        "detail": [f"cards {u:.0%} used" for u in utilisation[full]],
        "value": utilisation[full], "threshold": HIGH_UTILISATION,
    }))
    late = credit["late_30_plus_3m"].fillna(0) > 0
    parts.append(pd.DataFrame({
        "customer_id": ids[late], "kind": "risk", "severity": "high", "subject": "late_payment",
        "detail": [f"{n:.0f} payment(s) {LATE_DAYS_ALERT}+ days late in the last 3 months"
                   for n in credit.loc[late, "late_30_plus_3m"]],
        "value": credit.loc[late, "late_30_plus_3m"], "threshold": 0,
    }))
    alerts = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else None
    if alerts is None:
        return pd.DataFrame(columns=list(ALERT_COLUMNS))
    return alerts.sort_values(["customer_id", "kind", "subject"], kind="stable").reset_index(drop=True)[
        list(ALERT_COLUMNS)]
