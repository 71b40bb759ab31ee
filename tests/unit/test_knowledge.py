"""The knowledge base files load, are internally consistent and match the retrieval set."""

from __future__ import annotations

import json
import re
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
import yaml

from bank.knowledge import (
    PRODUCT_TYPES,
    KnowledgeBase,
    KnowledgeBaseError,
    default_knowledge_root,
    load_knowledge_base,
)

REPO = Path(__file__).resolve().parents[2]
RETRIEVAL_SET = REPO / "evals" / "datasets" / "retrieval.jsonl"
REQUIRED_POLICIES = {
    "POL-SUITABILITY", "POL-AFFORD", "POL-FAIR-LENDING", "POL-MARKETING", "POL-VULNERABLE",
    "POL-DATA-PROTECTION", "POL-COMPLAINTS", "POL-PRICING", "POL-FRAUD",
}
BAND_POSITION = {"A": Decimal("0"), "B": Decimal("0.25"), "C": Decimal("0.5"),
                 "D": Decimal("0.75"), "E": Decimal("1")}
# POL-SUITABILITY §5.1: highest investment risk level per band.
MAX_INVESTMENT_RISK = {"A": 7, "B": 6, "C": 4, "D": 2, "E": 0}
CITATION = re.compile(r"(POL-[A-Z-]+[A-Z]) §(\d+(?:\.\d+)*)")


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge_base()


@pytest.fixture
def knowledge_copy(tmp_path: Path) -> Path:
    root = tmp_path / "knowledge"
    shutil.copytree(default_knowledge_root(), root)
    return root


