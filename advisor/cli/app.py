"""The root Typer application and helpers shared by the command groups."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console

from advisor.settings import Settings, apply_process_environment, get_settings

app = typer.Typer(
    name="advisor",
    help="Multi-agent financial advisory system for bank advisors.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)


@app.callback()
def _prepare() -> None:
    """Multi-agent financial advisory system for bank advisors."""
    apply_process_environment(get_settings())


def settings() -> Settings:
    return get_settings()


def print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")


def fail(code: str, message: str, as_json: bool = True, exit_code: int = 2) -> NoReturn:
    """Report an error the way every command does, without a stack trace."""
    if as_json:
        print_json({"error": {"code": code, "message": message}})
    else:
        console.print(f"[bold red]error[/] ({code}): {message}")
    raise typer.Exit(exit_code)
