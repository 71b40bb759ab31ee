"""The activation gate: the gated evaluation suites with the base model and with the adapter.

Both runs use the zephyr backend on the base model the adapter was trained on; only the
adapter differs. The adapter is activated (``<home>/adapters/ACTIVE``) only when every
check of every gated suite passes with it; otherwise the failing suites are named and
nothing changes. The suite runner is a parameter, so the gate is testable without models.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, Field

from finetune.adapters import EVALUATION_FILE, activate, read_card


class SuiteOutcome(BaseModel):
    suite: str
    passed: bool
    metrics: dict[str, float | None] = Field(description="The value of every metric with a threshold.")
    bounds: dict[str, str] = Field(default_factory=dict, description="metric -> '>= 0.95' or '<= 5000'")
    failed: list[str] = Field(default_factory=list, description="Metrics below (or above) their bound.")


SuiteRunner = Callable[[object, Sequence[str]], dict[str, SuiteOutcome]]


class GateDecision(BaseModel):
    adapter: str
    base_model: str
    suites: list[str]
    base: dict[str, SuiteOutcome]
    adapted: dict[str, SuiteOutcome]
    failed_suites: list[str]
    activated: bool
    reason: str
    evaluated_at: str


def evaluation_settings(settings, base_model: str, adapter: Path | None):
    """``settings`` for one side of the comparison: zephyr on ``base_model``, with or without ``adapter``."""
    return settings.model_copy(update={"llm_backend": "zephyr", "zephyr_model": base_model,
                                       "zephyr_adapter": adapter, "finetune_use_active_adapter": False})


def gated_suites(thresholds: dict[str, list], requested: Sequence[str] | None = None) -> list[str]:
    """The suites to compare: those asked for, else every suite with thresholds that runs the model."""
    from evals.suites import SUITES

    if requested:
        unknown = [name for name in requested if name not in SUITES]
        if unknown:
            raise ValueError(f"unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}")
        return list(requested)
    return [name for name, suite in SUITES.items() if suite.uses_graph and thresholds.get(name)]


def decide(adapter: Path, base_model: str, suites: Sequence[str], base: dict[str, SuiteOutcome],
           adapted: dict[str, SuiteOutcome]) -> GateDecision:
    failed = [name for name in suites if name not in adapted or not adapted[name].passed]
    if failed:
        details = []
        for name in failed:
            outcome = adapted.get(name)
            metrics = ", ".join(f"{m} {outcome.metrics.get(m)} (needs {outcome.bounds.get(m, '?')})"
                                for m in outcome.failed) if outcome else "not run"
            also = " (the base model fails it too)" if name in base and not base[name].passed else ""
            details.append(f"{name}: {metrics}{also}")
        reason = "not activated: with the adapter, " + "; ".join(details)
    else:
        reason = f"activated: every gated suite passes with the adapter ({', '.join(suites)})"
    return GateDecision(adapter=str(adapter), base_model=base_model, suites=list(suites), base=base,
                        adapted=adapted, failed_suites=failed, activated=not failed, reason=reason,
                        evaluated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def evaluate_adapter(settings, adapter: Path, suites: Sequence[str], run_suites: SuiteRunner) -> GateDecision:
    """Run ``suites`` with the base model and with ``adapter``; activate the adapter if none fails.

    The decision is written to ``<adapter>/evaluation.json`` either way.
    """
    adapter = Path(adapter).resolve()
    card = read_card(adapter)
    if card is None or not card.get("base_model"):
        raise ValueError(f"{adapter} has no model card naming its base model; train it with `advisor finetune "
                         "train`")
    base_model = card["base_model"]
    base = run_suites(evaluation_settings(settings, base_model, None), suites)
    adapted = run_suites(evaluation_settings(settings, base_model, adapter), suites)
    decision = decide(adapter, base_model, suites, base, adapted)
    if decision.activated:
        activate(settings, adapter)
    (adapter / EVALUATION_FILE).write_text(decision.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return decision


def run_gated_suites(settings, suites: Sequence[str], *, limit: int | None = None,
                     thresholds_file: Path | None = None) -> dict[str, SuiteOutcome]:
    """The real suite runner: ``evals`` suites judged against the thresholds file."""
    from evals.report import THRESHOLDS_FILE, judge, load_thresholds
    from evals.suites import SUITES, EvalContext, run_suite
    from graph.backend import reset_backends

    thresholds = load_thresholds(thresholds_file or THRESHOLDS_FILE)
    context = EvalContext(settings, limit=limit)
    outcomes: dict[str, SuiteOutcome] = {}
    try:
        for name in suites:
            verdict = judge(run_suite(SUITES[name], context), thresholds.get(name, []))
            outcomes[name] = SuiteOutcome(
                suite=name, passed=verdict.passed,
                metrics={check.metric: check.value for check in verdict.checks},
                bounds={check.metric: f"{'>=' if check.kind == 'min' else '<='} {check.bound:g}"
                        for check in verdict.checks},
                failed=[check.metric for check in verdict.checks if not check.passed])
    finally:
        context.close()
        reset_backends()  # the next run loads its own model; this one's memory can go
    return outcomes
