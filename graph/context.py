"""The runtime context of the graph: the shared services every node may use.

Built once per process from the settings (models trained or loaded on first use)
and passed to the compiled graph as LangGraph's runtime context, so nodes stay
small functions of (state, runtime) and tests can pass their own services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

from advisor.settings import Settings
from bank.knowledge import KnowledgeBase
from bank.store import BankStore


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
    def router(self):
        from agents.supervisor import ensure_router

        return self._override("router") or ensure_router(self.settings)

    @cached_property
    def retriever(self):
        from advisor.services import open_chroma, text_encoder
        from tools.retrieval import HybridRetriever

        if self._override("retriever"):
            return self._override("retriever")
        client = self.chroma_client or open_chroma(self.settings)
        return HybridRetriever(client, text_encoder(self.settings), self.knowledge)

    @cached_property
    def backend(self):
        from graph.backend import get_backend

        return self._override("backend") or get_backend(self.settings)

    @cached_property
    def feedback(self):
        from graph.feedback import load_feedback_adjustments

        return self._override("feedback") or load_feedback_adjustments(self.settings)

    def warm_up(self) -> None:
        """Load every model now rather than on the first question."""
        for name in ("segmenter", "risk_model", "sentiment_scorer", "intent_classifier", "router", "retriever",
                     "backend"):
            getattr(self, name)
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
