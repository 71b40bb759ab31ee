"""Book-wide next-best offers equal the per-customer matcher, and state why a customer gets none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bank.knowledge import load_knowledge_base
from tests.unit.test_products_book import book_frames, random_customers
from tests.unit.test_products_rules import AS_OF
from tools.book import OFFER_COLUMNS, customers_for_product, next_best_offers
from tools.products import match_products


@pytest.fixture(scope="module")
def kb():
    return load_knowledge_base()


@pytest.fixture(scope="module")
def customers():
    return random_customers(120, seed=23)


@pytest.fixture(scope="module")
def offers(customers, kb):
    profiles, features = book_frames(customers)
    return next_best_offers(profiles, features, kb, AS_OF)


def _per_customer(customer, kb):
    return match_products(customer["profile"], customer["spending"], customer["credit"], customer["sentiment"], kb,
                          AS_OF, holdings=customer["holdings"])


def test_offers_equal_the_per_customer_matcher(customers, offers, kb):
    assert list(offers.columns) == list(OFFER_COLUMNS)
    compared = 0
    for customer in customers:
        cid = customer["profile"].customer_id
        found = _per_customer(customer, kb)
        mine = offers[(offers["customer_id"] == cid) & (offers["rank"] > 0)]
        assert mine["product_code"].tolist() == [r.product_code for r in found.recommendations], cid
        assert mine["rank"].tolist() == list(range(1, len(found.recommendations) + 1))
        tiers = [None if pd.isna(t) else t for t in mine["price_tier"]]
        assert tiers == [r.price_tier for r in found.recommendations]
        assert np.allclose(mine["fit_score"], [r.score for r in found.recommendations], rtol=0, atol=1e-12)
        assert mine["reasons"].tolist() == [" | ".join(r.reasons) for r in found.recommendations]
        assert mine["disclosures"].tolist() == [", ".join(r.disclosures) for r in found.recommendations]
        rows = offers[offers["customer_id"] == cid]
        stated = {found.no_offer_reason} if found.no_offer_reason else set()
        assert set(rows["no_offer_reason"].dropna()) == stated
        compared += len(found.recommendations)
    assert compared > 100, "the sample needs offers to compare"


def test_no_marketing_consent_gives_no_marketing_offer_and_a_reason(customers, offers, kb):
    without = [c["profile"].customer_id for c in customers if not c["profile"].consent_marketing]
    assert without, "the sample needs customers without marketing consent"
    rows = offers[offers["customer_id"].isin(without)]
    support_only = rows["product_code"].isna() | (rows["product_code"] == "HARDSHIP-PLAN")
    assert support_only.all(), rows[~support_only]
    assert rows["no_offer_reason"].notna().all()
    no_product = rows[rows["product_code"].isna()]
    assert (no_product["rank"] == 0).all()
    assert any("No marketing consent" in r for r in no_product["no_offer_reason"])


def test_every_customer_appears_once_without_offers_or_with_ranked_ones(customers, offers):
    assert offers["customer_id"].nunique() == len(customers)
    empty = offers[offers["rank"] == 0]
    assert not empty["customer_id"].duplicated().any()
    assert not set(empty["customer_id"]) & set(offers.loc[offers["rank"] > 0, "customer_id"])


def test_limit_keeps_the_customers_with_the_strongest_best_offer(customers, kb, offers):
    profiles, features = book_frames(customers)
    limited = next_best_offers(profiles, features, kb, AS_OF, limit=10)
    assert limited["customer_id"].nunique() == 10
    best = offers[offers["rank"] == 1].set_index("customer_id")["fit_score"]
    kept = best.reindex(limited["customer_id"].unique()).fillna(-1)
    left_out = best.drop(kept.index, errors="ignore")
    assert kept.min() >= left_out.max()


def test_segment_keeps_only_that_segment(customers, kb):
    profiles, features = book_frames(customers)
    chosen = next_best_offers(profiles, features, kb, AS_OF, segment="Frequent traveller")
    travellers = set(features.loc[features["segment"] == "Frequent traveller", "customer_id"])
    assert travellers and set(chosen["customer_id"]) == travellers


def test_customers_for_a_product_are_the_eligible_ones_ranked_by_fit(customers, kb, offers):
    profiles, features = book_frames(customers)
    code = offers.loc[offers["rank"] == 1, "product_code"].value_counts().index[0]
    targets = customers_for_product(profiles, features, kb, AS_OF, code)
    assert len(targets) > 0 and (targets["product_code"] == code).all()
    assert (np.diff(targets["fit_score"].to_numpy()) <= 0).all()
    eligible = set()
    for customer in customers:
        found = match_products(customer["profile"], customer["spending"], customer["credit"],
                               customer["sentiment"], kb, AS_OF, holdings=customer["holdings"], top_k=100)
        if code not in found.excluded and code not in _held(customer):
            eligible.add(customer["profile"].customer_id)
    assert set(targets["customer_id"]) <= eligible
    top = offers[offers["product_code"] == code]
    ranked = targets.set_index("customer_id")["offer_rank"]
    assert (ranked.reindex(top["customer_id"]).to_numpy() == top["rank"].to_numpy()).all()
    with pytest.raises(KeyError):
        customers_for_product(profiles, features, kb, AS_OF, "NO-SUCH-PRODUCT")


def _held(customer) -> set[str]:
    return set(customer["holdings"].product_codes) if customer.get("holdings") is not None else set()
