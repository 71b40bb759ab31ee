"""The default-risk model and the credit tools on generated banks, judged by the generator's labels."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from advisor.settings import Settings
from tools.credit import (
    BANK_LAYOUT,
    REASON_TEXTS,
    BankFrames,
    as_langchain_tools,
    assess_credit,
    bank_training_set,
    credit_for_customer,
    ensure_risk_model,
    frames_from_folder,
    frames_from_store,
    load_default_labels,
    profile_of,
    risk_band,
    score_book,
    train_bank_model,
)
from tools.credit.protected import protected_features

TRAIN_BANK = {"customers": 1000, "months": 12, "seed": 2024}
UNSEEN_BANK = {"customers": 600, "months": 12, "seed": 4048}
PROTECTED_CHANGES = {"gender": "non_binary", "marital_status": "widowed", "region": "Far North",
                     "postcode": "Z99 9ZZ", "birth_date": "1940-01-01"}


def generated(tmp_path_factory, spec: dict) -> Path:
    from bank.generator import generate_bank

    out = tmp_path_factory.mktemp(f"bank-{spec['seed']}") / "tables"
    generate_bank(out_dir=out, **spec)
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model trained on a 1,000-customer generated bank against default_12m (its training
    time is measured by bench/tools.py)."""
    folder = generated(tmp_path_factory, TRAIN_BANK)
    frames = frames_from_folder(folder, with_audit_groups=True)
    return train_bank_model(frames, labels=load_default_labels(folder / "labels"))


@pytest.fixture(scope="module")
def unseen(tmp_path_factory):
    folder = generated(tmp_path_factory, UNSEEN_BANK)
    data = bank_training_set(frames_from_folder(folder), labels=load_default_labels(folder / "labels"))
    truth = pd.read_csv(folder / "labels" / "customers_truth.csv").set_index("customer_id")
    return data, truth.reindex(data.features.index)


@pytest.fixture(scope="module")
def small_model(bank_store, bank_labels, as_of):
    """The shared 150-customer bank's model (what the agents' tests run with)."""
    return train_bank_model(frames_from_store(bank_store, with_audit_groups=True), as_of,
                            load_default_labels(bank_labels))


def test_the_card_says_what_the_model_is(trained):
    model = trained
    card = model.card
    assert card.layout == "bank" and card.features == BANK_LAYOUT.features
    assert protected_features(card.features) == []
    assert card.target == "default_12m" and card.training_rows == TRAIN_BANK["customers"]
    # cross-fitted figures on 1,000 customers are noisy; the unseen bank below is the real test
    assert {"auc", "ks", "brier"} <= set(card.out_of_fold) and card.out_of_fold["auc"] > 0.6
    assert card.band_cutoffs == {"A": 0.02, "B": 0.05, "C": 0.1, "D": 0.2}
    assert model.evidence_id == f"model:default-risk@{card.version}"


def test_the_model_ranks_the_generators_defaults_on_an_unseen_bank(trained, unseen):
    model = trained
    data, truth = unseen
    probability = model.predict_proba(data.features)
    auc = roc_auc_score(data.target, probability)
    ceiling = roc_auc_score(data.target, truth["default_probability"])
    assert auc > 0.72, f"AUC {auc:.3f} against default_12m (the generator's own probability reaches {ceiling:.3f})"


def test_the_hidden_risk_factor_ordering_holds(trained, unseen):
    model = trained
    data, truth = unseen
    probability = pd.Series(model.predict_proba(data.features), index=data.features.index)
    quintile = pd.qcut(truth["risk_factor"], 5, labels=False)
    means = probability.groupby(quintile).mean().to_numpy()
    assert np.all(np.diff(means) > 0), f"mean probability by risk-factor quintile: {np.round(means, 3)}"
    assert truth["risk_factor"].corr(probability, method="spearman") > 0.4


def riskiest_customer(bank_store) -> str:
    payments = bank_store.table("payments", ["customer_id", "days_late"])
    return str(payments.groupby("customer_id")["days_late"].sum().idxmax())


def test_credit_for_customer_gives_figures_risk_and_reasons_with_evidence(bank_store, small_model, as_of):
    customer_id = riskiest_customer(bank_store)
    finding = credit_for_customer(bank_store, customer_id, as_of, small_model)
    assert finding.available and finding.late_payments_12m > 0
    assert 0 <= finding.default_probability <= 1
    assert finding.risk_band == risk_band(finding.default_probability)
    assert finding.model_version == small_model.version
    assert finding.evidence[-1] == f"model:default-risk@{small_model.version}"
    pattern = re.compile(r"^(acct:AC-\d+|pay:AC-\d+:\d{4}-\d{2}-\d{2}|model:default-risk@bank-[0-9a-f]+)$")
    assert all(pattern.match(e) for e in finding.evidence), finding.evidence
    assert any(e.startswith("pay:") for e in finding.evidence)
    assert finding.tools_called[-1] == "credit.default_risk"
    reasons = finding.reason_codes
    assert 1 <= len(reasons) <= 4
    assert [r.contribution for r in reasons] == sorted((r.contribution for r in reasons), reverse=True)
    assert all(r.text == REASON_TEXTS[r.code] and r.contribution > 0 for r in reasons)
    assert finding.late_30_plus_3m <= finding.late_30_plus_6m <= finding.late_30_plus_12m


