"""``python -m bank.generator --customers N --months M --seed S --out DIR``."""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

from bank.generator.generate import DEFAULT_END_DATE, generate_bank


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bank.generator", description=__doc__)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--labels", type=Path, default=None)
    parser.add_argument("--end-date", type=date.fromisoformat, default=DEFAULT_END_DATE)
    args = parser.parse_args(argv)
    report = generate_bank(args.customers, args.months, args.seed, args.out, args.labels, args.end_date)
    print(json.dumps(report.model_dump(mode="json"), indent=2))


if __name__ == "__main__":
    main()
