"""The activation gate of `advisor finetune evaluate`, with an injected suite runner."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from advisor.settings import Settings
from evals.report import THRESHOLDS_FILE, load_thresholds
from finetune.adapters import active_file, configured_adapter, write_model_card
from finetune.gate import SuiteOutcome, evaluate_adapter, gated_suites

BASE_MODEL = "/models/zephyr-7b-beta"
SUITES = ["grounded", "fairness", "adversarial"]


def outcome(suite: str, value: float, bound: float = 0.95) -> SuiteOutcome:
    passed = value >= bound
    return SuiteOutcome(suite=suite, passed=passed, metrics={"grounded": value},
                        bounds={"grounded": f">= {bound}"}, failed=[] if passed else ["grounded"])


class FakeSuiteRunner:
    """Scores every suite 1.0 with the base model; with an adapter, the suites in ``lowered`` score 0.5."""

    def __init__(self, lowered: set[str]):
        self.lowered = lowered
        self.calls: list[Settings] = []

    def __call__(self, settings: Settings, suites):
        self.calls.append(settings)
        adapted = settings.zephyr_adapter is not None
        return {name: outcome(name, 0.5 if adapted and name in self.lowered else 1.0) for name in suites}


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home", zephyr_model=BASE_MODEL)


@pytest.fixture
def adapter(settings, tmp_path):
    folder = settings.home / "adapters" / "20260101T000000Z"
    folder.mkdir(parents=True)
    write_model_card(folder, {"base_model": BASE_MODEL, "data": {}, "settings": {}, "training": {}})
    return folder


def test_an_adapter_that_lowers_a_gated_suite_below_its_threshold_is_not_activated(settings, adapter):
    decision = evaluate_adapter(settings, adapter, SUITES, FakeSuiteRunner(lowered={"fairness"}))
    assert not decision.activated and decision.failed_suites == ["fairness"]
    assert "fairness: grounded 0.5 (needs >= 0.95)" in decision.reason
    assert not active_file(settings).exists()
    assert configured_adapter(settings) is None
    assert json.loads((adapter / "evaluation.json").read_text())["activated"] is False


def test_an_adapter_that_keeps_every_gated_suite_above_its_threshold_is_activated(settings, adapter):
    decision = evaluate_adapter(settings, adapter, SUITES, FakeSuiteRunner(lowered=set()))
    assert decision.activated and decision.failed_suites == []
    assert active_file(settings).read_text().strip() == str(adapter.resolve())
    assert configured_adapter(settings) == adapter.resolve()
    assert configured_adapter(settings.model_copy(update={"zephyr_model": "another/model"})) is None, \
        "an adapter is never loaded on a base model it was not trained on"


def test_both_runs_use_zephyr_on_the_adapters_base_model_and_differ_only_in_the_adapter(settings, adapter):
    runner = FakeSuiteRunner(lowered=set())
    evaluate_adapter(settings.model_copy(update={"llm_backend": "offline", "zephyr_model": "x"}), adapter, SUITES,
                     runner)
    base, adapted = runner.calls
    assert base.llm_backend == adapted.llm_backend == "zephyr"
    assert base.zephyr_model == adapted.zephyr_model == BASE_MODEL
    assert base.zephyr_adapter is None and adapted.zephyr_adapter == adapter.resolve()
    assert not base.finetune_use_active_adapter, "the base run must not pick up an already active adapter"


def test_a_suite_that_did_not_run_with_the_adapter_fails_the_gate(settings, adapter):
    def runner(run_settings, suites):
        return {} if run_settings.zephyr_adapter else {name: outcome(name, 1.0) for name in suites}

    decision = evaluate_adapter(settings, adapter, ["grounded"], runner)
    assert not decision.activated and "grounded: not run" in decision.reason


def test_the_default_gated_suites_are_the_thresholded_ones_that_run_the_model():
    assert gated_suites(load_thresholds(THRESHOLDS_FILE)) == SUITES
    with pytest.raises(ValueError, match="unknown suite"):
        gated_suites({}, ["nope"])


def test_the_command_prints_both_sides_and_exits_1_when_it_refuses(settings, adapter, monkeypatch):
    import advisor.cli.finetune  # noqa: F401
    import finetune.gate
    from advisor.cli.app import app
    from advisor.settings import get_settings

    settings.home.mkdir(exist_ok=True)
    settings.store_path.touch()
    monkeypatch.setenv("ADVISOR_HOME", str(settings.home))
    monkeypatch.setenv("ADVISOR_ZEPHYR_MODEL", BASE_MODEL)
    monkeypatch.setattr(finetune.gate, "run_gated_suites",
                        lambda run_settings, suites, **_: FakeSuiteRunner({"grounded"})(run_settings, suites))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["finetune", "evaluate", "--adapter", str(adapter), "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["activated"] is False and report["failed_suites"] == ["grounded"]
    assert report["base"]["grounded"]["metrics"]["grounded"] == 1.0
    assert report["adapted"]["grounded"]["metrics"]["grounded"] == 0.5
    assert not active_file(settings).exists()
