"""The `advisor` command line: one module per command group in this package.

Each module registers its commands on :data:`advisor.cli.app.app` when imported;
heavy libraries are imported inside the commands, so `--help` stays fast.
"""

from __future__ import annotations

import importlib
import pkgutil

from advisor.cli.app import app

__all__ = ["app", "main"]


def _register_command_groups() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name != "app":
            importlib.import_module(f"{__name__}.{module.name}")


def main() -> None:
    _register_command_groups()
    app()
