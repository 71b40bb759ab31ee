"""Ingestion into the data store and Chroma: idempotent, crash-safe, offline, private."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from advisor.settings import Settings
from bank.ingest import Ingestor
from bank.vectorstore import CUSTOMER_TEXTS, POLICIES, PRODUCTS

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def text_bank(tmp_path_factory):
    """A bank small enough to embed in seconds."""
    from bank.generator import generate_bank

    out = tmp_path_factory.mktemp("text-bank") / "tables"
    generate_bank(customers=40, months=6, seed=11, out_dir=out)
    return out


def services_for(home: Path):
    from advisor import services

    settings = Settings(home=home)
    return settings, services.open_store(settings), services.open_chroma(settings), services.text_encoder(settings)


@pytest.fixture(scope="module")
def ingested(text_bank, tmp_path_factory):
    from advisor.services import knowledge_base

    home = tmp_path_factory.mktemp("home")
    settings, store, client, encoder = services_for(home)
    report = Ingestor(store, client, encoder, knowledge_base()).run(text_bank)
    return settings, store, client, encoder, report


def expected_rows(bank: Path, name: str) -> int:
    return len(pd.read_csv(bank / f"{name}.csv", dtype=str))


def test_every_table_loads_completely(ingested, text_bank):
    _, store, _, _, report = ingested
    for name in ("customers", "accounts", "transactions", "payments", "interactions"):
        assert store.count(name) == expected_rows(text_bank, name), name
    assert report.error_count == 0


def test_social_posts_are_kept_only_with_consent(ingested, text_bank):
    _, store, _, _, report = ingested
    posts = pd.read_csv(text_bank / "social_posts.csv", dtype=str)
    customers = pd.read_csv(text_bank / "customers.csv", dtype=str)
    consenting = set(customers.loc[customers["consent_social"] == "true", "customer_id"])
    assert store.count("social_posts") == posts["customer_id"].isin(consenting).sum()
    assert report.social_posts_without_consent == (~posts["customer_id"].isin(consenting)).sum() > 0


def test_second_run_adds_nothing_and_embeds_nothing(ingested, text_bank):
    settings, store, client, encoder, first = ingested
    from advisor.services import knowledge_base

    counts = {n: store.count(n) for n in ("customers", "transactions", "interactions")}
    chroma_counts = {n: client.get_collection(n).count() for n in (CUSTOMER_TEXTS, PRODUCTS, POLICIES)}
    second = Ingestor(store, client, encoder, knowledge_base()).run(text_bank)
    assert {n: store.count(n) for n in counts} == counts
    assert sum(second.texts_embedded.values()) == 0
    assert second.texts_unchanged == {n: first.texts_embedded[n] for n in first.texts_embedded}
    assert {n: client.get_collection(n).count() for n in chroma_counts} == chroma_counts


def test_customer_texts_carry_per_customer_metadata(ingested):
    _, store, client, encoder, _ = ingested
    collection = client.get_collection(CUSTOMER_TEXTS)
    customer_id = store.table("interactions", ["customer_id"])["customer_id"].iloc[0]
    vector = encoder.encode(["problem with my card"])[0]
    hits = collection.query(query_embeddings=[vector], n_results=3, where={"customer_id": customer_id})
    assert hits["ids"][0], "the customer's own texts are found"
    assert {m["customer_id"] for m in hits["metadatas"][0]} == {customer_id}
    assert {m["kind"] for m in hits["metadatas"][0]} <= {"interaction", "social_post"}
    assert all(m["date"] for m in hits["metadatas"][0])


def test_knowledge_is_embedded_with_product_and_policy_metadata(ingested):
    _, _, client, _, report = ingested
    assert report.texts_embedded[PRODUCTS] >= 22 and report.texts_embedded[POLICIES] >= 9
    product = client.get_collection(PRODUCTS).get(limit=1, include=["metadatas"])
    assert product["metadatas"][0]["product_code"]


def test_embedding_model_loads_offline_with_384_dimensions(ingested):
    encoder = ingested[3]
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    vectors = encoder.encode(["balance transfer card", "mortgage rates"])
    assert vectors.shape == (2, 384)
    assert abs(float((vectors[0] ** 2).sum()) - 1.0) < 1e-3


def test_no_direct_identifier_is_stored_in_clear(ingested, text_bank):
    settings = ingested[0]
    customers = pd.read_csv(text_bank / "customers.csv", dtype=str)
    needles = [v.encode() for col in ("full_name", "email", "phone") for v in customers[col].dropna()]
    for path in settings.home.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            leaked = [n for n in needles if n in content]
            assert not leaked, f"{path} holds {leaked[:3]}"


def _ingest_command(home: Path, data: Path) -> list[str]:
    return [sys.executable, "-c", "from advisor.cli import main; main()", "ingest", "--data", str(data)]


def test_crash_half_way_then_rerun_loses_nothing_and_duplicates_nothing(text_bank, tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "ADVISOR_HOME": str(home), "ADVISOR_INGEST_BATCH_SIZE": "16",
           "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(_ingest_command(home, text_bank), env=env, cwd=REPO_ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    embedded = 0
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with sqlite3.connect(home / "bank.db", timeout=1) as conn:
                embedded = conn.execute("SELECT COUNT(*) FROM embedded_texts").fetchone()[0]
        except sqlite3.Error:
            embedded = 0
        if embedded > 0:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    process.wait(timeout=30)
    assert embedded > 0, "the ingest was killed while embedding"

    rerun = subprocess.run(_ingest_command(home, text_bank) + ["--json"], env=env, cwd=REPO_ROOT,
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    settings, store, client, _ = services_for(home)
    for name in ("customers", "accounts", "transactions", "payments", "interactions"):
        assert store.count(name) == expected_rows(text_bank, name), name
    texts = store.count("interactions") + store.count("social_posts")
    assert client.get_collection(CUSTOMER_TEXTS).count() == texts
    with sqlite3.connect(home / "bank.db") as conn:
        tracked = conn.execute("SELECT COUNT(*) FROM embedded_texts WHERE collection = ?",
                               (CUSTOMER_TEXTS,)).fetchone()[0]
    assert tracked == texts


class _RenamedEncoder:
    """The ingested encoder under another name, as if the engine had been switched."""

    def __init__(self, encoder, name: str):
        self._encoder, self.name, self.dimension = encoder, name, encoder.dimension
        self.texts_encoded = 0

    def encode(self, texts):
        self.texts_encoded += len(texts)
        return self._encoder.encode(texts)


def test_switching_the_embedding_engine_embeds_everything_again_and_relabels(text_bank, tmp_path):
    from advisor.services import knowledge_base

    settings, store, client, encoder = services_for(tmp_path / "home")
    first = Ingestor(store, client, encoder, knowledge_base()).run(text_bank)
    switched = _RenamedEncoder(encoder, encoder.name + "+other-engine")
    again = Ingestor(store, client, switched, knowledge_base()).run(text_bank)
    assert switched.texts_encoded == sum(first.texts_embedded.values()) > 0
    assert again.texts_embedded == first.texts_embedded
    for name in (CUSTOMER_TEXTS, PRODUCTS, POLICIES):
        assert client.get_collection(name).metadata["embedding_model"] == switched.name
    unchanged = _RenamedEncoder(encoder, switched.name)
    Ingestor(store, client, unchanged, knowledge_base()).run(text_bank)
    assert unchanged.texts_encoded == 0
