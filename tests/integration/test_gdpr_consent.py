"""Consent: social posts are stored and used only with consent_social; no product is offered
without consent_marketing, and the answer says why."""

from __future__ import annotations

import pandas as pd
import pytest

from advisor.settings import Settings
from bank.vectorstore import CUSTOMER_TEXTS
from tests.integration.test_gdpr import ingested_home

OFFER_QUESTION = "The customer called about her card balance, what can I offer?"
MOOD_QUESTION = "How does the customer feel about the bank lately?"


@pytest.fixture(scope="module")
def home(bank_dir, tmp_path_factory):
    return ingested_home(bank_dir, tmp_path_factory, "consent")


@pytest.fixture(scope="module")
def tables(bank_dir) -> dict[str, pd.DataFrame]:
    return {name: pd.read_csv(bank_dir / f"{name}.csv", dtype=str, keep_default_na=False)
            for name in ("customers", "social_posts")}


def settings_of(home) -> Settings:
    return Settings(home=home, data_key=None)


def posting_customers(tables, consent: str) -> list[str]:
    customers = tables["customers"]
    posters = set(tables["social_posts"]["customer_id"])
    chosen = customers[(customers["consent_social"] == consent) & customers["customer_id"].isin(posters)]
    return list(chosen["customer_id"])


def test_posts_without_consent_are_neither_stored_nor_embedded(home, tables):
    from advisor import services

    settings = settings_of(home)
    refused = posting_customers(tables, "false")
    assert refused, "the bank has posts by customers without social consent"
    store = services.open_store(settings)
    texts = services.open_chroma(settings).get_collection(CUSTOMER_TEXTS)
    try:
        for customer_id in refused:
            assert store.social_posts(customer_id, consented_only=False).empty
            found = texts.get(where={"$and": [{"customer_id": customer_id}, {"kind": "social_post"}]}, include=[])
            assert found["ids"] == []
        consenting = posting_customers(tables, "true")[0]
        assert not store.social_posts(consenting).empty
    finally:
        store.close()


def test_the_sentiment_finding_reads_posts_only_with_consent(home, tables):
    """Even posts that reached the store by another way are ignored without consent."""
    from advisor import services
    from bank.contract import TABLES
    from graph.runner import open_runner

    settings = settings_of(home)
    consenting = posting_customers(tables, "true")[0]
    refused = posting_customers(tables, "false")[0]
    smuggled = tables["social_posts"][tables["social_posts"]["customer_id"] == refused].copy()
    store = services.open_store(settings)
    store.upsert(TABLES["social_posts"], smuggled)
    assert len(store.social_posts(refused, consented_only=False)) == len(smuggled)
    store.close()

    with open_runner(settings) as runner:
        book = {consenting, refused}
        allowed = runner.ask(MOOD_QUESTION, consenting, advisor_book=book)["findings"]["sentiment"]
        denied = runner.ask(MOOD_QUESTION, refused, advisor_book=book)["findings"]["sentiment"]
    assert allowed["social_consent"] and allowed["social_posts_used"] > 0
    assert not denied["social_consent"] and denied["social_posts_used"] == 0
    smuggled_ids = set(smuggled["post_id"])
    evidence = " ".join(str(item) for item in (denied.get("evidence") or []) + (denied.get("recent") or []))
    assert not any(post_id in evidence for post_id in smuggled_ids)


def _offered_customer(runner, candidates: list[str]) -> tuple[str, dict]:
    for customer_id in candidates:
        result = runner.ask(OFFER_QUESTION, customer_id, advisor_book=set(candidates))
        if result.get("recommendations"):
            return customer_id, result
    pytest.fail("no consenting customer of the bank gets an offer")


def test_no_offer_without_marketing_consent_and_the_answer_says_why(home, tables):
    from advisor import services
    from graph.runner import open_runner

    settings = settings_of(home)
    customers = tables["customers"]
    candidates = list(customers.loc[customers["consent_marketing"] == "true", "customer_id"])[:25]
    with open_runner(settings) as runner:
        customer_id, consenting = _offered_customer(runner, candidates)
    store = services.open_store(settings)
    with store.transaction() as connection:
        connection.execute("UPDATE customers SET consent_marketing = 0 WHERE customer_id = ?", (customer_id,))
    store.close()
    with open_runner(settings) as runner:
        withdrawn = runner.ask(OFFER_QUESTION, customer_id, advisor_book={customer_id})
    assert consenting["recommendations"] and withdrawn["recommendations"] == []
    assert "marketing consent" in withdrawn["answer"].lower()
    products = withdrawn["findings"]["products"]
    assert "marketing consent" in (products.get("no_offer_reason") or "").lower()
