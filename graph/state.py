"""The typed state of the advisory graph and its reducers.

Specialists run in parallel and each writes only its own finding; reducers merge
the per-node maps (timings, tool calls, LLM usage) instead of overwriting them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from tools.findings import (
    AgentName,
    ComplianceFinding,
    CreditFinding,
    CustomerProfile,
    ProductsFinding,
    SentimentFinding,
    SpendingFinding,
)


STREAM_TOKENS = "stream_answer_tokens"
"""Key of the run's ``configurable`` config: True when the caller wants the answer streamed."""
ANSWER_TOKEN = "answer_token"
"""Key of the composer's custom stream chunks: ``{ANSWER_TOKEN: "piece of the answer"}``."""


class Reset:
    """Wraps a value that replaces (rather than merges into) a reduced field.

    The guard node starts every turn of a thread with fresh per-turn accounting.
    """

    def __init__(self, value):
        self.value = value


def merge_dicts(left: dict | None, right: "dict | Reset | None") -> dict:
    if isinstance(right, Reset):
        return dict(right.value)
    return {**(left or {}), **(right or {})}


def append_items(left: list | None, right: "list | Reset | None") -> list:
    if isinstance(right, Reset):
        return list(right.value)
    return [*(left or []), *(right or [])]


def add_usage(left: "LLMUsage | None", right: "LLMUsage | Reset | None") -> "LLMUsage":
    if isinstance(right, Reset):
        return right.value
    left = left or LLMUsage()
    if right is None:
        return left
    return LLMUsage(
        backend=right.backend or left.backend,
        model=right.model or left.model,
        calls=left.calls + right.calls,
        prompt_tokens=left.prompt_tokens + right.prompt_tokens,
        completion_tokens=left.completion_tokens + right.completion_tokens,
        fallback_reason=right.fallback_reason or left.fallback_reason,
    )


class Source(BaseModel):
    id: str
    collection: str
    snippet: str
    score: float | None = None


class LLMUsage(BaseModel):
    backend: str = "offline"
    model: str = "offline-composer"
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    fallback_reason: str | None = None


class CriticVerdict(BaseModel):
    verdict: Literal["approved", "revised", "blocked"]
    issues: list[str] = Field(default_factory=list)
    counterfactual_invariant: bool = True


class Route(BaseModel):
    agents: list[AgentName]
    method: Literal["classifier", "llm", "rules"] = "classifier"
    scores: dict[str, float] = Field(default_factory=dict)
    knowledge_only: bool = False


class AdvisorState(TypedDict, total=False):
    # input
    question: str
    customer_id: str | None
    advisor_id: str | None
    trace_id: str
    # guard and routing
    profile: CustomerProfile | None
    held_product_codes: list[str]
    as_of: str
    route: Route
    # one typed finding per specialist
    spending: SpendingFinding | None
    credit: CreditFinding | None
    sentiment: SentimentFinding | None
    products: ProductsFinding | None
    compliance: ComplianceFinding | None
    sources: list[Source]
    # answer
    draft: str
    answer: str
    critic: CriticVerdict
    revisions: int
    prompt_hashes: Annotated[dict[str, str], merge_dicts]
    # accounting
    llm: Annotated[LLMUsage, add_usage]
    timings_ms: Annotated[dict[str, float], merge_dicts]
    nodes_run: Annotated[list[str], append_items]
    # conversation memory across turns of one thread
    history: Annotated[list[dict[str, str]], append_items]
