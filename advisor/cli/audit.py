"""`advisor audit`: what compliance reviews: list, show, sign off, verify and export the trail."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path

import typer
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table

from advisor.cli.app import app, console, fail, print_json, settings

audit_app = typer.Typer(help="Review the hash-chained audit trail of answers and sign-offs.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


class ExportFormat(str, Enum):
    jsonl = "jsonl"


class Decision(str, Enum):
    signoff = "signoff"
    flag = "flag"


def _open_trail(as_json: bool):
    from graph.audit import is_postgres_url, open_audit_trail

    url = settings().audit_url
    if not is_postgres_url(url) and not Path(url).exists():
        fail("no_audit_trail", f"No audit trail at {url}: nothing has been answered yet", as_json)
    return open_audit_trail(url)


@audit_app.command("list")
def list_records(
    advisor: str = typer.Option(None, "--advisor", help="Only records of this advisor."),
    customer: str = typer.Option(None, "--customer", help="Only records about this customer."),
    verdict: str = typer.Option(None, "--verdict",
                                help="Only answers with this critic verdict (approved, revised, blocked)."),
    since: str = typer.Option(None, "--since", help="Only records created at or after this ISO date or time."),
    kind: str = typer.Option(None, "--kind", help="Only records of this kind (answer, signoff, flag, ...)."),
    limit: int = typer.Option(50, min=1, help="Most records to show (newest first)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List audit records, newest first."""
    trail = _open_trail(as_json)
    try:
        records = trail.list(advisor_id=advisor, customer_id=customer, verdict=verdict, since=since, kind=kind,
                             limit=limit)
    finally:
        trail.close()
    if as_json:
        print_json([_summary(r) for r in records])
        return
    table = Table(title=f"Audit records ({len(records)})")
    for column in ("seq", "created_at", "kind", "trace_id", "advisor", "customer", "verdict", "agents / note"):
        table.add_column(column)
    for record in records:
        row = _summary(record)
        table.add_row(str(row["seq"]), row["created_at"], row["kind"], row["trace_id"], row["advisor_id"] or "",
                      row["customer_id"] or "", row["verdict"] or "", row["note"])
    console.print(table)


def _summary(record) -> dict:
    payload = record.payload
    if record.kind == "answer":
        note = ", ".join(payload.get("agents") or []) or "knowledge only"
    elif record.kind in ("signoff", "flag"):
        note = f"{payload.get('reviewer', '?')}: {payload.get('comment', '')}".strip()
    else:
        note = ""
    return {"seq": record.seq, "created_at": record.created_at, "kind": record.kind, "trace_id": record.trace_id,
            "advisor_id": record.advisor_id, "customer_id": record.customer_id, "verdict": record.verdict,
            "note": note[:80]}


@audit_app.command("show")
def show(
    trace_id: str = typer.Argument(..., help="Trace id of an answer."),
    as_json: bool = typer.Option(False, "--json", help="Print the records as JSON."),
) -> None:
    """Everything recorded about one answer: agents, data, documents, model, offers, verdict, sign-offs."""
    trail = _open_trail(as_json)
    try:
        records = trail.get(trace_id)
    finally:
        trail.close()
    if not records:
        fail("unknown_trace", f"No audit record with trace id {trace_id}", as_json)
    if as_json:
        print_json([r.model_dump(mode="json") for r in records])
        return
    for record in records:
        if record.kind == "answer":
            _show_answer(record)
        else:
            payload = record.payload
            console.print(Panel(f"{payload.get('reviewer', '')}: {payload.get('comment', '')}\n"
                                f"[dim]reviews record {payload.get('reviewed_seq')} · {record.created_at}[/]",
                                title=f"#{record.seq} {record.kind}"))


