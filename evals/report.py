"""Thresholds, verdicts and the local reports of an evaluation run (JSON and one HTML page)."""

from __future__ import annotations

import html
import json
import tomllib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from evals.suites import SuiteResult

THRESHOLDS_FILE = Path(__file__).resolve().parent / "thresholds.toml"


class Threshold(BaseModel):
    metric: str
    bound: float
    kind: str = Field(description="min (the metric must be at least) or max (at most)")


class Check(BaseModel):
    metric: str
    value: float | None
    bound: float
    kind: str
    passed: bool


class SuiteVerdict(BaseModel):
    suite: SuiteResult
    checks: list[Check]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


class EvalReport(BaseModel):
    started_at: str
    seconds: float
    backend: str
    model: str
    git_revision: str | None
    advisor_home: str
    as_of: str | None = None
    warm_up_seconds: float | None = Field(None, description="Loading (and, where missing, training) the graph's "
                                                            "models before the suites; not in any latency.")
    verdicts: list[SuiteVerdict]

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)


def load_thresholds(path: Path = THRESHOLDS_FILE) -> dict[str, list[Threshold]]:
    """``[suite.min]`` and ``[suite.max]`` tables of metric bounds."""
    raw = tomllib.loads(path.read_text())
    thresholds: dict[str, list[Threshold]] = {}
    for suite, bounds in raw.items():
        for kind in ("min", "max"):
            for metric, bound in (bounds.get(kind) or {}).items():
                thresholds.setdefault(suite, []).append(Threshold(metric=metric, bound=float(bound), kind=kind))
        unknown = set(bounds) - {"min", "max"}
        if unknown:
            raise ValueError(f"thresholds for {suite}: only [min] and [max] tables, not {sorted(unknown)}")
    return thresholds


def judge(result: SuiteResult, thresholds: list[Threshold]) -> SuiteVerdict:
    """A metric that is missing fails its threshold: a suite cannot pass by not measuring."""
    checks = []
    for threshold in thresholds:
        value = result.metrics.get(threshold.metric)
        if value is None:
            passed = False
        elif threshold.kind == "min":
            passed = value >= threshold.bound - 1e-9
        else:
            passed = value <= threshold.bound + 1e-9
        checks.append(Check(metric=threshold.metric, value=value, bound=threshold.bound, kind=threshold.kind,
                            passed=passed))
    return SuiteVerdict(suite=result, checks=checks)


def report_json(report: EvalReport) -> dict[str, Any]:
    return {
        **report.model_dump(mode="json", exclude={"verdicts"}),
        "passed": report.passed,
        "suites": [{**v.suite.model_dump(mode="json"), "passed": v.passed,
                    "checks": [c.model_dump(mode="json") for c in v.checks]} for v in report.verdicts],
    }


def write_reports(report: EvalReport, folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.fromisoformat(report.started_at).astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    json_path = folder / f"eval-{stamp}.json"
    html_path = folder / f"eval-{stamp}.html"
    json_path.write_text(json.dumps(report_json(report), indent=2, ensure_ascii=False))
    html_path.write_text(render_html(report))
    return json_path, html_path


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1f24;max-width:1200px}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}.pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}
.meta{color:#57606a;font-size:.9rem}details{margin:.5rem 0}code{font-size:.85rem}
"""


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value)) if value is not None else "&mdash;"


def render_html(report: EvalReport) -> str:
    """One self-contained page: no scripts, no external assets."""
    status = '<span class="pass">PASSED</span>' if report.passed else '<span class="fail">FAILED</span>'
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Advisor evaluation</title>"
             f"<style>{_STYLE}</style></head><body>",
             f"<h1>Advisor evaluation {status}</h1>",
             f"<p class='meta'>{_cell(report.started_at)} &middot; {report.seconds:.0f} s &middot; backend "
             f"{_cell(report.backend)} ({_cell(report.model)}) &middot; revision {_cell(report.git_revision)} "
             f"&middot; bank {_cell(report.advisor_home)} (as of {_cell(report.as_of)})"
             + (f" &middot; models loaded in {report.warm_up_seconds:.0f} s before the suites"
                if report.warm_up_seconds is not None else "") + "</p>",
             "<table><tr><th>suite</th><th>examples</th><th>seconds</th><th>dataset</th><th>verdict</th></tr>"]
    for verdict in report.verdicts:
        suite = verdict.suite
        parts.append(f"<tr><td><a href='#{suite.name}'>{suite.name}</a></td><td>{suite.examples}</td>"
                     f"<td>{suite.seconds:.0f}</td><td>v{suite.dataset.version} ({suite.dataset.sha256[:10]})</td>"
                     f"<td>{'<span class=pass>pass</span>' if verdict.passed else '<span class=fail>fail</span>'}"
                     f"</td></tr>")
    parts.append("</table>")
    for verdict in report.verdicts:
        suite = verdict.suite
        parts.append(f"<h2 id='{suite.name}'>{suite.name}</h2><p>{_cell(suite.description)}</p>")
        for note in suite.notes:
            parts.append(f"<p class='meta'>{_cell(note)}</p>")
        bounds = {c.metric: c for c in verdict.checks}
        parts.append("<table><tr><th>metric</th><th>value</th><th>threshold</th><th></th></tr>")
        for metric, value in suite.metrics.items():
            check = bounds.get(metric)
            bound = f"{'&ge;' if check.kind == 'min' else '&le;'} {check.bound:g}" if check else ""
            mark = ""
            if check:
                mark = "<span class=pass>ok</span>" if check.passed else "<span class=fail>below</span>"
            parts.append(f"<tr><td>{_cell(metric)}</td><td>{_cell(value)}</td><td>{bound}</td>"
                         f"<td>{mark}</td></tr>")
        for check in verdict.checks:
            if check.metric not in suite.metrics:
                parts.append(f"<tr><td>{_cell(check.metric)}</td><td>&mdash;</td><td>{check.kind} {check.bound:g}"
                             f"</td><td><span class=fail>not measured</span></td></tr>")
        parts.append("</table>")
        keys = sorted({key for outcome in suite.outcomes for key in outcome.scores})
        parts.append(f"<details><summary>{suite.examples} examples</summary><table><tr><th>id</th>"
                     + "".join(f"<th>{_cell(k)}</th>" for k in keys) + "<th>notes</th></tr>")
        for outcome in suite.outcomes:
            notes = "; ".join(f"{k}: {v}" for k, v in outcome.comments.items())
            if outcome.error:
                notes = f"error: {outcome.error}; {notes}"
            parts.append(f"<tr><td>{_cell(outcome.id)}</td>"
                         + "".join(f"<td>{_cell(outcome.scores.get(k))}</td>" for k in keys)
                         + f"<td><code>{_cell(notes[:600])}</code></td></tr>")
        parts.append("</table></details>")
    parts.append("</body></html>")
    return "\n".join(parts)
