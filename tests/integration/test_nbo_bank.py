"""`advisor nbo` on the generated bank: each customer's offers equal what the per-customer
product matcher gives from the specialists' own findings, and the CLI writes CSV and Parquet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tools.book import BookModels, book_alerts, book_findings, next_best_offers, read_book
from tools.credit import credit_for_customer
from tools.products import products_for_customer, profile_from_store
from tools.sentiment.voice import voice_for_customer
from tools.spending import spending_for_customer

SAMPLE = 40


@pytest.fixture(scope="module")
def services(bank_store, test_settings, bank_labels):
    from bank.knowledge import load_knowledge_base
    from graph.context import AdvisorServices

    return AdvisorServices(settings=test_settings, store=bank_store, knowledge=load_knowledge_base(),
                           labels_dir=bank_labels)


@pytest.fixture(scope="module")
def findings(services, bank_store):
    models = BookModels(services.risk_model, services.segmenter, services.sentiment_scorer,
                        services.intent_classifier)
    return book_findings(read_book(bank_store), services.knowledge, models, services.as_of)


@pytest.fixture(scope="module")
def offers(findings, services):
    return next_best_offers(findings.profiles, findings.features, services.knowledge, services.as_of)


def test_book_offers_equal_the_per_customer_matcher_on_a_sample(offers, services, bank_store):
    as_of = services.as_of
    compared = 0
    for customer_id in bank_store.customer_ids()[::3][:SAMPLE]:
        profile = profile_from_store(bank_store, customer_id, as_of)
        spending = spending_for_customer(bank_store, customer_id, as_of, services.segmenter)
        credit = credit_for_customer(bank_store, customer_id, as_of, services.risk_model)
        sentiment = voice_for_customer(bank_store, customer_id, as_of, services.sentiment_scorer,
                                       services.intent_classifier)
        found = products_for_customer(bank_store, profile, spending, credit, sentiment, services.knowledge, as_of)
        rows = offers[offers["customer_id"] == customer_id]
        mine = rows[rows["rank"] > 0]
        expected = found.recommendations
        assert mine["product_code"].tolist() == [r.product_code for r in expected], customer_id
        assert [None if pd.isna(t) else t for t in mine["price_tier"]] == [r.price_tier for r in expected]
        assert np.allclose(mine["fit_score"], [r.score for r in expected], rtol=0, atol=1e-9)
        assert mine["reasons"].tolist() == [" | ".join(r.reasons) for r in expected], customer_id
        stated = {found.no_offer_reason} if found.no_offer_reason else set()
        assert set(rows["no_offer_reason"].dropna()) == stated
        assert rows["segment"].iloc[0] == (spending.segment or "")
        compared += max(len(expected), 1)
    assert compared >= SAMPLE


def test_book_subscriptions_and_voice_equal_the_store_specialists_on_a_sample(services, bank_store):
    from tools.book.findings import _SortedTransactions, book_profiles, book_voices
    from tools.book.recurring import book_streams
    from tools.spending.recurring import recurring_payments_of, subscriptions_monthly_cost, subscriptions_of

    as_of = services.as_of
    tables = read_book(bank_store)
    ledgers = _SortedTransactions.of(tables.transactions, as_of)
    streams = dict(zip(ledgers.customers, book_streams(ledgers.starts, ledgers.ends, ledgers.columns, as_of),
                       strict=True))
    profiles = book_profiles(tables.customers, as_of)
    voices = book_voices(tables, dict(zip(profiles["customer_id"], profiles["consent_social"].tolist())), as_of,
                         services.sentiment_scorer, services.intent_classifier)
    subscriptions = voiced = 0
    for customer_id in bank_store.customer_ids()[1::3][:SAMPLE]:
        spending = spending_for_customer(bank_store, customer_id, as_of, services.segmenter)
        mine = streams.get(customer_id, [])
        assert subscriptions_of(mine) == spending.subscriptions, customer_id
        assert recurring_payments_of(mine) == spending.recurring_payments, customer_id
        assert subscriptions_monthly_cost(mine) == spending.subscriptions_monthly_cost
        subscriptions += len(spending.subscriptions)
        voice = voice_for_customer(bank_store, customer_id, as_of, services.sentiment_scorer,
                                   services.intent_classifier)
        if voice.available:
            assert voices[customer_id] == voice, customer_id
            voiced += 1
        else:
            assert customer_id not in voices
    assert subscriptions >= SAMPLE // 2 and voiced >= SAMPLE // 4


def test_book_findings_in_forked_workers_equal_one_process(services, bank_store, findings):
    models = BookModels(services.risk_model, services.segmenter, services.sentiment_scorer,
                        services.intent_classifier)
    forked = book_findings(read_book(bank_store), services.knowledge, models, services.as_of, workers=2)
    for name in ("profiles", "features", "overspending", "credit"):
        pd.testing.assert_frame_equal(getattr(forked, name), getattr(findings, name), check_exact=True)


def test_customers_without_marketing_consent_get_support_only_and_a_reason(offers, findings):
    without = set(findings.profiles.loc[~findings.profiles["consent_marketing"], "customer_id"])
    assert without
    rows = offers[offers["customer_id"].isin(without)]
    assert (rows["product_code"].isna() | (rows["product_code"] == "HARDSHIP-PLAN")).all()
    assert rows["no_offer_reason"].notna().all()


def test_alerts_cover_overspending_and_risk(findings):
    alerts = book_alerts(findings.overspending, findings.credit)
    assert {"overspending", "risk"} <= set(alerts["kind"])
    assert set(alerts["customer_id"]) <= set(findings.profiles["customer_id"])
    band_e = set(findings.credit.loc[findings.credit["risk_band"] == "E", "customer_id"])
    flagged = set(alerts.loc[alerts["subject"] == "risk_band", "customer_id"])
    assert band_e <= flagged


def test_nbo_command_writes_offers_product_lists_and_alerts(bank_store, test_settings, tmp_path, monkeypatch,
                                                           services, request):
    import json

    from typer.testing import CliRunner

    from advisor.cli import _register_command_groups, app
    from advisor.settings import get_settings

    for model in ("risk_model", "segmenter", "intent_classifier"):
        getattr(services, model)  # trained once and saved under the home, where the CLI loads them
    monkeypatch.setenv("ADVISOR_HOME", str(test_settings.home))
    get_settings.cache_clear()
    request.addfinalizer(get_settings.cache_clear)
    _register_command_groups()
    runner = CliRunner()
    out = tmp_path / "offers.parquet"
    result = runner.invoke(app, ["nbo", "--out", str(out), "--alerts", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["customers_scored"] == bank_store.count("customers")
    book = pd.read_parquet(out)
    assert book["customer_id"].nunique() == summary["customers_scored"]
    assert (tmp_path / "offers-alerts.parquet").exists()
    code = book.loc[book["rank"] == 1, "product_code"].dropna().value_counts().index[0]
    target = tmp_path / "targets.csv"
    result = runner.invoke(app, ["nbo", "--product", code, "--limit", "5", "--out", str(target), "--json"])
    assert result.exit_code == 0, result.output
    targets = pd.read_csv(target)
    assert 0 < len(targets) <= 5 and (targets["product_code"] == code).all()
    bad = runner.invoke(app, ["nbo", "--product", "NOPE", "--out", str(target), "--json"])
    assert bad.exit_code != 0 and "unknown_product" in bad.stdout
