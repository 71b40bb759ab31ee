"""The product matcher on the generated bank: book path == per-customer path, offers pass the
compliance check, and changing a customer's age among adults changes nothing.

Spending findings and holdings come from the real tools (``tools.spending``,
``holdings_from_accounts``). NOTE: the credit and sentiment specialists were not finished
when this test was written, so ``credit_stand_in`` and ``sentiment_stand_in`` build those
findings from the store's accounts and payments and from the generator's ground-truth
labels. Replace them with ``tools.credit`` / ``tools.sentiment`` once they exist; the
assertions stay the same.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from bank.knowledge import load_knowledge_base
from tools.compliance import check_compliance
from tools.findings import AccountUtilisation, CreditFinding, CustomerProfile, DetectedIntent, SentimentFinding
from tools.products import (
    FEATURE_COLUMNS,
    features_from_findings,
    holdings_frame,
    holdings_from_accounts,
    match_products,
    match_products_book,
    profile_features,
)
from tools.spending.analysis import spending_for_customer

SAMPLE = 45
PD_BANDS = ((0.02, "A"), (0.05, "B"), (0.10, "C"), (0.20, "D"))  # POL-SUITABILITY §3.1


def profile_of(customer, as_of: date) -> CustomerProfile:
    return CustomerProfile(
        customer_id=customer.customer_id,
        annual_income=customer.annual_income,
        employment_status=customer.employment_status,
        tenure_months=customer.tenure_months,
        consent_marketing=customer.consent_marketing,
        consent_social=customer.consent_social,
        age=customer.age_on(as_of),
        advisor_id=customer.advisor_id,
    )


def credit_stand_in(
    accounts: pd.DataFrame, payments: pd.DataFrame, annual_income: float, default_probability: float, as_of: date
) -> CreditFinding:
    """A credit finding from accounts and payments (POL-AFFORD §3.1 payments) and the true PD."""
    live = accounts[~accounts["status"].fillna("open").isin(["closed", "charged_off"])]
    cards = live[live["type"] == "credit_card"]
    loans = live[live["type"].isin(["personal_loan", "auto_loan", "mortgage"])]
    card_payments = np.maximum(cards["monthly_payment"].fillna(0.0), 0.03 * cards["balance"].clip(lower=0))
    monthly = float(card_payments.sum() + loans["monthly_payment"].fillna(0.0).sum())
    limit = float(cards["credit_limit"].fillna(0.0).sum())
    due = pd.to_datetime(payments["due_date"])
    late = payments["days_late"].fillna(0) >= 30

    def late_in(months: int) -> int:
        return int((late & (due > pd.Timestamp(as_of) - pd.DateOffset(months=months))).sum())

    band = next((b for limit_pd, b in PD_BANDS if default_probability < limit_pd), "E")
    return CreditFinding(
        utilisation_overall=float(cards["balance"].clip(lower=0).sum() / limit) if limit > 0 else None,
        accounts=[
            AccountUtilisation(
                account_id=r.account_id,
                product_code=r.product_code,
                balance=r.balance,
                credit_limit=r.credit_limit,
                utilisation=r.balance / r.credit_limit,
            )
            for r in cards.itertuples()
            if r.credit_limit
        ],
        total_debt=float(live.loc[live["type"] != "checking", "balance"].clip(lower=0).sum()),
        monthly_debt_payments=monthly,
        monthly_income=annual_income / 12,
        debt_to_income=monthly / (annual_income / 12) if annual_income else None,
        late_30_plus_12m=late_in(12),
        late_30_plus_6m=late_in(6),
        late_30_plus_3m=late_in(3),
        worst_days_late=int(payments["days_late"].fillna(0).max()) if len(payments) else 0,
        default_probability=default_probability,
        risk_band=band,
        evidence=[f"acct:{a}" for a in cards["account_id"]],
    )


def sentiment_stand_in(interactions: pd.DataFrame, texts: pd.DataFrame, as_of: date) -> SentimentFinding:
    """Intents from the ground-truth labels of the customer's interactions (social posts left out)."""
    labelled = interactions.merge(texts, left_on="interaction_id", right_on="text_id")
    labelled["day"] = pd.to_datetime(labelled["timestamp"]).dt.date
    intents = [
        DetectedIntent(
            intent=intent,
            count=len(group),
            confidence=1.0,
            last_seen=max(group["day"]),
            evidence=[f"int:{i}" for i in group["interaction_id"]],
        )
        for intent, group in labelled.groupby("intent")
    ]
    recent_complaints = labelled[
        (labelled["channel_x"] == "complaint") & (labelled["day"] >= as_of - timedelta(days=30))
    ]
    return SentimentFinding(
        texts_considered=len(labelled),
        intents=intents,
        open_complaints=len(recent_complaints),
        evidence=[f"int:{i}" for i in labelled["interaction_id"]],
    )


@pytest.fixture(scope="module")
def kb():
    return load_knowledge_base()