def _show_answer(record) -> None:
    payload = record.payload
    critic = payload.get("critic") or {}
    llm = payload.get("llm") or {}
    header = (f"trace {record.trace_id} · #{record.seq} · {record.created_at}\n"
              f"advisor {record.advisor_id or '-'} · customer {record.customer_id or '-'}\n"
              f"routed: {', '.join(payload.get('routed') or []) or '-'} · "
              f"ran: {', '.join(payload.get('nodes_run') or [])}\n"
              f"model: {llm.get('backend')} / {llm.get('model')} ({llm.get('calls', 0)} calls)"
              + (f" · fallback: {llm['fallback_reason']}" if llm.get("fallback_reason") else ""))
    console.print(Panel(header, title=f"answer · critic {critic.get('verdict', '-')}"))
    console.print(f"[bold]Question[/]: {payload.get('question', '')}")
    for offer in payload.get("recommendations") or []:
        console.print(f"[bold]Offer[/] {offer.get('product_code')} ({offer.get('score')}): "
                      + "; ".join(offer.get("reasons") or []))
        if offer.get("evidence"):
            console.print(f"  [dim]evidence: {', '.join(offer['evidence'][:12])}[/]")
    compliance = payload.get("compliance") or {}
    console.print(f"[bold]Compliance[/]: {'passed' if compliance.get('passed') else 'FAILED'}; "
                  f"{len(compliance.get('violations') or [])} violation(s), "
                  f"{len(compliance.get('disclosures') or [])} disclosure(s)")
    for violation in compliance.get("violations") or []:
        console.print(f"  - {violation.get('rule')} ({violation.get('policy')}): {violation.get('message')}")
    for issue in critic.get("issues") or []:
        console.print(f"[yellow]critic[/]: {issue}")
    if payload.get("sources"):
        console.print(f"[bold]Sources[/]: {', '.join(payload['sources'])}")
    if payload.get("prompt_hashes"):
        console.print("[dim]prompts: " + ", ".join(f"{k}={v[:12]}" for k, v in payload["prompt_hashes"].items())
                      + "[/]")
    console.print(Markdown(payload.get("answer") or ""))


@audit_app.command("signoff")
def signoff(
    trace_id: str = typer.Argument(..., help="Trace id of the answer reviewed."),
    reviewer: str = typer.Option(..., "--reviewer", help="Reviewer name or id."),
    decision: Decision = typer.Option(Decision.signoff, "--decision", help="signoff or flag."),
    comment: str = typer.Option("", "--comment", help="The reviewer's note (redacted before it is stored)."),
    as_json: bool = typer.Option(False, "--json", help="Print the new record as JSON."),
) -> None:
    """Record a reviewer's sign-off (or flag) on an answer; it becomes an audit record itself."""
    trail = _open_trail(as_json)
    try:
        from advisor.services import customer_identifiers

        config = settings()
        record = trail.signoff(trace_id, reviewer, decision.value, comment,
                               identifiers_of=lambda customer_id: customer_identifiers(config, customer_id))
    except KeyError as error:
        fail("unknown_trace", str(error.args[0]), as_json)
    except ValueError as error:
        fail("bad_signoff", str(error), as_json)
    finally:
        trail.close()
    if as_json:
        print_json(record.model_dump(mode="json"))
        return
    console.print(f"recorded {record.kind} #{record.seq} on {trace_id} by {reviewer}")


@audit_app.command("verify")
def verify(
    file: Path = typer.Option(None, "--file", help="Verify an exported JSONL file instead of the live trail."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Check the hash chain; name every edited, inserted or removed record. Exit 1 when broken."""
    from graph.audit import AuditRecord, verify_records

    if file is not None:
        if not file.exists():
            fail("file_not_found", f"{file} does not exist", as_json)
        records = [AuditRecord.model_validate_json(line) for line in file.read_text().splitlines() if line.strip()]
        breaks = verify_records(records)
        checked = len(records)
    else:
        trail = _open_trail(as_json)
        try:
            breaks = trail.verify()
            checked = len(trail.all())
        finally:
            trail.close()
    if as_json:
        print_json({"ok": not breaks, "records": checked, "breaks": [b.model_dump() for b in breaks]})
    elif breaks:
        console.print(f"[bold red]audit chain BROKEN[/]: {len(breaks)} problem(s) in {checked} record(s)")
        for item in breaks:
            console.print(f"  record {item.seq}" + (f" (trace {item.trace_id})" if item.trace_id else "")
                          + f": {item.problem}")
    else:
        console.print(f"[green]audit chain intact[/]: {checked} record(s) verified")
    if breaks:
        raise typer.Exit(1)


@audit_app.command("export")
def export(
    fmt: ExportFormat = typer.Option(ExportFormat.jsonl, "--format", help="Export format."),
    out: Path = typer.Option(None, "--out", help="Write to this file (default: standard output)."),
) -> None:
    """Export every record with its hashes (the copy can be checked with `advisor audit verify --file`)."""
    trail = _open_trail(False)
    try:
        lines = list(trail.export_jsonl())
    finally:
        trail.close()
    text = "".join(line + "\n" for line in lines)
    if out is None:
        sys.stdout.write(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    console.print(f"exported {len(lines)} record(s) as {fmt.value} to {out}")
