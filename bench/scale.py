"""Book-wide jobs at scale: generate, ingest (structured tables only) and run `advisor nbo` and
`advisor segments report` on banks of the given sizes; prints one JSON object.

Banks and their ingested homes are cached under ``--cache-dir`` (one folder per size, months
and seed) and reused on the next run. The models (risk, segments, intents) are trained once
per home before timing, so the NBO figure is the job itself. CPU seconds and peak memory
are those of the timed command's process.

    .venv/bin/python bench/scale.py --sizes 20000 100000 --months 12
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
INGESTED_MARKER = "ingested.json"
ADVISOR = Path(sys.executable).with_name("advisor")


def _timed(command: list[str], env: dict[str, str]) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stdout}\n{completed.stderr}")
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 2),
        "peak_rss_mb": round(after.ru_maxrss / 1024, 1),  # the largest child so far (Linux: KiB)
        "report": json.loads(completed.stdout) if completed.stdout.strip().startswith("{") else None,
    }


def _prepare(size: int, months: int, seed: int, cache: Path) -> tuple[Path, dict]:
    from advisor.services import knowledge_base, open_store
    from advisor.settings import Settings
    from bank.generator import generate_bank
    from bank.ingest import Ingestor
    from graph.context import AdvisorServices

    folder = cache / f"bank-{size}c-{months}m-s{seed}"
    tables, home = folder / "tables", folder / "home"
    figures: dict = {}
    if not (tables / "customers.csv").exists():
        started = time.perf_counter()
        report = generate_bank(customers=size, months=months, seed=seed, out_dir=tables)
        figures["generate_s"] = round(time.perf_counter() - started, 2)
        figures["rows"] = report.rows
    settings = Settings(home=home, data_dir=tables)
    store = open_store(settings)
    try:
        marker = folder / INGESTED_MARKER
        if not marker.exists():
            started = time.perf_counter()
            Ingestor(store).run(tables, with_text=False)
            seconds = time.perf_counter() - started
            rows = sum(store.count(t) for t in ("customers", "accounts", "transactions", "payments",
                                                "interactions", "social_posts"))
            marker.write_text(json.dumps({"ingest_structured_s": round(seconds, 2),
                                          "ingest_rows_per_s": round(rows / seconds)}))
        figures.update(json.loads(marker.read_text()))
        figures["transactions"] = store.count("transactions")
        started = time.perf_counter()
        services = AdvisorServices(settings=settings, store=store, knowledge=knowledge_base(settings),
                                   labels_dir=tables / "labels")
        for model in ("risk_model", "segmenter", "sentiment_scorer", "intent_classifier"):
            getattr(services, model)
        figures["models_ready_s"] = round(time.perf_counter() - started, 2)
    finally:
        store.close()
    return home, figures


def _usage() -> tuple[float, float, float]:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return (own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime, own.ru_maxrss / 1024,
            children.ru_maxrss / 1024)


def run_from_files(sizes: list[int], months: int, seed: int, cache: Path, models_home: Path,
                   no_voice: bool) -> dict:
    """The NBO computation itself on generated banks read from their CSV files (no ingest), with
    the models of an ingested home: for sizes whose ingest takes longer than the time at hand."""
    from advisor.services import knowledge_base, open_store
    from advisor.settings import Settings
    from bank.generator import generate_bank
    from graph.context import AdvisorServices
    from tools.book import BookModels, book_alerts, book_findings, next_best_offers
    from tools.book.segments import segment_report

    settings = Settings(home=models_home)
    store = open_store(settings)
    services = AdvisorServices(settings=settings, store=store, knowledge=knowledge_base(settings))
    models = BookModels(services.risk_model, services.segmenter, None if no_voice else services.sentiment_scorer,
                        None if no_voice else services.intent_classifier)
    workers = os.cpu_count() or 1
    results = []
    for size in sizes:
        tables_dir = cache / f"bank-{size}c-{months}m-s{seed}" / "tables"
        figures: dict = {"customers": size, "months": months, "workers": workers, "voice": models.with_voice}
        if not (tables_dir / "customers.csv").exists():
            started = time.perf_counter()
            generate_bank(customers=size, months=months, seed=seed, out_dir=tables_dir)
            figures["generate_s"] = round(time.perf_counter() - started, 2)
        steps = {}
        cpu, _, _ = _usage()
        started = time.perf_counter()
        tables, read_step = _read_book_snapshot(tables_dir, with_text=models.with_voice)
        steps[read_step] = time.perf_counter() - started
        figures["transactions"] = len(tables.transactions)
        as_of = last_day(tables)
        mark = time.perf_counter()
        findings = book_findings(tables, services.knowledge, models, as_of, workers=workers)
        steps["findings"] = time.perf_counter() - mark
        mark = time.perf_counter()
        offers = next_best_offers(findings.profiles, findings.features, services.knowledge, as_of)
        steps["offers"] = time.perf_counter() - mark
        mark = time.perf_counter()
        alerts = book_alerts(findings.overspending, findings.credit)
        steps["alerts"] = time.perf_counter() - mark
        nbo_wall = time.perf_counter() - started
        cpu_after, own_peak, child_peak = _usage()
        mark = time.perf_counter()
        segment_report(tables.transactions, services.segmenter, as_of)
        figures["segments_report_s"] = round(time.perf_counter() - mark, 2)
        figures["nbo"] = {
            "wall_s": round(nbo_wall, 2), "cpu_s": round(cpu_after - cpu, 2),
            "wall_s_without_reading": round(nbo_wall - steps[read_step], 2),
            "steps_s": {k: round(v, 2) for k, v in steps.items()},
            "rows": len(offers), "alerts": len(alerts),
            "peak_rss_mb": {"main": round(own_peak, 1), "largest_worker": round(child_peak, 1)},
        }
        results.append(figures)
        del tables, findings, offers, alerts
    store.close()
    return {"benchmark": "scale (from files)", "cpus": os.cpu_count(), "models_home": str(models_home),
            "note": "timed on a shared machine: other processes inflate wall time", "results": results}


BOOK_TABLES = ("customers", "accounts", "payments", "transactions", "interactions", "social_posts")


def _read_book_snapshot(tables_dir: Path, with_text: bool):
    """The book's tables from a Parquet snapshot beside the CSV files (``read_snapshot``), or from
    the files, validated as on ingest, writing the snapshot for the next run (``read_files``)."""
    import pandas as pd

    from tools.book.findings import BookTables, read_book_folder

    snapshot = tables_dir.parent / "book-snapshot"
    wanted = BOOK_TABLES if with_text else BOOK_TABLES[:4]
    if all((snapshot / f"{name}.parquet").exists() for name in wanted):
        return BookTables(**{name: pd.read_parquet(snapshot / f"{name}.parquet") for name in wanted}), "read_snapshot"
    tables = read_book_folder(tables_dir, with_text=with_text)
    snapshot.mkdir(exist_ok=True)
    for name in wanted:
        getattr(tables, name).to_parquet(snapshot / f"{name}.parquet", index=False)
    return tables, "read_files"


def last_day(tables) -> date:
    """The bank's last day with data: the last transaction's date."""
    import pandas as pd

    return pd.to_datetime(tables.transactions["timestamp"], format="ISO8601", utc=True).max().date()


def run(sizes: list[int], months: int, seed: int, cache: Path, no_voice: bool) -> dict:
    results = []
    for size in sizes:
        home, figures = _prepare(size, months, seed, cache)
        env = {**os.environ, "ADVISOR_HOME": str(home), "ADVISOR_DATA_DIR": str(home.parent / "tables")}
        out = home.parent / "nbo.parquet"
        nbo = [str(ADVISOR), "nbo", "--out", str(out), "--alerts", "--json", *(["--no-voice"] if no_voice else [])]
        figures["nbo"] = _timed(nbo, env)
        figures["segments_report"] = _timed([str(ADVISOR), "segments", "report", "--out-chart",
                                             str(home.parent / "segments.html"), "--json"], env)
        figures["segments_report"]["report"] = None  # the table itself is not a figure
        results.append({"customers": size, "months": months, **figures})
    return {
        "benchmark": "scale",
        "cpus": os.cpu_count(),
        "note": "timed on a shared machine: other processes inflate wall time; cpu_s is this job's own",
        "target": {"nbo_wall_s_at_100k": 60},
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cache-dir", type=Path, default=REPO_ROOT / ".advisor" / "bench-scale")
    parser.add_argument("--no-voice", action="store_true", help="Run the NBO without customers' texts.")
    parser.add_argument("--from-files", type=Path, metavar="MODELS_HOME",
                        help="Skip ingest: time the NBO on the generated CSV files (a Parquet snapshot of them "
                             "from the second run on) with this home's models.")
    args = parser.parse_args()
    if args.from_files:
        result = run_from_files(args.sizes, args.months, args.seed, args.cache_dir, args.from_files, args.no_voice)
    else:
        result = run(args.sizes, args.months, args.seed, args.cache_dir, args.no_voice)
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
