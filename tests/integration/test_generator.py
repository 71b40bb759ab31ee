"""The synthetic bank generator: determinism, the data contract, and the ground truth."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from bank.contract import TABLES, read_table
from bank.generator import catalog as cat
from bank.generator import generate_bank, sample_people
from bank.generator import templates as tpl
from bank.generator.generate import LABEL_FILES
from bank.generator.texts import luhn_card_number
from bank.generator.window import Window

REPO = Path(__file__).resolve().parents[2]
SMALL = {"customers": 60, "months": 6, "seed": 11}
MEDIUM = {"customers": 1500, "months": 6, "seed": 5}


def _read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small")
    generate_bank(out_dir=out, **SMALL)
    return out


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("medium")
    generate_bank(out_dir=out, **MEDIUM)
    return out


@pytest.fixture(scope="module")
def medium_transactions(medium: Path) -> pd.DataFrame:
    frame = _read(medium, "transactions")
    frame["amount"] = frame["amount"].astype(float)
    frame["ts"] = pd.to_datetime(frame["timestamp"], format="%Y-%m-%dT%H:%M:%S")
    return frame


def _all_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.csv"))}


def test_same_seed_gives_byte_identical_files(small: Path, tmp_path: Path) -> None:
    again = generate_bank(out_dir=tmp_path / "again", **SMALL)
    first, second = _all_files(small), _all_files(tmp_path / "again")
    assert len(first) == len(TABLES) + len(LABEL_FILES)
    assert first.keys() == second.keys()
    for name in first:
        assert first[name] == second[name], name
    assert again.rows["transactions"] > 0


def test_another_seed_gives_another_bank(small: Path, tmp_path: Path) -> None:
    generate_bank(out_dir=tmp_path, **{**SMALL, "seed": SMALL["seed"] + 1})
    for name in ("customers", "transactions", "interactions"):
        assert (small / f"{name}.csv").read_bytes() != (tmp_path / f"{name}.csv").read_bytes()


def test_labels_go_to_their_own_folder(tmp_path: Path) -> None:
    report = generate_bank(customers=5, months=2, seed=1, out_dir=tmp_path / "bank", labels_dir=tmp_path / "truth")
    assert sorted(p.name for p in (tmp_path / "truth").iterdir()) == sorted(f"{n}.csv" for n in LABEL_FILES)
    assert sorted(p.name for p in (tmp_path / "bank").iterdir()) == sorted(t.file_name for t in TABLES.values())
    assert report.labels_dir == tmp_path / "truth"
    assert report.rows["customers"] == 5


def test_headers_are_exactly_the_contract(small: Path) -> None:
    for name, table in TABLES.items():
        header = (small / table.file_name).read_text(encoding="utf-8").splitlines()[0]
        assert header.split(",") == table.column_names, name
    for name, columns in LABEL_FILES.items():
        header = (small / "labels" / f"{name}.csv").read_text(encoding="utf-8").splitlines()[0]
        assert header.split(",") == list(columns), name


def test_tables_pass_contract_validation_without_errors(small: Path) -> None:
    for name, table in TABLES.items():
        chunks = list(read_table(small / table.file_name, table))
        assert sum(len(c.errors) for c in chunks) == 0, [str(e) for c in chunks for e in c.errors][:5]
        assert sum(len(c.frame) for c in chunks) > 0, name


def test_formats_and_vocabularies(small: Path) -> None:
    customers, accounts = _read(small, "customers"), _read(small, "accounts")
    transactions, payments = _read(small, "transactions"), _read(small, "payments")
    assert customers["customer_id"].str.fullmatch(r"C-\d{5}").all()
    assert customers["advisor_id"].str.fullmatch(r"A-\d{3}").all()
    assert customers["advisor_id"].nunique() >= 2
    assert set(customers["consent_social"]) == {"true", "false"}
    assert customers["annual_income"].str.fullmatch(r"\d+\.\d\d").all()
    assert set(customers["gender"]) <= set(cat.GENDERS)
    assert set(customers["marital_status"]) <= set(cat.MARITAL_STATUSES)
    assert set(customers["employment_status"]) <= set(cat.EMPLOYMENT_STATUSES)
    assert customers["postcode"].str.fullmatch(r"[A-Z]\d[\dW] [A-Z0-9]{4}").all()
    assert accounts["account_id"].str.fullmatch(r"AC-\d{7}").all()
    assert set(accounts["type"]) <= set(TABLES["accounts"].column("type").choices)
    assert set(accounts["status"]) <= {"open", "closed", "delinquent", "charged_off"}
    revolving = accounts["type"] == "credit_card"
    assert (accounts.loc[~revolving, "credit_limit"] == "").all()
    assert (accounts.loc[revolving & (accounts["status"] != "closed"), "credit_limit"] != "").all()
    assert transactions["transaction_id"].str.fullmatch(r"T-\d{8,}").all()
    assert transactions["transaction_id"].is_unique
    assert transactions["timestamp"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d").all()
    assert transactions["amount"].str.fullmatch(r"-?\d+\.\d\d").all()
    assert set(transactions["currency"]) == {"EUR"}
    assert set(transactions["category"]) <= set(cat.CATEGORIES)
    assert set(transactions["channel"]) <= set(cat.CHANNELS)
    assert payments["due_date"].str.fullmatch(r"\d{4}-\d\d-\d\d").all()
    assert ((payments["paid_date"] == "") | payments["paid_date"].str.fullmatch(r"\d{4}-\d\d-\d\d")).all()


def test_product_codes_exist_in_the_catalogue(medium: Path) -> None:
    catalogue = REPO / "knowledge" / "products.yaml"
    if not catalogue.exists():
        pytest.skip("knowledge/products.yaml is absent")
    codes = {p["code"]: p["type"] for p in yaml.safe_load(catalogue.read_text())["products"]}
    accounts = _read(medium, "accounts")
    assert set(accounts["product_code"]) <= codes.keys()
    assert all(codes[code] == kind for code, kind in zip(accounts["product_code"], accounts["type"], strict=True))


def test_transactions_belong_to_the_owner_of_their_account_and_follow_its_opening(medium: Path) -> None:
    transactions = _read(medium, "transactions")[["account_id", "customer_id", "timestamp"]]
    accounts = _read(medium, "accounts")[["account_id", "customer_id", "opened_date"]]
    joined = transactions.merge(accounts, on="account_id", how="left", suffixes=("", "_owner"))
    assert (joined["customer_id"] == joined["customer_id_owner"]).all()
    assert (joined["timestamp"].str[:10] >= joined["opened_date"]).all()


def test_every_paid_instalment_is_debited_on_its_paid_date(
    medium: Path, medium_transactions: pd.DataFrame
) -> None:
    payments = _read(medium, "payments")
    paid = payments[payments["paid_date"] != ""]
    debits = medium_transactions[
        medium_transactions["category"].isin(["card_payment", "loan_payment", "mortgage_payment"])
    ]
    keys = set(zip(debits["customer_id"], debits["timestamp"].str[:10], (-debits["amount"]).round(2), strict=True))
    wanted = zip(paid["customer_id"], paid["paid_date"], paid["amount_paid"].astype(float).round(2), strict=True)
    missing = [key for key in wanted if key not in keys]
    assert not missing, missing[:5]


def test_days_late_cover_every_delinquency_band(medium: Path) -> None:
    days = _read(medium, "payments")["days_late"].astype(int)
    bands = pd.cut(days, [-1, 0, 29, 59, 89, 100_000]).value_counts()
    assert (bands > 0).all(), bands


def test_hidden_risk_factor_drives_late_payment_and_default(medium: Path) -> None:
    truth = _read(medium, "labels/customers_truth")
    risk = truth["risk_factor"].astype(float)
    default = truth["default_12m"].astype(int)
    payments = _read(medium, "payments")
    late = truth["customer_id"].isin(payments.loc[payments["days_late"].astype(int) >= 30, "customer_id"])
    assert late.sum() >= 20
    assert risk[late].mean() > risk[~late].mean() + 0.5
    assert roc_auc_score(default, risk) >= 0.7
    assert 0.06 <= default.mean() <= 0.14


def test_risk_factor_is_independent_of_protected_attributes() -> None:
    window = Window(end=date(2026, 10, 31), months=12)
    people = sample_people(seed=3, chunk=0, first=0, count=5000, total=5000, window=window)
    for gender in range(len(cat.GENDERS) - 1):
        assert abs(np.corrcoef(people.gender == gender, people.risk)[0, 1]) < 0.1
    assert abs(np.corrcoef(people.age, people.risk)[0, 1]) < 0.1
    for region in range(len(cat.REGIONS)):
        assert abs(np.corrcoef(people.region == region, people.risk)[0, 1]) < 0.1
    for status in range(len(cat.MARITAL_STATUSES)):
        if (people.marital == status).sum() > 50:
            assert abs(np.corrcoef(people.marital == status, people.risk)[0, 1]) < 0.1
    assert np.corrcoef(np.log(people.salary_income), people.risk)[0, 1] < 0


def test_labelled_subscriptions_recur_with_their_period(medium: Path, medium_transactions: pd.DataFrame) -> None:
    subscriptions = _read(medium, "labels/subscriptions")
    assert {"monthly", "annual"} <= set(subscriptions["period"])
    assert (subscriptions["duplicate"] == "true").any() and (subscriptions["overlap"] == "true").any()
    assert (subscriptions["price_rise_date"] != "").any()
    charges = medium_transactions[medium_transactions["category"] == "subscriptions"].sort_values(
        "ts", kind="stable"
    )
    charges = charges.assign(
        day=charges["ts"].dt.normalize(), paid=(-charges["amount"]).round(2), dom=charges["ts"].dt.day
    )
    keys = ["customer_id", "merchant", "account_id"]
    charges["gap"] = charges.groupby(keys)["day"].diff().dt.days
    seen = charges.groupby(keys).agg(
        n=("paid", "size"),
        first=("timestamp", "min"),
        last=("timestamp", "max"),
        min_gap=("gap", "min"),
        max_gap=("gap", "max"),
        prices=("paid", lambda x: frozenset(x)),
        low_day=("dom", "min"),
        high_day=("dom", "max"),
    )
    labelled = subscriptions.join(seen, on=keys)
    assert labelled["n"].notna().all() and (labelled["n"] == labelled["n_charges"].astype(int)).all()
    assert (labelled["first"].str[:10] == labelled["first_date"]).all()
    assert (labelled["last"].str[:10] == labelled["last_date"]).all()
    monthly, annual = labelled[labelled["period"] == "monthly"], labelled[labelled["period"] == "annual"]
    several = monthly[monthly["n"] > 1]
    assert several["min_gap"].ge(24).all() and several["max_gap"].le(37).all()
    same_day = several[several["high_day"] <= 28]
    assert (same_day["high_day"] - same_day["low_day"]).le(4).all()
    assert annual.loc[annual["n"] > 1, "min_gap"].ge(360).all()
    for row in labelled.itertuples():
        prices = {round(float(row.amount), 2)} | (
            {round(float(row.amount_after_rise), 2)} if row.amount_after_rise else set()
        )
        assert row.prices <= prices, row
    risen = labelled[labelled["price_rise_date"] != ""]
    after = charges.merge(risen[keys + ["price_rise_date", "amount_after_rise"]], on=keys)
    after = after[after["timestamp"].str[:10] >= after["price_rise_date"]]
    assert (after["paid"] == after["amount_after_rise"].astype(float).round(2)).all()
    duplicates = subscriptions[subscriptions["duplicate"] == "true"]
    per_service = duplicates.groupby(["customer_id", "merchant"])["account_id"].nunique()
    assert (per_service == 2).all()


def test_labelled_anomalies_are_in_the_transactions(medium: Path, medium_transactions: pd.DataFrame) -> None:
    anomalies = _read(medium, "labels/anomalies")
    assert set(anomalies["kind"]) == set(cat.ANOMALY_KINDS)
    tx = medium_transactions.set_index("transaction_id")
    found = tx.loc[anomalies["transaction_id"]]
    assert (found["customer_id"].to_numpy() == anomalies["customer_id"].to_numpy()).all()
    assert np.allclose(found["amount"].to_numpy(), anomalies["amount"].astype(float).to_numpy())
    ordinary = tx.drop(index=anomalies["transaction_id"])
    kinds = anomalies.set_index("transaction_id")["kind"]
    odd = found[kinds.reindex(found.index) == "odd_hour"]
    assert odd["ts"].dt.hour.between(2, 3).all()
    assert (ordinary["ts"].dt.hour >= 6).all()
    foreign = found[kinds.reindex(found.index) == "foreign_country"]
    assert not set(foreign["country"]) & set(ordinary["country"])
    new = found[kinds.reindex(found.index) == "new_merchant"]
    assert not set(new["merchant"]) & set(ordinary["merchant"])
    bursts = found[kinds.reindex(found.index) == "velocity_burst"]
    for _, burst in bursts.groupby(["customer_id", bursts["ts"].dt.date]):
        assert len(burst) >= 5 and (burst["ts"].max() - burst["ts"].min()).total_seconds() <= 600
    big = found[kinds.reindex(found.index) == "large_amount"]
    typical = ordinary[ordinary["amount"] < 0].groupby("customer_id")["amount"].quantile(0.05)
    assert (big["amount"].to_numpy() < typical.reindex(big["customer_id"]).to_numpy()).all()


def test_social_posts_exist_for_both_consent_values(medium: Path) -> None:
    customers = _read(medium, "customers").set_index("customer_id")
    texts = _read(medium, "labels/texts")
    posts = texts[texts["source"] == "social_post"]
    assert set(posts["consent_social"]) == {"true", "false"}
    assert (
        posts["consent_social"].to_numpy() == customers.loc[posts["customer_id"], "consent_social"].to_numpy()
    ).all()
    assert (posts["usable"] == posts["consent_social"]).all()
    assert (texts.loc[texts["source"] == "interaction", "usable"] == "true").all()
    written = _read(medium, "social_posts")
    assert set(written["post_id"]) == set(posts["text_id"])
    assert set(written["platform"]) <= {"x", "facebook", "reddit", "instagram", "trustpilot"}


def _luhn_ok(number: str) -> bool:
    digits = [int(d) for d in number][::-1]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(digits))
    return total % 10 == 0


def _labelled_texts(folder: Path) -> pd.DataFrame:
    texts = _read(folder, "labels/texts")
    written = pd.concat(
        [
            _read(folder, "interactions").rename(columns={"interaction_id": "text_id"})[["text_id", "text"]],
            _read(folder, "social_posts").rename(columns={"post_id": "text_id"})[["text_id", "text"]],
        ]
    ).set_index("text_id")["text"]
    texts["text"] = written.loc[texts["text_id"]].to_numpy()
    return texts


def test_text_labels_match_the_texts(medium: Path) -> None:
    texts = _labelled_texts(medium)
    assert set(texts["intent"]) == set(tpl.INTENTS)
    assert texts["sentiment"].astype(float).between(-1, 1).all()
    mean = texts.assign(s=texts["sentiment"].astype(float)).groupby("intent")["s"].mean()
    assert mean["hardship"] < -0.3 and mean["complaint_service"] < -0.3 and mean["travel_plans"] > 0.3
    card = re.compile(r"\b(?:\d{4}[ -]?){3}\d{4}\b")
    email = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
    for row in texts[texts["contains_pii"] == "true"].itertuples():
        if row.pii_types == "card":
            match = card.search(row.text)
            assert match and _luhn_ok(re.sub(r"\D", "", match.group())), row.text
        elif row.pii_types == "email":
            assert email.search(row.text), row.text
        else:
            assert sum(ch.isdigit() for ch in row.text) >= 9, row.text
    clean = texts[texts["contains_pii"] == "false"]
    assert not clean["text"].str.contains(card).any() and not clean["text"].str.contains(email).any()
    assert 0.003 <= (texts["contains_pii"] == "true").mean() <= 0.03
    injected = texts[texts["injection"] == "true"]
    assert len(injected) > 0
    assert all(any(phrase in text for phrase in tpl.INJECTIONS) for text in injected["text"])
    assert not any(
        any(phrase in text for phrase in tpl.INJECTIONS)
        for text in texts.loc[texts["injection"] == "false", "text"]
    )


def test_each_intent_is_worded_many_ways(medium: Path) -> None:
    assert all(len(tpl.TEMPLATES[intent]) >= 8 for intent in tpl.INTENTS)
    texts = _labelled_texts(medium)
    distinct = texts.groupby("intent")["text"].nunique()
    counts = texts.groupby("intent").size()
    assert (distinct >= 0.9 * counts).all(), (distinct / counts).round(2).to_dict()


def test_life_events_change_behaviour(medium: Path, medium_transactions: pd.DataFrame) -> None:
    truth = _read(medium, "labels/customers_truth")
    lost = truth[truth["life_event"] == "job_loss"]
    assert len(lost) >= 5
    salaries = medium_transactions[medium_transactions["merchant"].str.endswith(" Salary")]
    jobseeker = medium_transactions[medium_transactions["merchant"] == "DSP Jobseeker's Allowance"]
    for row in lost.itertuples():
        paid = salaries[salaries["customer_id"] == row.customer_id]
        assert (paid["timestamp"].str[:10] < row.life_event_date).all()
    assert lost["customer_id"].isin(jobseeker["customer_id"]).mean() > 0.8
    texts = _labelled_texts(medium)
    interactions = _read(medium, "interactions").set_index("interaction_id")
    hardship = texts[texts["intent"] == "hardship"].assign(
        day=lambda f: interactions.reindex(f["text_id"])["timestamp"].str[:10].to_numpy()
    )
    for row in lost[lost["life_event_date"] < "2026-10-30"].itertuples():
        said = hardship[hardship["customer_id"] == row.customer_id]
        assert (said["day"] >= row.life_event_date).any(), row.customer_id
    customers = _read(medium, "customers").set_index("customer_id")
    assert (customers.loc[lost["customer_id"], "employment_status"] == "unemployed").all()
    married = truth.loc[truth["life_event"] == "wedding", "customer_id"]
    assert (customers.loc[married, "marital_status"] == "married").all()


def test_luhn_card_numbers_are_valid() -> None:
    import random

    rnd = random.Random(0)
    assert all(_luhn_ok(luhn_card_number(rnd)) for _ in range(200))


def test_volume_is_about_thirty_to_forty_transactions_a_month(medium: Path) -> None:
    rows = sum(1 for _ in (medium / "transactions.csv").open(encoding="utf-8")) - 1
    per_month = rows / MEDIUM["customers"] / MEDIUM["months"]
    assert 28 <= per_month <= 42


def test_rejects_an_empty_bank(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate_bank(customers=0, months=12, seed=1, out_dir=tmp_path)
    with pytest.raises(ValueError):
        generate_bank(customers=10, months=0, seed=1, out_dir=tmp_path)
