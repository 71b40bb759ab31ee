"""The `advisor` command line: one sub-command group per concern."""

from __future__ import annotations

from advisor.cli.app import app
from advisor.cli import data as _data  # noqa: F401  (registers commands)

__all__ = ["app", "main"]


def main() -> None:
    app()
