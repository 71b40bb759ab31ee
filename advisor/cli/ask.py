"""`advisor ask`: one question, or a batch of them, through the advisory graph."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.markdown import Markdown

from advisor.cli.app import app, console, fail, print_json, settings


@app.command("ask")
def ask(
    question: str = typer.Argument(None, help="The advisor's question."),
    customer: str = typer.Option(None, "--customer", help="Customer id, e.g. C-00042."),
    thread: str = typer.Option(None, "--thread", help="Conversation thread id (memory across turns)."),
    advisor: str = typer.Option(None, "--advisor", help="Advisor id for the audit trail."),
    batch: Path = typer.Option(None, "--batch", help="JSONL file of {question, customer_id} lines."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer JSON of DESIGN.md."),
) -> None:
    """Answer an advisor's question about a customer (or about the bank's products and policies)."""
    if batch is None and not question:
        fail("empty_question", "Give a question, or --batch FILE.jsonl", as_json)
    if batch is not None and not batch.exists():
        fail("batch_not_found", f"{batch} does not exist", as_json)
    from graph.runner import open_runner

    config = settings()
    if not config.store_path.exists():
        fail("no_data", f"No data store at {config.store_path}: run `advisor ingest` first", as_json)
    with open_runner(config) as runner:
        if batch is not None:
            failures = 0
            for number, line in enumerate(batch.read_text().splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                    result = runner.ask(item["question"], item.get("customer_id"), item.get("thread_id"),
                                        advisor_id=advisor or item.get("advisor_id"))
                except (json.JSONDecodeError, KeyError, TypeError) as error:
                    result = {"error": {"code": "bad_batch_line", "message": f"line {number}: {error}"}}
                failures += "error" in result
                sys.stdout.write(json.dumps(result, ensure_ascii=False, default=str) + "\n")
            raise typer.Exit(1 if failures else 0)
        result = runner.ask(question, customer, thread, advisor_id=advisor)
    if "error" in result:
        fail(result["error"]["code"], result["error"]["message"], as_json)
    if as_json:
        print_json(result)
        return
    console.print(Markdown(result["answer"]))
    console.print(f"[dim]trace {result['trace_id']} · agents {', '.join(result['agents']) or 'none'} · "
                  f"critic {result['critic']['verdict']} · {result['timings_ms']['total']:.0f} ms[/]")