@pytest.fixture(scope="module")
def sample(bank_store, bank_labels, as_of, kb):
    truth = pd.read_csv(bank_labels / "customers_truth.csv").set_index("customer_id")
    texts = pd.read_csv(bank_labels / "texts.csv")
    texts = texts[texts["source"] == "interaction"][["text_id", "channel", "intent"]]
    customers = []
    for customer_id in bank_store.customer_ids()[:SAMPLE]:
        customer = bank_store.customer(customer_id)
        accounts = bank_store.accounts(customer_id)
        profile = profile_of(customer, as_of)
        customers.append(
            {
                "customer": customer,
                "profile": profile,
                "accounts": accounts,
                "spending": spending_for_customer(bank_store, customer_id, as_of),
                "credit": credit_stand_in(
                    accounts,
                    bank_store.payments(customer_id),
                    customer.annual_income,
                    float(truth.loc[customer_id, "default_probability"]),
                    as_of,
                ),
                "sentiment": sentiment_stand_in(bank_store.interactions(customer_id), texts, as_of),
                "holdings": holdings_from_accounts(accounts, kb),
            }
        )
    return customers


def test_book_equals_per_customer_on_the_generated_bank(sample, kb, as_of):
    expected = []
    rows = []
    for c in sample:
        found = match_products(
            c["profile"], c["spending"], c["credit"], c["sentiment"], kb, as_of, holdings=c["holdings"]
        )
        expected += [(c["profile"].customer_id, r.product_code, r.score, r.apr) for r in found.recommendations]
        rows.append(
            features_from_findings(c["profile"], c["spending"], c["credit"], c["sentiment"], c["holdings"], as_of)
        )
    assert len(expected) >= SAMPLE // 2, "the sample must produce offers to compare"
    profiles = pd.DataFrame([profile_features(c["profile"]) for c in sample])
    book = match_products_book(profiles, pd.DataFrame(rows)[["customer_id", *FEATURE_COLUMNS]], kb, as_of)
    assert list(zip(book["customer_id"], book["product_code"], strict=True)) == [(e[0], e[1]) for e in expected]
    assert np.allclose(book["score"], [e[2] for e in expected], rtol=0, atol=1e-9)
    assert np.array_equal(
        book["apr"].to_numpy(float), np.array([np.nan if e[3] is None else e[3] for e in expected]), equal_nan=True
    )


def test_holdings_of_the_whole_book_equal_per_customer_holdings(sample, bank_store, kb):
    ids = [c["profile"].customer_id for c in sample]
    accounts = bank_store.table("accounts")
    book = holdings_frame(accounts[accounts["customer_id"].isin(ids)], kb).set_index("customer_id")
    for c in sample:
        row = book.loc[c["profile"].customer_id]
        one = c["holdings"]
        assert row["held"] == "|" + "|".join(sorted(one.product_codes)) + "|"
        assert row["cash_savings"] == pytest.approx(one.cash_savings)
        assert row["consolidatable_payment"] == pytest.approx(one.consolidatable_payment)


def test_offers_on_the_generated_bank_pass_compliance(sample, kb, as_of):
    offered = 0
    for c in sample:
        products = match_products(
            c["profile"], c["spending"], c["credit"], c["sentiment"], kb, as_of, holdings=c["holdings"]
        )
        offered += len(products.recommendations)
        finding = check_compliance(c["profile"], c["spending"], c["credit"], c["sentiment"], products, kb)
        blocking = [v for v in finding.violations if v.severity != "warn"]
        assert not blocking, (c["profile"].customer_id, blocking)
    assert offered > 0


def test_age_among_adults_changes_no_offer(sample, kb, as_of):
    for c in sample[:15]:
        if c["profile"].age is None or c["profile"].age < 18:
            continue
        results = {
            age: match_products(
                c["profile"].model_copy(update={"age": age}),
                c["spending"],
                c["credit"],
                c["sentiment"],
                kb,
                as_of,
                holdings=c["holdings"],
            ).model_dump()
            for age in (c["profile"].age, 19, 45, 80)
        }
        first = next(iter(results.values()))
        assert all(result == first for result in results.values()), c["profile"].customer_id


def test_store_path_and_langchain_tools(sample, bank_store, kb, as_of):
    from tools.compliance.service import as_langchain_tools as compliance_tools
    from tools.products import as_langchain_tools, products_for_customer, profile_from_store

    c = next(c for c in sample if c["profile"].consent_marketing)
    assert profile_from_store(bank_store, c["profile"].customer_id, as_of) == c["profile"]
    direct = match_products(
        c["profile"], c["spending"], c["credit"], c["sentiment"], kb, as_of, holdings=c["holdings"]
    )
    stored = products_for_customer(bank_store, c["profile"], c["spending"], c["credit"], c["sentiment"], kb, as_of)
    assert stored.recommendations == direct.recommendations
    assert stored.tools_called == ["holdings_from_accounts", "match_products"]
    matcher = as_langchain_tools(bank_store, kb, as_of)[0]
    result = matcher.invoke(
        {
            "customer_id": c["profile"].customer_id,
            "spending": c["spending"],
            "credit": c["credit"],
            "sentiment": c["sentiment"],
        }
    )
    assert [r["product_code"] for r in result["recommendations"]] == [
        r.product_code for r in direct.recommendations
    ]
    checker, draft = compliance_tools(bank_store, kb, as_of)
    verdict = checker.invoke(
        {
            "customer_id": c["profile"].customer_id,
            "spending": c["spending"],
            "credit": c["credit"],
            "sentiment": c["sentiment"],
            "products": direct,
        }
    )
    assert verdict["passed"]
    issues = draft.invoke(
        {
            "answer_text": "Approval is guaranteed, act now.",
            "compliance": verdict,
            "products": direct,
            "credit": c["credit"],
        }
    )
    assert {i["rule"] for i in issues} >= {"forbidden.guarantee", "forbidden.pressure"}
    unknown = matcher.invoke({"customer_id": "C-99999"})
    assert unknown["available"] is False
