"""Hybrid retrieval over the Chroma collections: dense MiniLM plus BM25, fused and reranked.

- dense: Chroma queries with one precomputed question vector (products, policies, and
  the customer's own texts filtered by ``customer_id``);
- sparse: BM25 (bm25s, stemmed) over the knowledge chunks;
- fusion: reciprocal-rank fusion of the two lists;
- rerank: a weighted blend of cosine similarity, BM25 over the chunk and BM25 over the
  product names, each BM25 normalised by the question's best score. The sparse weight is
  chosen by 5-fold cross-validation over evals/datasets/retrieval.jsonl; the small name
  weight only breaks near-ties, so that a question naming a product puts it first.

The knowledge base is small (a few hundred chunks), so every chunk is scored by both
signals: a chunk that one signal ranks low still gets its real score from the other.

A customer's texts are only ever searched with a ``customer_id`` filter equal to the
customer in question, so one customer's documents never reach another's answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

from bank.embeddings import TextEncoder
from bank.knowledge import KnowledgeBase, KnowledgeChunk
from bank.vectorstore import CUSTOMER_TEXTS, POLICIES, PRODUCTS, open_collection

RRF_K = 60
_CROSS_REFERENCES = re.compile(r"^(Required disclosures|Policies): ")


class RetrievedDocument(BaseModel):
    id: str
    collection: str
    snippet: str
    score: float
    metadata: dict[str, str | int | float | bool] = {}


@dataclass
class RerankWeights:
    dense: float = 1.0
    sparse: float = 0.3
    product_name: float = 0.05


def searchable_text(chunk: KnowledgeChunk) -> str:
    """The chunk's text without the lines that only list the other documents it cites: their
    words describe those documents (a card citing "Foreign transaction fees (DISC-FX-FEES)"
    does not charge them), so they would match questions about the cited documents."""
    return "\n".join(line for line in chunk.text.splitlines() if not _CROSS_REFERENCES.match(line))


class HybridRetriever:
    def __init__(self, client, encoder: TextEncoder, knowledge: KnowledgeBase,
                 weights: RerankWeights | None = None):
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
        self._bm25 = self._index([searchable_text(c) for c in self.chunks])
        self._name_bm25 = self._index([c.title if c.kind == "product" else "" for c in self.chunks])

    def _index(self, texts: list[str]):
        import bm25s

        index = bm25s.BM25()
        index.index(bm25s.tokenize(texts, stopwords="en", stemmer=self._stemmer, show_progress=False),
                    show_progress=False)
        return index

    # --- the parts, kept apart so the evaluation can compare them --------------------------

    def dense(self, vector: np.ndarray, n: int | None = None) -> dict[str, float]:
        scores: dict[str, float] = {}
        for name in (PRODUCTS, POLICIES):
            collection = self.collections[name]
            count = self._knowledge_counts.get(name) or collection.count()
            if not count:
                continue
            self._knowledge_counts[name] = count
            hits = collection.query(query_embeddings=[vector], n_results=min(n or count, count),
                                    include=["distances"])
            for doc_id, distance in zip(hits["ids"][0], hits["distances"][0]):
                scores[doc_id] = 1.0 - float(distance)
        return scores

    def sparse(self, question: str, n: int | None = None) -> dict[str, float]:
        return self._bm25_scores(self._bm25, question, n)

    def product_name_match(self, question: str) -> dict[str, float]:
        return self._bm25_scores(self._name_bm25, question, None)

    def _bm25_scores(self, index, question: str, n: int | None) -> dict[str, float]:
        query = self._tokenize(question)
        if not query.vocab:
            return {}
        k = min(n or len(self.chunks), len(self.chunks))
        documents, scores = index.retrieve(query, k=k, show_progress=False)
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
        titles = self.product_name_match(question)
        top_sparse = max(sparse.values(), default=1.0) or 1.0
        top_title = max(titles.values(), default=1.0) or 1.0
        lowest_dense = min(dense.values(), default=0.0)
        return {doc_id: (self.weights.dense * dense.get(doc_id, lowest_dense)
                         + self.weights.sparse * sparse.get(doc_id, 0.0) / top_sparse
                         + self.weights.product_name * titles.get(doc_id, 0.0) / top_title)
                for doc_id in set(dense) | set(sparse)}

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
