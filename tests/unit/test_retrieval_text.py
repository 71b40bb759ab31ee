"""What BM25 indexes for a knowledge chunk."""

from __future__ import annotations

from bank.knowledge import load_knowledge_base
from tools.retrieval import searchable_text


def _chunk(chunk_id: str):
    return next(c for c in load_knowledge_base().chunks() if c.id == chunk_id)


def test_a_products_searchable_text_leaves_out_the_documents_it_cites():
    chunk = _chunk("product:CC-BUILDER")
    text = searchable_text(chunk)
    assert "DISC-" not in text and "POL-AFFORD" not in text
    assert "Foreign transaction fees (DISC-FX-FEES)" in chunk.text


def test_a_products_searchable_text_keeps_its_name_description_fees_and_eligibility():
    text = searchable_text(_chunk("product:CC-TRAVEL"))
    for words in ("Northbridge Travel Rewards Credit Card (CC-TRAVEL)", "no foreign transaction fees",
                  "annual fee: EUR 95", "minimum annual income EUR 35,000"):
        assert words in text


def test_policy_and_disclosure_text_is_indexed_whole():
    for chunk_id in ("policy:POL-VULNERABLE:3.1", "disclosure:DISC-FX-FEES"):
        chunk = _chunk(chunk_id)
        assert searchable_text(chunk) == chunk.text
