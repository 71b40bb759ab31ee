"""The runtime context of the graph: the shared services every node may use.

Built once per process from the settings (models trained or loaded on first use)
and passed to the compiled graph as LangGraph's runtime context, so nodes stay
small functions of (state, runtime) and tests can pass their own services.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from advisor.settings import Settings
from bank.knowledge import KnowledgeBase
from bank.store import BankStore


def _one_thread_per_inference() -> None:
    """Run torch (when the encoder uses it) on one intra-op thread: a question is a few dozen
    tokens, the graph already runs its branches in parallel threads, and on a shared 2-core
    machine torch's spinning worker threads made one encode about ten times slower (1.3 s
    against 0.1 s)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


class RecentQuestions:
    """A text encoder that keeps the vectors of recently encoded single texts: the router
    and the retriever encode the same question within one turn. Batches pass through
    unchanged (a batch pads its texts together, so its vectors are not reused)."""

    def __init__(self, encoder, size: int = 256):
        self.inner = encoder
        self.name = encoder.name
        self.dimension = encoder.dimension
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        if len(texts) != 1:
            return self.inner.encode(texts)
        with self._lock:
            vector = self._vectors.get(texts[0])
            if vector is not None:
                self._vectors.move_to_end(texts[0])
                return vector.copy()
        vector = self.inner.encode(texts)
        with self._lock:
            self._vectors[texts[0]] = vector.copy()
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        return vector


EVERY_TURN = ("router", "retriever", "backend")
"""What every question uses, whatever its route."""
ALL_MODELS = ("segmenter", "risk_model", "sentiment_scorer", "intent_classifier", *EVERY_TURN)


@dataclass
class AdvisorServices:
    settings: Settings
    store: BankStore
    knowledge: KnowledgeBase
    labels_dir: Path | None = None
    chroma_client: Any = None
    overrides: dict[str, Any] = field(default_factory=dict)

    def _override(self, name: str):
        return self.overrides.get(name)

    @cached_property
    def as_of(self) -> date:
        return self.store.latest_date() or date.today()

    @cached_property
    def segmenter(self):
        from tools.spending import ensure_segmenter

        return self._override("segmenter") or ensure_segmenter(self.settings, self.store)

    @cached_property
    def risk_model(self):
        from tools.credit import ensure_risk_model

        return self._override("risk_model") or ensure_risk_model(self.settings, self.store, self.labels_dir)

    @cached_property
    def sentiment_scorer(self):
        from tools.sentiment import load_sentiment_scorer

        return self._override("sentiment_scorer") or load_sentiment_scorer(self.settings)

    @cached_property
    def intent_classifier(self):
        from tools.intent import ensure_intent_model

        return self._override("intent_classifier") or ensure_intent_model(self.settings, self.store, self.labels_dir)

    @cached_property
    def encoder(self) -> "RecentQuestions":
        """The sentence encoder the router and the retriever share, one question at a time."""
        from advisor.services import text_encoder

        encoder = self._override("encoder") or text_encoder(self.settings)
        _one_thread_per_inference()
        return RecentQuestions(encoder)

    @cached_property
    def router(self):
        from agents.supervisor import ensure_router

        if self._override("router"):
            return self._override("router")
        router = ensure_router(self.settings)
        router.encoder = self.encoder
        return router

    @cached_property
    def retriever(self):
        from advisor.services import open_chroma
        from tools.retrieval import HybridRetriever

        if self._override("retriever"):
            return self._override("retriever")
        client = self.chroma_client or open_chroma(self.settings)
        return HybridRetriever(client, self.encoder, self.knowledge)

    @cached_property
    def backend(self):
        from graph.backend import get_backend

        return self._override("backend") or get_backend(self.settings)

    @cached_property
    def feedback(self):
        from graph.feedback import load_feedback_adjustments

        return self._override("feedback") or load_feedback_adjustments(self.settings)

    def warm_up(self, names: tuple[str, ...] = ALL_MODELS) -> None:
        """Load these models now rather than on the first question that needs them."""
        for name in names:
            getattr(self, name)
        if "encoder" in self.__dict__:  # loaded for the router or the retriever: its first call is slow too
            self.encoder.encode(["warm-up"])
        if "backend" in names:
            self.backend.warm_up()


_default_services: AdvisorServices | None = None


def services_from(runtime) -> AdvisorServices:
    """The run's services, or (for LangGraph Studio, which passes no context) the
    process-wide services built from the settings on first use."""
    global _default_services
    context = getattr(runtime, "context", None)
    if isinstance(context, AdvisorServices):
        return context
    if _default_services is None:
        from advisor import services as factory
        from advisor.settings import get_settings

        settings = get_settings()
        _default_services = AdvisorServices(settings=settings, store=factory.open_store(settings),
                                            knowledge=factory.knowledge_base(settings))
    return _default_services