def _band_price(apr_min: float, apr_max: float, band: str) -> Decimal:
    low, high = Decimal(str(apr_min)), Decimal(str(apr_max))
    return (low + BAND_POSITION[band] * (high - low)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def test_catalogue_has_at_least_22_products_of_every_type(kb):
    assert len(kb.products) >= 22
    assert {p.type for p in kb.products} == set(PRODUCT_TYPES)
    assert len(kb.products_of_type("credit_card")) >= 6
    assert len(kb.products_of_type("mortgage")) >= 3


def test_investments_cover_cautious_balanced_and_growth_risk_levels(kb):
    levels = {p.risk_level for p in kb.products_of_type("investment")}
    assert 2 in levels and levels & {3, 4} and levels & {5, 6}


def test_product_disclosures_and_documents_exist(kb):
    for product in kb.products:
        for disclosure_id in product.disclosures:
            assert product.type in kb.disclosure(disclosure_id).applies_to, (product.code, disclosure_id)
        for doc_id in product.documents:
            assert kb.policy(doc_id).id == doc_id


def test_apr_ranges_are_ordered_and_credit_products_have_one(kb):
    for product in kb.products:
        if product.apr_min is not None:
            assert product.apr_min <= product.apr_max, product.code
        if product.type in {"credit_card", "personal_loan", "auto_loan", "mortgage"}:
            assert product.grants_credit, product.code


def test_representative_apr_is_the_band_b_price(kb):
    """POL-PRICING §3.3: the representative example quotes the band B price of the range."""
    for product in kb.products:
        if not product.grants_credit:
            continue
        price = _band_price(product.apr_min, product.apr_max, "B")
        quoted = re.findall(r"(\d+(?:\.\d+)?)% APRC? ", product.representative_example + " ")
        assert quoted and Decimal(quoted[-1]) == price, (product.code, quoted, price)


def test_savings_quote_their_aer_in_the_example(kb):
    for product in kb.products_of_type("savings"):
        assert f"{product.interest_rate:.2f}% AER" in product.representative_example, product.code


def test_investment_band_ceilings_follow_the_suitability_table(kb):
    for product in kb.products_of_type("investment"):
        ceiling = product.eligibility.max_risk_band
        assert product.risk_level <= MAX_INVESTMENT_RISK[ceiling], product.code


def test_only_the_hardship_plan_is_offered_without_marketing_consent(kb):
    hardship = [p for p in kb.products if p.is_hardship_support]
    assert [p.code for p in hardship] == ["HARDSHIP-PLAN"]
    assert not hardship[0].grants_credit
    for product in kb.products:
        assert product.eligibility.requires_marketing_consent is not product.is_hardship_support


def test_band_ceiling_comparison(kb):
    travel = kb.product("CC-TRAVEL").eligibility  # ceiling B
    assert travel.allows_band("A") and travel.allows_band("B")
    assert not travel.allows_band("C") and not travel.allows_band("E")


def test_at_least_nine_policies_with_numbered_sections(kb):
    assert {p.id for p in kb.policies} >= REQUIRED_POLICIES
    for policy in kb.policies:
        section_ids = [s.section_id for s in policy.sections]
        assert section_ids[:2] == ["1", "2"], policy.id
        assert any("." in s for s in section_ids), policy.id
        assert len(set(section_ids)) == len(section_ids), policy.id
        words = sum(len(s.text.split()) for s in policy.sections)
        assert 450 <= words <= 1200, (policy.id, words)


def test_every_citation_in_the_knowledge_base_resolves(kb):
    texts = [s.text for p in kb.policies for s in p.sections]
    texts += [" ".join(p.eligibility.other) for p in kb.products]
    cited = {match for text in texts for match in CITATION.findall(text)}
    assert len(cited) >= 20
    for doc_id, section_id in cited:
        assert kb.section(doc_id, section_id).section_id == section_id


def test_affordability_caps_are_written_as_the_code_enforces_them(kb):
    caps = kb.section("POL-AFFORD", "3.2").text
    assert "| A, B, C | 0.40 |" in caps and "| D | 0.35 |" in caps and "| E | No new credit |" in caps
    assert "3 business days" in kb.section("POL-COMPLAINTS", "3.1").text


def test_chunk_ids_are_unique_and_cover_everything(kb):
    chunks = list(kb.chunks())
    ids = [c.id for c in chunks]
    assert len(ids) == len(set(ids))
    sections = sum(len(p.sections) for p in kb.policies)
    assert len(chunks) == len(kb.products) + sections + len(kb.disclosures)
    assert "product:CC-TRAVEL" in ids and "policy:POL-AFFORD:3.2" in ids and "disclosure:DISC-APR" in ids
    for chunk in chunks:
        assert set(chunk.metadata) == {"doc_id", "kind", "product_code", "section"}
        assert all(isinstance(v, str) for v in chunk.metadata.values())
        assert chunk.metadata["kind"] == chunk.kind and chunk.metadata["doc_id"] == chunk.doc_id


def test_product_chunk_reads_as_prose_with_its_figures(kb):
    chunk = next(c for c in kb.chunks() if c.id == "product:CC-TRAVEL")
    assert chunk.metadata["product_code"] == "CC-TRAVEL"
    for fact in ("Travel Rewards", "22.9% to 28.9%", "annual fee: EUR 95", "foreign transaction fee: 0%",
                 "risk band B or better", "Variable rate (DISC-VARIABLE-RATE)"):
        assert fact in chunk.text
    section = next(c for c in kb.chunks() if c.id == "policy:POL-AFFORD:3.2")
    assert section.metadata["section"] == "3.2"
    assert "Affordability and Responsible Lending Policy" in section.text and "DTI caps" in section.text


def test_every_retrieval_gold_id_resolves(kb):
    rows = [json.loads(line) for line in RETRIEVAL_SET.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 60
    assert len({r["id"] for r in rows}) == len(rows)
    assert len({r["question"].lower() for r in rows}) == len(rows)
    chunk_ids = {c.id for c in kb.chunks()}
    for row in rows:
        assert set(row) == {"id", "question", "gold", "kind"}
        assert row["kind"] in {"product", "policy", "disclosure"}
        assert 1 <= len(row["gold"]) <= 3
        assert row["gold"][0].split(":")[0] == row["kind"], row["id"]
        missing = [g for g in row["gold"] if g not in chunk_ids]
        assert not missing, (row["id"], missing)
    assert {r["kind"] for r in rows} == {"product", "policy", "disclosure"}


def _rewrite_products(root: Path, code: str, **changes) -> Path:
    path = root / "products.yaml"
    content = yaml.safe_load(path.read_text(encoding="utf-8"))
    record = next(p for p in content["products"] if p["code"] == code)
    record.update(changes)
    path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("changes, fragment", [
    ({"apr_min": 30.0}, "apr_min 30.0 is above apr_max"),
    ({"needs": ["teleportation"]}, "needs.0"),
    ({"surprise": 1}, "surprise"),
])
def test_broken_product_names_the_file_and_the_product(knowledge_copy, changes, fragment):
    path = _rewrite_products(knowledge_copy, "CC-TRAVEL", **changes)
    with pytest.raises(KnowledgeBaseError) as raised:
        load_knowledge_base(knowledge_copy)
    message = str(raised.value)
    assert str(path) in message and "CC-TRAVEL" in message and fragment in message


def test_unknown_disclosure_names_the_file_and_the_product(knowledge_copy):
    path = _rewrite_products(knowledge_copy, "SAV-EASY", disclosures=["DISC-NOT-THERE"])
    with pytest.raises(KnowledgeBaseError, match="SAV-EASY") as raised:
        load_knowledge_base(knowledge_copy)
    assert str(path) in str(raised.value) and "DISC-NOT-THERE" in str(raised.value)


def test_unnumbered_policy_heading_names_the_file(knowledge_copy):
    path = knowledge_copy / "policies" / "pol-fraud.md"
    path.write_text(path.read_text(encoding="utf-8").replace("## 1. Purpose", "## Purpose"), encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="not numbered") as raised:
        load_knowledge_base(knowledge_copy)
    assert str(path) in str(raised.value)


def test_loader_caches_per_folder(knowledge_copy):
    assert load_knowledge_base() is load_knowledge_base(default_knowledge_root())
    copy = load_knowledge_base(knowledge_copy)
    assert copy is not load_knowledge_base() and copy is load_knowledge_base(knowledge_copy)


def test_unknown_ids_raise_key_error(kb):
    with pytest.raises(KeyError):
        kb.product("CC-NOPE")
    with pytest.raises(KeyError):
        kb.section("POL-AFFORD", "9.9")


def test_duplicate_product_code_names_the_file(knowledge_copy):
    path = knowledge_copy / "products.yaml"
    content = yaml.safe_load(path.read_text(encoding="utf-8"))
    content["products"].append(dict(content["products"][0]))
    path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="defined twice") as raised:
        load_knowledge_base(knowledge_copy)
    assert str(path) in str(raised.value) and content["products"][0]["code"] in str(raised.value)
