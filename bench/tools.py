"""Specialist tools benchmark: per-customer time of the spending and credit tools. Prints JSON.

The timing bounds that used to sit in the unit and integration tests live here:

- spending: ``analyse_spending`` on one customer's transactions, CPU and wall time per
  customer (target: CPU p50 <= 30 ms for a typical customer of about 400 transactions);
- spending: the segmenter trained on the whole book (target: < 10 s);
- credit: ``assess_credit`` of one customer with the bank's risk model (target: p50
  <= 20 ms on an idle machine; the old test allowed 60 ms of wall time on a busy one);
- credit: the risk model trained on a 1,000-customer bank (target: < 20 s).

Per-customer targets are judged on CPU time, which stands for the time on an idle machine
(the tools run on one thread); wall time is reported next to it.

A bank of ``--customers`` is generated in a temporary folder and its tables ingested
(no text); ``--sample`` customers are timed after three warm-up calls.

Usage: python bench/tools.py [--customers 150] [--sample 40] [--train-customers 1000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGETS = {"spending_cpu_p50_ms": 30.0, "segmenter_train_s": 10.0, "credit_median_ms": 20.0,
           "credit_train_s": 20.0}


def _ms(values: list[float], q: float) -> float:
    return round(1000 * float(np.percentile(values, q)), 2)


def _timed(calls) -> tuple[list[float], list[float]]:
    cpu, wall = [], []
    for call in calls:
        cpu_started, wall_started = time.process_time(), time.perf_counter()
        call()
        cpu.append(time.process_time() - cpu_started)
        wall.append(time.perf_counter() - wall_started)
    return cpu, wall


def bench_spending(store, as_of, sample: list[str]) -> dict:
    from tools.spending import analyse_spending, train_segmenter

    transactions = store.table("transactions")
    started = time.perf_counter()
    segmenter = train_segmenter(transactions)
    train_s = time.perf_counter() - started
    frames = [store.transactions(c) for c in sample]
    for frame in frames[:3]:
        analyse_spending(frame, as_of, segmenter=segmenter)
    cpu, wall = _timed([lambda frame=frame: analyse_spending(frame, as_of, segmenter=segmenter) for frame in frames])
    return {
        "customers": len(frames),
        "transactions_median": int(np.median([len(f) for f in frames])),
        "cpu_ms": {"p50": _ms(cpu, 50), "p90": _ms(cpu, 90)},
        "wall_ms": {"p50": _ms(wall, 50), "p90": _ms(wall, 90)},
        "segmenter_train_s": round(train_s, 2),
        "segmenter_trained_on": len(transactions),
        "meets_target": _ms(cpu, 50) <= TARGETS["spending_cpu_p50_ms"] and train_s < TARGETS["segmenter_train_s"],
    }


def bench_credit(store, as_of, sample: list[str], labels_dir: Path, train_customers: int, work: Path) -> dict:
    from bank.generator import generate_bank
    from tools.credit import (
        assess_credit,
        frames_from_folder,
        frames_from_store,
        load_default_labels,
        profile_of,
        train_bank_model,
    )

    model = train_bank_model(frames_from_store(store, with_audit_groups=True), as_of, load_default_labels(labels_dir))
    inputs = [(profile_of(store.customer(c), as_of), store.accounts(c), store.payments(c)) for c in sample]
    for profile, accounts, payments in inputs[:3]:
        assess_credit(profile, accounts, payments, None, model, as_of)
    cpu, wall = _timed([lambda i=i: assess_credit(i[0], i[1], i[2], None, model, as_of) for i in inputs])

    folder = work / "train-bank"
    generate_bank(out_dir=folder, customers=train_customers, months=12, seed=2024)
    frames = frames_from_folder(folder, with_audit_groups=True)
    started = time.perf_counter()
    train_bank_model(frames, labels=load_default_labels(folder / "labels"))
    train_s = time.perf_counter() - started
    return {
        "customers": len(inputs),
        "cpu_ms": {"p50": _ms(cpu, 50), "p90": _ms(cpu, 90)},
        "wall_ms": {"p50": _ms(wall, 50), "p90": _ms(wall, 90)},
        "train_customers": train_customers,
        "train_s": round(train_s, 2),
        "meets_target": _ms(cpu, 50) <= TARGETS["credit_median_ms"] and train_s < TARGETS["credit_train_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=150)
    parser.add_argument("--sample", type=int, default=40)
    parser.add_argument("--train-customers", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from advisor import services
    from advisor.settings import Settings, apply_process_environment
    from bank.generator import generate_bank
    from bank.ingest import Ingestor

    with tempfile.TemporaryDirectory(prefix="bench-tools-") as tmp:
        work = Path(tmp)
        settings = Settings(home=work / "home", data_key=None)
        apply_process_environment(settings)
        generate_bank(out_dir=settings.data_dir, customers=args.customers, months=12, seed=args.seed)
        store = services.open_store(settings)
        try:
            Ingestor(store).run(settings.data_dir, with_text=False)
            as_of = store.latest_date()
            sample = store.customer_ids()[:args.sample]
            result = {
                "bank": {"customers": args.customers, "months": 12, "seed": args.seed},
                "targets": TARGETS,
                "spending": bench_spending(store, as_of, sample),
                "credit": bench_credit(store, as_of, sample, settings.data_dir / "labels", args.train_customers,
                                       work),
            }
        finally:
            store.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
