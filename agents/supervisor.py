"""The supervisor: decides which specialists a question needs.

A multi-label classifier over the labelled routing set in evals/datasets/routing.jsonl
(sentence embeddings plus word and character n-grams, one calibrated logistic
regression per agent) works with no LLM. When a model backend is configured it may
refine the route through constrained JSON; the classifier is the fallback whenever
that output does not parse or names unknown agents.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
from langgraph.runtime import Runtime
from pydantic import BaseModel, ValidationError
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from advisor.settings import REPO_ROOT, Settings
from graph.context import AdvisorServices, services_from
from graph.state import AdvisorState, Route
from tools.findings import AGENT_NAMES

logger = logging.getLogger("advisor.supervisor")
ROUTING_SET = REPO_ROOT / "evals" / "datasets" / "routing.jsonl"
ROUTER_VERSION = "1"
DEFAULT_THRESHOLD = 0.25
OVERVIEW = ("spending", "credit", "sentiment")


class RoutingExample(BaseModel):
    id: str
    question: str
    customer: bool = True
    agents: list[str]
    split: str = "train"


def load_routing_set(path: Path = ROUTING_SET) -> list[RoutingExample]:
    return [RoutingExample.model_validate_json(line) for line in path.read_text().splitlines() if line.strip()]


def close_over_dependencies(agents: set[str]) -> set[str]:
    """`products` always brings `compliance`."""
    if "products" in agents:
        agents = agents | {"compliance"}
    return agents


@dataclass
class Router:
    word_vectoriser: TfidfVectorizer
    char_vectoriser: TfidfVectorizer
    classifiers: dict[str, LogisticRegression]
    thresholds: dict[str, float]
    encoder_name: str
    encoder: object = field(default=None, repr=False)

    def _features(self, questions: list[str]):
        dense = self.encoder.encode(questions)
        return hstack([self.word_vectoriser.transform(questions), self.char_vectoriser.transform(questions),
                       csr_matrix(dense * 2.0)]).tocsr()

    def scores(self, questions: list[str]) -> list[dict[str, float]]:
        features = self._features(questions)
        columns = {agent: model.predict_proba(features)[:, 1] for agent, model in self.classifiers.items()}
        return [{agent: float(columns[agent][i]) for agent in self.classifiers} for i in range(len(questions))]

    def route(self, question: str, has_customer: bool = True) -> Route:
        if not has_customer:
            return Route(agents=[], method="rules", knowledge_only=True)
        scores = self.scores([question])[0]
        chosen = {agent for agent, score in scores.items() if score >= self.thresholds.get(agent, DEFAULT_THRESHOLD)}
        if not chosen:
            chosen = set(OVERVIEW)
        chosen = close_over_dependencies(chosen)
        return Route(agents=[a for a in AGENT_NAMES if a in chosen], method="classifier",
                     scores={a: round(s, 4) for a, s in scores.items()})

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        encoder, self.encoder = self.encoder, None
        try:
            joblib.dump(self, folder / "router.joblib")
        finally:
            self.encoder = encoder
        (folder / "router.json").write_text(json.dumps({"version": ROUTER_VERSION, "encoder": self.encoder_name,
                                                         "thresholds": self.thresholds}, indent=2))


def train_router(examples: list[RoutingExample], encoder, encoder_name: str,
                 threshold: float = DEFAULT_THRESHOLD) -> Router:
    examples = [e for e in examples if e.customer]
    questions = [e.question for e in examples]
    word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2)
    router = Router(word.fit(questions), char.fit(questions), {}, {}, encoder_name, encoder)
    features = router._features(questions)
    for agent in AGENT_NAMES:
        labels = np.array([agent in close_over_dependencies(set(e.agents)) for e in examples], dtype=int)
        model = LogisticRegression(C=8.0, class_weight="balanced", max_iter=2000)
        router.classifiers[agent] = model.fit(features, labels)
        router.thresholds[agent] = threshold
    return router


def ensure_router(settings: Settings, routing_set: Path = ROUTING_SET) -> Router:
    """Load the router trained on this routing set, training it first if needed (seconds)."""
    from advisor.services import text_encoder

    encoder = text_encoder(settings)
    folder = settings.models_dir / "router"
    stamp = f"{ROUTER_VERSION}:{routing_set.stat().st_mtime_ns}:{routing_set.stat().st_size}:{encoder.name}"
    stamp_file = folder / "trained_on.txt"
    if stamp_file.exists() and stamp_file.read_text() == stamp and (folder / "router.joblib").exists():
        router = joblib.load(folder / "router.joblib")
        router.encoder = encoder
        return router
    examples = [e for e in load_routing_set(routing_set) if e.split == "train"]
    router = train_router(examples, encoder, encoder.name)
    router.save(folder)
    stamp_file.write_text(stamp)
    return router


class RefinedRoute(BaseModel):
    agents: list[str]


def refine_route(backend, question: str, route: Route, max_new_tokens: int = 60) -> Route:
    """Ask the model for {"agents": [...]}; keep the classifier's route if it fails.

    The question is data in the prompt: neutralised, so it cannot close its block or write a
    chat-template token, and whatever it asks for, only the agents' names are taken from the reply.
    """
    from prompts import load_prompt, neutralise

    messages = load_prompt("router_refine").messages(question=neutralise(question),
                                                      suggested=", ".join(route.agents))
    try:
        result = backend.generate(messages, max_new_tokens=max_new_tokens,
                                  json_schema=RefinedRoute.model_json_schema())
        refined = RefinedRoute.model_validate_json(_json_object(result.text))
    except (ValidationError, ValueError, RuntimeError, TimeoutError) as error:
        logger.info("route refinement fell back to the classifier: %s", error)
        return route
    agents = {a for a in refined.agents if a in AGENT_NAMES}
    if not agents or len(agents) != len(refined.agents):
        return route
    agents = close_over_dependencies(agents | set(route.agents))
    return Route(agents=[a for a in AGENT_NAMES if a in agents], method="llm", scores=route.scores)


def _json_object(text: str) -> str:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("no JSON object in the model output")
    return text[start:end + 1]


def supervisor_node(state: AdvisorState, runtime: Runtime[AdvisorServices]) -> dict:
    started = time.perf_counter()
    services = services_from(runtime)
    has_customer = state.get("customer_id") is not None
    route = services.router.route(state["question"], has_customer=has_customer)
    if has_customer and services.settings.llm_backend != "offline":
        route = refine_route(services.backend, state["question"], route)
    elapsed = (time.perf_counter() - started) * 1000
    return {"route": route, "timings_ms": {"router": round(elapsed, 2)}, "nodes_run": ["supervisor"]}