def test_unknown_customer_is_not_available(bank_store, small_model, as_of):
    finding = credit_for_customer(bank_store, "C-99999", as_of, small_model)
    assert not finding.available and "unknown customer" in finding.missing_reason


def test_score_book_agrees_with_the_per_customer_finding(bank_store, small_model, as_of):
    book = score_book(bank_store, small_model, as_of).set_index("customer_id")
    assert len(book) == bank_store.count("customers")
    assert {"probability", "band", "reason_1", "reason_4", "utilisation", "dti", "monthly_debt_payments",
            "total_debt", "late_30_plus_3m", "worst_days_late", "has_credit"} <= set(book.columns)
    for customer_id in bank_store.customer_ids()[:10]:
        finding = credit_for_customer(bank_store, customer_id, as_of, small_model)
        row = book.loc[customer_id]
        assert row["probability"] == pytest.approx(finding.default_probability, abs=1e-4)
        assert row["band"] == finding.risk_band
        assert row["monthly_debt_payments"] == pytest.approx(finding.monthly_debt_payments, abs=0.01)
        assert row["late_30_plus_12m"] == finding.late_30_plus_12m
        codes = [c for c in row[["reason_1", "reason_2", "reason_3", "reason_4"]] if c is not None]
        assert codes == [r.code for r in finding.reason_codes]


def test_protected_attributes_do_not_move_probability_or_band(bank_store, small_model, as_of):
    """Counterfactual: the same customers with other gender, age, marital status, region, postcode."""
    base = frames_from_store(bank_store)
    everything = bank_store.table("customers")
    assert {"gender", "birth_date", "marital_status", "region", "postcode"} <= set(everything.columns)
    changed = everything.assign(**PROTECTED_CHANGES)
    before = score_book(BankFrames(everything, base.accounts, base.payments), small_model, as_of)
    after = score_book(BankFrames(changed, base.accounts, base.payments), small_model, as_of)
    pd.testing.assert_frame_equal(before, after)
    customer_id = riskiest_customer(bank_store)
    profile = profile_of(bank_store.customer(customer_id), as_of)
    accounts, payments = bank_store.accounts(customer_id), bank_store.payments(customer_id)
    young = assess_credit(profile.model_copy(update={"age": 19}), accounts, payments, None, small_model, as_of)
    old = assess_credit(profile.model_copy(update={"age": 88}), accounts, payments, None, small_model, as_of)
    assert young.model_dump() == old.model_dump()


def test_protected_attributes_changed_in_the_store_do_not_move_the_finding(bank_dir, small_model, tmp_path):
    from advisor.services import open_store
    from bank.contract import CUSTOMERS
    from bank.ingest import Ingestor

    store = open_store(Settings(home=tmp_path, data_key=None))
    Ingestor(store).run(bank_dir, with_text=False)
    as_of = store.latest_date()
    ids = store.customer_ids()[:8]
    before = {c: credit_for_customer(store, c, as_of, small_model) for c in ids}
    customers = store.table("customers")
    rows = customers[customers["customer_id"].isin(ids)].drop(columns=["extra"])
    decrypted = [store.customer(c) for c in rows["customer_id"]]
    for column in ("full_name", "email", "phone"):
        rows[column] = [getattr(c, column) for c in decrypted]
    rows = rows.assign(**PROTECTED_CHANGES)
    store.upsert(CUSTOMERS, rows)
    assert store.customer(ids[0]).gender == "non_binary"
    after = {c: credit_for_customer(store, c, as_of, small_model) for c in ids}
    for customer_id in ids:
        assert after[customer_id].default_probability == before[customer_id].default_probability
        assert after[customer_id].risk_band == before[customer_id].risk_band
        assert after[customer_id].reason_codes == before[customer_id].reason_codes
    store.close()


def test_ensure_risk_model_trains_once_then_loads(bank_store, bank_labels, tmp_path):
    settings = Settings(home=tmp_path, data_key=None)
    first = ensure_risk_model(settings, bank_store, bank_labels)
    folder = Path(settings.models_dir) / "risk"
    assert (folder / "model.joblib").exists() and (folder / "model_card.json").exists()
    written = (folder / "model.joblib").stat().st_mtime_ns
    second = ensure_risk_model(settings, bank_store)
    assert second.version == first.version and (folder / "model.joblib").stat().st_mtime_ns == written
    assert second.card.target == "default_12m"
    frame = frames_from_store(bank_store)
    features = bank_training_set(frame, labels=load_default_labels(bank_labels)).features
    np.testing.assert_allclose(second.predict_proba(features), first.predict_proba(features))


def test_without_labels_the_proxy_target_is_used(bank_store, tmp_path):
    model = ensure_risk_model(Settings(home=tmp_path, data_key=None), bank_store)
    assert model.card.target.startswith("proxy: 90+ days past due")
    assert any("features as of" in note for note in model.card.notes)


def test_langchain_tool_returns_the_finding(bank_store, small_model, as_of):
    (tool,) = as_langchain_tools(bank_store, small_model, as_of)
    result = tool.invoke({"customer_id": riskiest_customer(bank_store)})
    assert result["available"] and result["risk_band"] in "ABCDE"
