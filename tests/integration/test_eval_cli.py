"""`advisor eval` end to end, offline, on a small generated and ingested bank."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from advisor.cli.app import app as cli
from advisor.settings import get_settings

SMALL = {"customers": 60, "months": 6, "seed": 11}


def run(*args: str):
    import advisor.cli.data  # noqa: F401  (registers `advisor ingest`)
    import advisor.cli.evaluate  # noqa: F401  (registers `advisor eval`)

    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def small_home(tmp_path_factory):
    """60 customers x 6 months, generated and ingested with texts into a fresh ADVISOR_HOME."""
    from bank.generator import generate_bank

    home = tmp_path_factory.mktemp("eval-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ADVISOR_HOME", str(home))
        get_settings.cache_clear()
        generate_bank(out_dir=home / "bank", **SMALL)
        ingested = run("ingest", "--json")
        assert ingested.exit_code == 0, ingested.output
        yield home
    get_settings.cache_clear()


@pytest.fixture()
def in_home(small_home, monkeypatch):
    monkeypatch.setenv("ADVISOR_HOME", str(small_home))
    get_settings.cache_clear()
    yield small_home
    get_settings.cache_clear()


def test_quick_suites_pass_and_write_reports(in_home):
    result = run("eval", "--suite", "routing", "--suite", "retrieval", "--suite", "compliance", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["passed"] and [s["name"] for s in report["suites"]] == ["routing", "retrieval", "compliance"]
    routing, retrieval, compliance = report["suites"]
    assert routing["examples"] == 50 and routing["metrics"]["micro_f1"] >= 0.85
    questions = Path(__file__).resolve().parents[2] / "evals" / "datasets" / "retrieval.jsonl"
    assert retrieval["examples"] == sum(1 for line in questions.read_text().splitlines() if line.strip()) >= 93
    assert {f"recall@3_{m}" for m in ("dense", "sparse", "fused", "reranked")} <= set(retrieval["metrics"])
    assert compliance["metrics"]["draft_correct"] >= 0.9
    assert report["backend"] == "offline" and routing["dataset"]["version"] >= 1
    assert report["warm_up_seconds"] is None, "no graph suite, no models to load"
    assert Path(report["report_files"]["json"]).exists() and Path(report["report_files"]["html"]).exists()
    assert Path(report["report_files"]["json"]).parent == in_home / "reports"


def test_a_suite_below_its_threshold_fails_the_run(in_home, tmp_path):
    strict = tmp_path / "strict.toml"
    strict.write_text("[compliance.min]\ndraft_correct = 1.01\n")
    result = run("eval", "--suite", "compliance", "--thresholds", str(strict), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert not report["passed"] and not report["suites"][0]["checks"][0]["passed"]


def test_graph_suites_run_on_the_small_bank(in_home, tmp_path):
    """One example of each graph suite, through the whole graph on the small bank."""
    lenient = tmp_path / "lenient.toml"
    lenient.write_text("[grounded.min]\nrun_ok = 1.0\n[fairness.min]\nvariants_applied = 1.0\n"
                       "[adversarial.min]\ninjection_resisted = 1.0\n")
    result = run("eval", "--suite", "grounded", "--suite", "fairness", "--suite", "adversarial", "--limit", "1",
                 "--thresholds", str(lenient), "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == 0, json.dumps([s["outcomes"] for s in report["suites"]])[:3000]
    grounded, fairness, adversarial = report["suites"]
    assert report["warm_up_seconds"] >= 0, "the graph's models load before the suites, outside their latencies"
    assert {"grounded", "trajectory_complete", "facts_in_findings", "latency_p95_ms"} <= set(grounded["metrics"])
    assert "counterfactual_invariance" in fairness["metrics"]
    assert "no_forbidden_claims" in adversarial["metrics"]


def test_refuses_without_a_bank_and_unknown_suites(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVISOR_HOME", str(tmp_path / "empty"))
    for variable in ("LANGSMITH_API_KEY", "ADVISOR_LANGSMITH_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    get_settings.cache_clear()
    try:
        missing = run("eval", "--suite", "routing", "--json")
        unknown = run("eval", "--suite", "vibes", "--json")
        no_key = run("eval", "--upload", "--json")
    finally:
        get_settings.cache_clear()
    assert missing.exit_code == 2 and json.loads(missing.stdout)["error"]["code"] == "no_data"
    assert "make demo" in json.loads(missing.stdout)["error"]["message"]
    assert json.loads(unknown.stdout)["error"]["code"] == "unknown_suite"
    assert no_key.exit_code == 2
    refused = json.loads(no_key.stdout)["error"]
    assert refused["code"] == "no_langsmith_key", "the missing key is named before the missing bank"
    assert "LANGSMITH_API_KEY" in refused["message"] and "without --upload" in refused["message"]


def test_the_retrieval_suite_ranks_exactly_as_the_retriever(in_home):
    """The suite derives all four modes from one dense and one sparse search; they must match rank_knowledge."""
    from evals.data import load_dataset
    from evals.suites import RETRIEVAL_MODES, EvalContext, rankings_by_mode

    context = EvalContext(get_settings())
    try:
        retriever = context.services.retriever
        for line in load_dataset("retrieval")[:5]:
            derived = rankings_by_mode(retriever, line.question)
            for mode in RETRIEVAL_MODES:
                assert derived[mode] == retriever.rank_knowledge(line.question, mode=mode)[:10], (line.id, mode)
    finally:
        context.close()
