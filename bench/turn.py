"""Turn benchmark: latency of one advisory turn with the offline backend. Prints JSON.

For each bank size (default 2,000 and 20,000 customers) a bank is generated with the
project's generator and ingested with ``advisor ingest`` under a cache folder (kept for
the next run), then one process per bank opens the runner, asks a few warm-up questions
and times a fixed mix of questions taken from evals/datasets/routing.jsonl: questions
about customers (spread over the bank) and knowledge questions with no customer.

Reported per bank: runner open time, the first (cold) turn, per-turn p50/p95/max after
warm-up (wall clock, and the process's CPU time, which a busy shared machine inflates
less), each node's p50/p95 (from the ``timings_ms`` the runner returns), LLM calls and
tokens per turn, and whether the bank's texts were embedded (``--skip-text-at`` ingests
banks of at least that size with ``--skip-text``: no customer texts in Chroma).

Usage:
    python bench/turn.py                                  # 2,000 and 20,000 customers
    python bench/turn.py --customers 2000 --questions 50
    python bench/turn.py --customers 20000 --profile /tmp/turn.prof   # cProfile of the timed turns
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

ROUTING_SET = REPO_ROOT / "evals" / "datasets" / "routing.jsonl"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "advisor" / "bench-turn"
TARGET_20K = {"p50_ms": 150.0, "p95_ms": 400.0}
KNOWLEDGE_SHARE = 0.12
SEED = 42
MONTHS = 12


def question_mix(count: int, customer_ids: list[str]) -> list[dict]:
    """``count`` questions from the routing set, in a fixed order: about one in eight a
    knowledge question with no customer, the rest each with a customer spread over the bank."""
    examples = [json.loads(line) for line in ROUTING_SET.read_text().splitlines() if line.strip()]
    general = sorted((e for e in examples if not e.get("customer", True)), key=lambda e: e["id"])
    about_customer = sorted((e for e in examples if e.get("customer", True)), key=lambda e: e["id"])
    knowledge = min(len(general), max(1, round(count * KNOWLEDGE_SHARE)))
    picked = [general[i * len(general) // knowledge] for i in range(knowledge)]
    wanted = count - knowledge
    picked += [about_customer[i * len(about_customer) // wanted] for i in range(wanted)]
    stride = max(1, len(customer_ids) // max(wanted, 1))
    mix, asked_about = [], 0
    for example in sorted(picked, key=lambda e: e["id"]):
        customer = None
        if example.get("customer", True):
            customer = customer_ids[(asked_about * stride + stride // 2) % len(customer_ids)]
            asked_about += 1
        mix.append({"id": example["id"], "question": example["question"], "customer_id": customer})
    return mix


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1) if values else 0.0


# --- preparing a bank (parent process) ---------------------------------------------------------


def _advisor(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ADVISOR_HOME": str(home), "ADVISOR_LLM_BACKEND": "offline"}
    command = [sys.executable, "-c", "from advisor.cli import main; main()", *args]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, check=True, capture_output=True, text=True)


def prepare_bank(cache: Path, customers: int, skip_text: bool) -> tuple[Path, dict]:
    """A generated, ingested bank under the cache (built once; reused while its marker matches)."""
    home = cache / f"bank-{customers}-{'notext' if skip_text else 'text'}"
    marker = home / "bench-ingested.json"
    if marker.exists():
        return home, json.loads(marker.read_text())
    home.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    _advisor(home, "data", "generate", "--customers", str(customers), "--months", str(MONTHS), "--seed", str(SEED))
    generated_s = time.perf_counter() - started
    started = time.perf_counter()
    _advisor(home, "ingest", "--json", *(["--skip-text"] if skip_text else []))
    info = {"customers": customers, "months": MONTHS, "seed": SEED, "texts_embedded": not skip_text,
            "generate_s": round(generated_s, 1), "ingest_s": round(time.perf_counter() - started, 1)}
    marker.write_text(json.dumps(info))
    return home, info


# --- timing turns (child process, one per bank) ----------------------------------------------


def run_bank(home: Path, questions: int, warmup: int, profile: Path | None) -> dict:
    from advisor.settings import Settings, apply_process_environment

    settings = Settings(home=home, llm_backend="offline", langsmith_api_key=None)
    apply_process_environment(settings)
    for stale in home.glob("checkpoints.sqlite*"):
        stale.unlink()
    from graph.runner import open_runner

    opened = time.perf_counter()
    with open_runner(settings) as runner:
        open_s = time.perf_counter() - opened
        mix = question_mix(questions, runner.services.store.customer_ids())
        cold = _ask(runner, mix[0])
        runner.services.warm_up()  # every model, so that no timed turn loads (or trains) one
        for item in mix[1:1 + warmup]:
            _ask(runner, item)
        profiler = None
        if profile is not None:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        turns, cpu_ms = [], []
        for item in mix:
            cpu_started = time.process_time()
            turns.append(_ask(runner, item))
            cpu_ms.append((time.process_time() - cpu_started) * 1000)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
    errors = [t for t in turns if "error" in t]
    ok = [t for t in turns if "error" not in t]
    totals = [t["timings_ms"]["total"] for t in ok]
    nodes: dict[str, list[float]] = {}
    for turn in ok:
        for node, value in turn["timings_ms"].items():
            if node != "total":
                nodes.setdefault(node, []).append(value)
    llm_calls = [t["llm"]["calls"] for t in ok]
    tokens = [t["llm"]["prompt_tokens"] + t["llm"]["completion_tokens"] for t in ok]
    return {
        "questions": len(mix),
        "with_customer": sum(1 for item in mix if item["customer_id"]),
        "knowledge_only": sum(1 for item in mix if not item["customer_id"]),
        "errors": [e["error"] for e in errors],
        "open_runner_s": round(open_s, 2),
        "first_turn_ms": cold["timings_ms"]["total"] if "timings_ms" in cold else None,
        "open_and_first_turn_s": round(open_s + cold["timings_ms"]["total"] / 1000, 2) if "timings_ms" in cold else None,
        "warmup_turns": 1 + min(warmup, len(mix) - 1),
        "turn_ms": {"p50": percentile(totals, 50), "p95": percentile(totals, 95), "max": round(max(totals), 1),
                    "mean": round(float(np.mean(totals)), 1)},
        "turn_cpu_ms": {"p50": percentile(cpu_ms, 50), "p95": percentile(cpu_ms, 95)},
        "nodes_ms": {node: {"p50": percentile(values, 50), "p95": percentile(values, 95), "runs": len(values)}
                     for node, values in sorted(nodes.items())},
        "llm_per_turn": {"calls_mean": round(float(np.mean(llm_calls)), 2), "calls_max": max(llm_calls),
                         "tokens_mean": round(float(np.mean(tokens)), 1), "tokens_max": max(tokens),
                         "backend": ok[0]["llm"]["backend"]},
    }


def _ask(runner, item: dict) -> dict:
    return runner.ask(item["question"], customer_id=item["customer_id"])


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--skip-text-at", type=int, default=None,
                        help="ingest banks of at least this many customers with --skip-text")
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile of the timed turns here")
    parser.add_argument("--run-home", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.run_home is not None:
        print(json.dumps(run_bank(args.run_home, args.questions, args.warmup, args.profile)))
        return

    results = []
    for customers in args.customers:
        skip_text = args.skip_text_at is not None and customers >= args.skip_text_at
        home, bank = prepare_bank(args.cache_dir, customers, skip_text)
        command = [sys.executable, str(Path(__file__).resolve()), "--run-home", str(home),
                   "--questions", str(args.questions), "--warmup", str(args.warmup)]
        if args.profile is not None:
            command += ["--profile", str(args.profile.with_suffix(f".{customers}{args.profile.suffix}"))]
        child = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
        if child.returncode != 0:
            sys.exit(f"timing the {customers:,}-customer bank failed:\n{child.stderr[-4000:]}")
        measured = json.loads(child.stdout.strip().splitlines()[-1])
        entry = {"bank": bank, **measured}
        if not bank["texts_embedded"]:
            entry["note"] = ("ingested with --skip-text (embedding its texts takes too long on this machine): no "
                             "customer texts or knowledge documents in Chroma, so retrieval is BM25 only")
        if customers >= 20000:
            entry["target"] = TARGET_20K
            entry["meets_target"] = (measured["turn_ms"]["p50"] <= TARGET_20K["p50_ms"]
                                     and measured["turn_ms"]["p95"] <= TARGET_20K["p95_ms"])
        results.append(entry)
    print(json.dumps({"backend": "offline", "cpu_count": os.cpu_count(), "banks": results}, indent=2))


if __name__ == "__main__":
    main()
