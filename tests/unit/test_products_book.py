"""The book path (vectorised over customers) gives the per-customer path's offers exactly."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from bank.knowledge import NEED_TAGS, RISK_BANDS, load_knowledge_base
from tests.unit.test_products_rules import AS_OF, make_customer
from tools.products import (
    BOOK_COLUMNS,
    FEATURE_COLUMNS,
    PROFILE_COLUMNS,
    FeedbackAdjustments,
    features_from_findings,
    match_products,
    match_products_book,
    profile_features,
    profiles_frame,
)

SEGMENTS = ("Frequent traveller", "Everyday spender", "Foodie", "")


@pytest.fixture(scope="module")
def kb():
    return load_knowledge_base()


def random_customers(n: int, seed: int) -> list[dict]:
    """Varied hand-made customers: every band, consent mixes, hardship, complaints, needs."""
    rng = np.random.default_rng(seed)
    tags = list(NEED_TAGS)
    customers = []
    for i in range(n):
        interests = tuple(rng.choice(tags, size=rng.integers(0, 3), replace=False)) if rng.random() < 0.6 else ()
        intents = (
            (
                (
                    str(rng.choice(["savings_goal", "travel_plans", "mortgage_interest", "fee_dispute"])),
                    float(rng.uniform(0.3, 1.0)),
                    AS_OF - timedelta(days=int(rng.integers(0, 300))),
                    (f"int:I-{i:06d}",),
                ),
            )
            if rng.random() < 0.4
            else ()
        )
        customer = make_customer(
            income=float(rng.choice([12_000, 22_000, 38_000, 55_000, 90_000, 140_000])),
            tenure=int(rng.integers(0, 120)),
            consent=bool(rng.random() < 0.85),
            age=int(rng.integers(16, 90)),
            band=[*RISK_BANDS, None][int(rng.integers(0, 6))],
            debt_payments=float(rng.uniform(0, 2_500)),
            utilisation=float(rng.uniform(0, 1)) if rng.random() < 0.7 else None,
            late_6m=int(rng.random() < 0.1),
            late_12m=int(rng.random() < 0.15),
            worst_days_late=int(rng.choice([0, 0, 0, 15, 35, 65])),
            cash=float(rng.uniform(0, 60_000)) if rng.random() < 0.9 else None,
            essential=float(rng.uniform(500, 3_000)),
            savings_capacity=float(rng.uniform(0, 500)),
            travel=float(rng.uniform(0, 800)),
            everyday=float(rng.uniform(0, 1_000)),
            fees=float(rng.uniform(0, 40)),
            gambling=float(rng.uniform(0, 50)),
            subscriptions=int(rng.integers(0, 9)),
            paid_in=float(rng.uniform(800, 6_000)),
            segment=str(rng.choice(SEGMENTS)),
            interests=interests,
            intents=intents,
            complaints=int(rng.random() < 0.05),
            signals=("job loss mentioned",) if rng.random() < 0.05 else (),
            held=tuple(rng.choice(["CC-CLASSIC", "SAV-EASY", "SAV-GOAL", "CHK-ESSENTIAL"], size=2, replace=False)),
            revolving_balance=float(rng.uniform(0, 6_000)),
            revolving_limit=float(rng.choice([0, 3_000, 8_000])) or 0.0,
            card_apr=float(rng.uniform(18, 30)),
            transferable=float(rng.choice([0, 0, 2_500])),
            loans=float(rng.choice([0, 4_000])),
            loan_payment=float(rng.choice([0, 150])),
        )
        customer["profile"] = customer["profile"].model_copy(update={"customer_id": f"C-{i:05d}"})
        customers.append(customer)
    return customers


def book_frames(customers: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = [
        features_from_findings(c["profile"], c["spending"], c["credit"], c["sentiment"], c["holdings"], AS_OF)
        for c in customers
    ]
    profiles = pd.DataFrame([profile_features(c["profile"]) for c in customers])
    features = pd.DataFrame(rows)[["customer_id", *FEATURE_COLUMNS]]
    return profiles, features


def _per_customer(customers, kb, feedback=None) -> pd.DataFrame:
    rows = []
    for c in customers:
        found = match_products(
            c["profile"],
            c["spending"],
            c["credit"],
            c["sentiment"],
            kb,
            AS_OF,
            feedback=feedback,
            holdings=c["holdings"],
        )
        rows += [
            {
                "customer_id": c["profile"].customer_id,
                "rank": k,
                "product_code": r.product_code,
                "score": r.score,
                "apr": r.apr,
                "reasons": r.reasons,
            }
            for k, r in enumerate(found.recommendations, start=1)
        ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("with_feedback", [False, True])
def test_book_and_per_customer_paths_agree(kb, with_feedback):
    customers = random_customers(90, seed=11)
    feedback = None
    if with_feedback:
        feedback = FeedbackAdjustments()
        for _ in range(2):
            feedback.record("SAV-GOAL", accepted=False, segment="Everyday spender", risk_band="B")
            feedback.record("CC-TRAVEL", accepted=False, segment="Frequent traveller")
    expected = _per_customer(customers, kb, feedback)
    profiles, features = book_frames(customers)
    book = match_products_book(profiles, features, kb, AS_OF, feedback=feedback)
    assert list(book.columns) == list(BOOK_COLUMNS)
    assert len(expected) > 90 and expected["customer_id"].nunique() > 40, "the sample needs offers to compare"
    assert book["customer_id"].tolist() == expected["customer_id"].tolist()
    assert book["product_code"].tolist() == expected["product_code"].tolist()
    assert book["rank"].tolist() == expected["rank"].tolist()
    assert np.allclose(book["score"], expected["score"], rtol=0, atol=1e-9)
    assert np.array_equal(book["apr"].to_numpy(float), expected["apr"].to_numpy(float), equal_nan=True)
    assert book["reasons"].tolist() == expected["reasons"].tolist()


def test_book_takes_birth_dates_and_ignores_other_protected_columns(kb):
    customers = random_customers(40, seed=5)
    customers[0]["profile"] = customers[0]["profile"].model_copy(update={"age": 16})
    profiles, features = book_frames(customers)
    base = match_products_book(profiles, features, kb, AS_OF, with_reasons=False)
    births = profiles.drop(columns=["age"]).assign(
        birth_date=[date(1960, 1, 1) if age >= 18 else date(2015, 1, 1) for age in profiles["age"]],
        gender="female",
        marital_status="married",
        region="Dublin",
        postcode="D02 X285",
    )
    again = match_products_book(births, features, kb, AS_OF, with_reasons=False)
    pd.testing.assert_frame_equal(base, again)
    ages = profiles_frame(births, AS_OF)["age"]
    assert set(ages) == {66.0, 11.0}


@pytest.mark.parametrize("top_k", [3, 1])
def test_book_gives_each_customer_at_most_top_k_offers_ranked_from_one(kb, top_k):
    profiles, features = book_frames(random_customers(120, seed=23))
    book = match_products_book(profiles, features, kb, AS_OF, top_k=top_k, with_reasons=False)
    assert book["customer_id"].nunique() > 50, "the sample needs customers with offers"
    for customer_id, ranks in book.groupby("customer_id", sort=False)["rank"]:
        assert ranks.tolist() == list(range(1, len(ranks) + 1)), customer_id
        assert len(ranks) <= top_k


def test_profile_columns_are_the_contract(kb):
    assert PROFILE_COLUMNS == (
        "customer_id",
        "annual_income",
        "tenure_months",
        "consent_marketing",
        "consent_social",
        "age",
    )
    customer = random_customers(1, seed=1)[0]
    row = features_from_findings(
        customer["profile"],
        customer["spending"],
        customer["credit"],
        customer["sentiment"],
        customer["holdings"],
        AS_OF,
    )
    assert set(row) == {*PROFILE_COLUMNS, *FEATURE_COLUMNS}
    for protected in ("gender", "marital_status", "region", "postcode", "birth_date"):
        assert protected not in row
