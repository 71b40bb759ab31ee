"""Ingestion: CSV tables into the data store, texts into ChromaDB.

Idempotent by construction: rows are upserted by primary key, one transaction per
chunk; texts are upserted by id into Chroma and recorded with a content hash only
after Chroma has them, so a second run (or a run after a crash half way) embeds only
what is new or changed and never duplicates anything.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, Field

from bank.contract import TABLES, RowError, read_table
from bank.embeddings import TextEncoder
from bank.knowledge import KnowledgeBase
from bank.privacy import mask_card_numbers, redact
from bank.store import BankStore
from bank.vectorstore import CUSTOMER_TEXTS, POLICIES, PRODUCTS, open_collection

TABLE_ORDER = ("customers", "accounts", "transactions", "payments", "interactions", "social_posts")
MAX_REPORTED_ERRORS = 500


class TextDocument(BaseModel):
    id: str
    text: str
    metadata: dict[str, str | int | float | bool]

    @property
    def content_hash(self) -> str:
        payload = self.text + "\x1f" + repr(sorted(self.metadata.items()))
        return hashlib.sha256(payload.encode()).hexdigest()[:32]


class TableReport(BaseModel):
    loaded: int = 0
    rejected: int = 0
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.loaded / self.seconds if self.seconds else 0.0


class IngestReport(BaseModel):
    source: str
    tables: dict[str, TableReport] = Field(default_factory=dict)
    errors: list[RowError] = Field(default_factory=list, description=f"The first {MAX_REPORTED_ERRORS} errors.")
    social_posts_without_consent: int = 0
    texts_embedded: dict[str, int] = Field(default_factory=dict)
    texts_unchanged: dict[str, int] = Field(default_factory=dict)
    embedding_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def error_count(self) -> int:
        return sum(t.rejected for t in self.tables.values())

    @property
    def texts_per_second(self) -> float:
        embedded = sum(self.texts_embedded.values())
        return embedded / self.embedding_seconds if self.embedding_seconds else 0.0


ProgressFactory = Callable[[str, int], Callable[[int], None]]


def _no_progress(_label: str, _total: int) -> Callable[[int], None]:
    return lambda _advance: None


class Ingestor:
    """Loads one bank folder into a store and (optionally) the vector store."""

    def __init__(
        self,
        store: BankStore,
        chroma_client=None,
        encoder: TextEncoder | None = None,
        knowledge: KnowledgeBase | None = None,
        progress: ProgressFactory = _no_progress,
        batch_size: int = 512,
    ):
        self.store = store
        self.chroma_client = chroma_client
        self.encoder = encoder
        self.knowledge = knowledge
        self.progress = progress
        self.batch_size = batch_size

    def run(self, data_dir: Path, with_text: bool = True) -> IngestReport:
        started = time.perf_counter()
        started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        report = IngestReport(source=str(data_dir))
        identifiers: dict[str, list[str]] = {}
        consent_social: dict[str, bool] = {}
        for name in TABLE_ORDER:
            path = data_dir / TABLES[name].file_name
            if not path.exists():
                if name in ("customers", "accounts"):
                    raise FileNotFoundError(f"{path} is missing: a bank needs at least customers.csv and accounts.csv")
                continue
            report.tables[name] = self._load_table(name, path, report, identifiers, consent_social)
        if with_text and self.chroma_client is not None and self.encoder is not None:
            self._embed_all(report)
        report.seconds = time.perf_counter() - started
        self.store.record_ingest_run(
            started_at, datetime.now(timezone.utc).isoformat(timespec="seconds"), str(data_dir),
            report.model_dump(mode="json", exclude={"errors"}),
        )
        return report

    # --- structured tables ---------------------------------------------------------------
    def _load_table(
        self,
        name: str,
        path: Path,
        report: IngestReport,
        identifiers: dict[str, list[str]],
        consent_social: dict[str, bool],
    ) -> TableReport:
        table = TABLES[name]
        result = TableReport()
        clock = time.perf_counter()
        known_customers = set(self.store.customer_ids()) if name != "customers" else None
        advance = self.progress(f"load {name}", max(path.stat().st_size, 1))
        for chunk in read_table(path, table):
            frame = chunk.frame
            errors = list(chunk.errors)
            rejected = len(errors)
            duplicated = frame.duplicated(subset=list(table.key), keep="first")
            for index in frame.index[duplicated]:
                errors.append(RowError(file=path.name, line=-1, reason=(
                    f"duplicate key {', '.join(str(frame.at[index, k]) for k in table.key)}: first row kept")))
            rejected += int(duplicated.sum())
            frame = frame[~duplicated]
            if known_customers is not None:
                unknown = ~frame["customer_id"].isin(known_customers)
                for cid in frame.loc[unknown, "customer_id"].head(50):
                    errors.append(RowError(file=path.name, line=-1, reason=f"unknown customer_id {cid}: row skipped"))
                if unknown.sum() > 50:
                    errors.append(RowError(file=path.name, line=-1,
                                           reason=f"{int(unknown.sum()) - 50} more rows with unknown customer ids"))
                rejected += int(unknown.sum())
                frame = frame[~unknown]
            if name == "customers":
                for row in frame[["customer_id", "full_name", "email", "phone", "postcode"]].itertuples(index=False):
                    identifiers[row[0]] = [v for v in row[1:] if isinstance(v, str) and v]
                consent_social.update(zip(frame["customer_id"], frame["consent_social"].astype(bool)))
            if name == "social_posts":
                allowed = frame["customer_id"].map(lambda c: self._consents_to_social(c, consent_social))
                report.social_posts_without_consent += int((~allowed).sum())
                frame = frame[allowed]
            if name in ("interactions", "social_posts"):
                frame = frame.assign(text=[
                    redact(mask_card_numbers(text), self._identifiers_of(cid, identifiers))
                    for cid, text in zip(frame["customer_id"], frame["text"])
                ])
            result.loaded += self.store.upsert(table, frame, chunk.extra_columns)
            result.rejected += rejected
            room = MAX_REPORTED_ERRORS - len(report.errors)
            if room > 0:
                report.errors.extend(errors[:room])
            advance(len(frame))
        result.seconds = time.perf_counter() - clock
        return result

    def _identifiers_of(self, customer_id: str, identifiers: dict[str, list[str]]) -> list[str]:
        if customer_id not in identifiers:
            customer = self.store.customer(customer_id)
            identifiers[customer_id] = [] if customer is None else [
                v for v in (customer.full_name, customer.email, customer.phone, customer.postcode) if v]
        return identifiers[customer_id]

    def _consents_to_social(self, customer_id: str, consent_social: dict[str, bool]) -> bool:
        if customer_id not in consent_social:
            customer = self.store.customer(customer_id)
            consent_social[customer_id] = bool(customer and customer.consent_social)
        return consent_social[customer_id]

    # --- texts -------------------------------------------------------------------------------
    def _embed_all(self, report: IngestReport) -> None:
        clock = time.perf_counter()
        for collection, documents in (
            (CUSTOMER_TEXTS, self._customer_documents()),
            (PRODUCTS, self._knowledge_documents(kinds=("product",))),
            (POLICIES, self._knowledge_documents(kinds=("policy", "disclosure"))),
        ):
            embedded, unchanged = self.embed(collection, documents)
            report.texts_embedded[collection] = embedded
            report.texts_unchanged[collection] = unchanged
        report.embedding_seconds = time.perf_counter() - clock

    def _customer_documents(self) -> list[TextDocument]:
        documents = []
        for name, id_column, kind in (("interactions", "interaction_id", "interaction"),
                                      ("social_posts", "post_id", "social_post")):
            columns = [id_column, "customer_id", "timestamp", "text",
                       "channel" if name == "interactions" else "platform"]
            frame = self.store.table(name, columns=columns)
            for doc_id, customer_id, timestamp, text, channel in frame.itertuples(index=False, name=None):
                documents.append(TextDocument(
                    id=f"{kind}:{doc_id}", text=text,
                    metadata={"customer_id": customer_id, "kind": kind, "source_id": doc_id,
                              "date": (timestamp or "")[:10], "channel": channel or ""},
                ))
        return documents

    def _knowledge_documents(self, kinds: Iterable[str]) -> list[TextDocument]:
        if self.knowledge is None:
            return []
        kinds = tuple(kinds)
        return [
            TextDocument(id=chunk.id, text=chunk.text, metadata={
                "kind": chunk.kind, "doc_id": chunk.doc_id, "title": chunk.title, "customer_id": "",
                **{k: v for k, v in chunk.metadata.items() if v is not None}})
            for chunk in self.knowledge.chunks() if chunk.kind in kinds
        ]

    def embed(self, collection_name: str, documents: list[TextDocument]) -> tuple[int, int]:
        """Embed and upsert the documents whose content changed; returns (embedded, unchanged)."""
        assert self.encoder is not None and self.chroma_client is not None
        collection = open_collection(self.chroma_client, collection_name, self.encoder)
        known = self.store.embedded_hashes(collection_name)
        # Vectors made by another model or engine are not comparable: embed everything again.
        relabel = (collection.metadata or {}).get("embedding_model") != self.encoder.name
        if relabel:
            known = {}
        pending = [d for d in documents if known.get(d.id) != d.content_hash]
        advance = self.progress(f"embed {collection_name}", max(len(pending), 1))

        def write(batch: list[TextDocument], vectors) -> None:
            collection.upsert(
                ids=[d.id for d in batch], embeddings=vectors, documents=[d.text for d in batch],
                metadatas=[d.metadata for d in batch],
            )
            self.store.mark_embedded(
                collection_name,
                [(d.id, str(d.metadata.get("customer_id") or "") or None, d.content_hash) for d in batch],
            )

        with ThreadPoolExecutor(max_workers=1) as writer:
            in_flight: Future | None = None
            for start in range(0, len(pending), self.batch_size):
                batch = pending[start:start + self.batch_size]
                vectors = self.encoder.encode([d.text for d in batch])
                if in_flight is not None:
                    in_flight.result()
                in_flight = writer.submit(write, batch, vectors)
                advance(len(batch))
            if in_flight is not None:
                in_flight.result()
        if relabel:
            # hnsw:space cannot be modified; cosine stays in the collection's configuration.
            collection.modify(metadata={"embedding_model": self.encoder.name, "dimension": self.encoder.dimension})
        return len(pending), len(documents) - len(pending)
