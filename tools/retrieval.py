"""Hybrid retrieval over the Chroma collections: dense MiniLM plus BM25, fused and reranked.

- dense: Chroma queries with one precomputed question vector (products, policies, and
  the customer's own texts filtered by ``customer_id``);
- sparse: BM25 (bm25s, stemmed) over the knowledge chunks;
- fusion: reciprocal-rank fusion of the two lists;
- rerank: a weighted blend of cosine similarity, normalised BM25 and a field match
  on product names/codes and policy titles, so that a question naming a product or a
  policy puts that document first.

A customer's texts are only ever searched with a ``customer_id`` filter equal to the
customer in question, so one customer's documents never reach another's answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

from bank.embeddings import TextEncoder
from bank.knowledge import KnowledgeBase
from bank.vectorstore import CUSTOMER_TEXTS, POLICIES, PRODUCTS, open_collection

RRF_K = 60
CANDIDATES = 20
WORD = re.compile(r"[a-z0-9]+")
STOP = {"the", "a", "an", "of", "on", "for", "to", "is", "what", "which", "does", "do", "we", "our", "and", "in",
        "how", "can", "i", "with", "card", "account", "policy", "are", "be", "it", "any", "there", "has", "have"}


class RetrievedDocument(BaseModel):
    id: str
    collection: str
    snippet: str
    score: float
    metadata: dict[str, str | int | float | bool] = {}


@dataclass
class RerankWeights:
    dense: float = 1.0
    sparse: float = 0.35
    field_match: float = 0.25


def _tokens(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if w not in STOP and len(w) > 2}


class HybridRetriever:
    def __init__(self, client, encoder: TextEncoder, knowledge: KnowledgeBase,
                 weights: RerankWeights | None = None):
        import bm25s
        import Stemmer

        self.encoder = encoder
        self.weights = weights or RerankWeights()
        self.collections = {name: open_collection(client, name, encoder) for name in (PRODUCTS, POLICIES,
                                                                                       CUSTOMER_TEXTS)}
        # The knowledge collections hold the fixed knowledge base: counted once they are filled,
        # not on every question.
        self._knowledge_counts: dict[str, int] = {}
        self.chunks = list(knowledge.chunks())
        self.chunk_by_id = {c.id: c for c in self.chunks}
        self._stemmer = Stemmer.Stemmer("english")
        self._bm25 = bm25s.BM25()
        corpus = bm25s.tokenize([c.text for c in self.chunks], stopwords="en", stemmer=self._stemmer,
                                show_progress=False)
        self._bm25.index(corpus, show_progress=False)
        self._field_tokens = {c.id: _tokens(f"{c.title} {c.metadata.get('product_code', '')} {c.doc_id}")
                              for c in self.chunks}

    # --- the parts, kept apart so the evaluation can compare them --------------------------
    def dense(self, vector: np.ndarray, n: int = CANDIDATES) -> dict[str, float]:
        scores: dict[str, float] = {}
        for name in (PRODUCTS, POLICIES):
            collection = self.collections[name]
            count = self._knowledge_counts.get(name) or collection.count()
            if not count:
                continue
            self._knowledge_counts[name] = count
            hits = collection.query(query_embeddings=[vector], n_results=min(n, count), include=["distances"])
            for doc_id, distance in zip(hits["ids"][0], hits["distances"][0]):
                scores[doc_id] = 1.0 - float(distance)
        return scores

    def sparse(self, question: str, n: int = CANDIDATES) -> dict[str, float]:
        query = self._tokenize(question)
        documents, scores = self._bm25.retrieve(query, k=min(n, len(self.chunks)), show_progress=False)
        return {self.chunks[int(i)].id: float(s) for i, s in zip(documents[0], scores[0]) if s > 0}

    def _tokenize(self, question: str):
        import bm25s

        return bm25s.tokenize([question], stopwords="en", stemmer=self._stemmer, show_progress=False)

    @staticmethod
    def fuse(*rankings: dict[str, float]) -> dict[str, float]:
        fused: dict[str, float] = {}
        for ranking in rankings:
            for rank, doc_id in enumerate(sorted(ranking, key=ranking.get, reverse=True)):
                fused[doc_id] = fused.get(doc_id, 0.0) + 1.0 / (RRF_K + rank + 1)
        return fused

    def rerank(self, question: str, dense: dict[str, float], sparse: dict[str, float]) -> dict[str, float]:
        candidates = set(dense) | set(sparse)
        top_sparse = max(sparse.values(), default=1.0) or 1.0
        question_tokens = _tokens(question)
        scores = {}
        for doc_id in candidates:
            field = self._field_tokens.get(doc_id, set())
            overlap = len(question_tokens & field) / len(field) if field else 0.0
            scores[doc_id] = (self.weights.dense * dense.get(doc_id, min(dense.values(), default=0.0))
                              + self.weights.sparse * sparse.get(doc_id, 0.0) / top_sparse
                              + self.weights.field_match * overlap)
        return scores

    # --- the retriever the agents use ---------------------------------------------------------
    def rank_knowledge(self, question: str, mode: str = "reranked", vector: np.ndarray | None = None) -> list[str]:
        vector = self.encoder.encode([question])[0] if vector is None else vector
        if mode == "sparse":
            ranking = self.sparse(question)
        else:
            dense = self.dense(vector)
            if mode == "dense":
                ranking = dense
            else:
                sparse = self.sparse(question)
                ranking = self.fuse(dense, sparse) if mode == "fused" else self.rerank(question, dense, sparse)
        return sorted(ranking, key=lambda d: (-ranking[d], d))

    def search(self, question: str, k: int = 3, customer_id: str | None = None) -> list[RetrievedDocument]:
        """The top k knowledge documents, plus the customer's own most relevant texts."""
        vector = self.encoder.encode([question])[0]
        dense = self.dense(vector)
        sparse = self.sparse(question)
        scores = self.rerank(question, dense, sparse)
        ranked = sorted(scores, key=lambda d: (-scores[d], d))[:k]
        results = [self._knowledge_document(doc_id, scores[doc_id]) for doc_id in ranked]
        if customer_id:
            results += self.customer_texts(vector, customer_id, k)
        return results

    def customer_texts(self, vector: np.ndarray, customer_id: str, k: int) -> list[RetrievedDocument]:
        collection = self.collections[CUSTOMER_TEXTS]
        hits = collection.query(query_embeddings=[vector], n_results=k, where={"customer_id": customer_id},
                                include=["documents", "metadatas", "distances"])
        return [
            RetrievedDocument(id=doc_id, collection=CUSTOMER_TEXTS, snippet=(text or "")[:300],
                              score=round(1.0 - float(distance), 4), metadata=metadata or {})
            for doc_id, text, metadata, distance in zip(hits["ids"][0], hits["documents"][0], hits["metadatas"][0],
                                                        hits["distances"][0])
            if metadata and metadata.get("customer_id") == customer_id
        ]

    def _knowledge_document(self, doc_id: str, score: float) -> RetrievedDocument:
        chunk = self.chunk_by_id.get(doc_id)
        collection = PRODUCTS if doc_id.startswith("product:") else POLICIES
        snippet = chunk.text[:400] if chunk else ""
        metadata = {k: v for k, v in (chunk.metadata if chunk else {}).items() if v is not None}
        return RetrievedDocument(id=doc_id, collection=collection, snippet=snippet, score=round(score, 4),
                                 metadata=metadata)
