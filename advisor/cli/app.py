"""The root Typer application and helpers shared by the command groups."""

from __future__ import annotations

import errno
import json
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from advisor.settings import Settings, apply_process_environment, get_settings

# Errors that come from the world (a server down, a bad file, a full disk, a wrong key), not from a bug:
# a command that meets one stops with its code and message, not a stack trace. Named by class path, so
# that no module has to be imported before a command needs it.
OPERATIONAL_ERRORS = {
    "bank.vectorstore.VectorStoreUnavailable": "vector_store_unavailable",
    "bank.contract.ContractError": "bad_input_file",
    "bank.knowledge.KnowledgeBaseError": "bad_knowledge_base",
    "bank.privacy.DataKeyError": "bad_data_key",
    "bank.privacy.DecryptionError": "cannot_decrypt",
    "graph.llm.base.LLMError": "llm_unavailable",
    "tools.intent.IntentModelUnavailable": "intent_model_unavailable",
    "sqlite3.OperationalError": "database_error",
}
_OS_ERRORS = {errno.ENOSPC: "disk_full", errno.EDQUOT: "disk_full", errno.ENOENT: "file_not_found",
              errno.EACCES: "permission_denied", errno.EPERM: "permission_denied", errno.EROFS: "read_only"}
DEBUG_HINT = "run with --debug (or ADVISOR_DEBUG=1) for the stack trace"


def operational_error_code(error: BaseException) -> str | None:
    """The code of a known operational error, or None for anything else (a bug: let it raise)."""
    for cls in type(error).__mro__:
        code = OPERATIONAL_ERRORS.get(f"{cls.__module__}.{cls.__qualname__}")
        if code is not None:
            return code
    if isinstance(error, OSError):
        return _OS_ERRORS.get(error.errno or 0, "os_error")
    if type(error).__name__ == "ValidationError" and getattr(error, "title", None) == Settings.__name__:
        return "invalid_settings"
    return None


class _AdvisorGroup(TyperGroup):
    """Runs a command; a known operational error becomes one line and exit status 2 (see --debug)."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        ctx.meta["advisor.json"] = "--json" in args
        return super().parse_args(ctx, args)

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as error:
            code = operational_error_code(error)
            if code is None or ctx.meta.get("advisor.debug"):
                raise
            message = " ".join(str(error).split()) or type(error).__name__
            fail(code, message, ctx.meta.get("advisor.json", False), hint=DEBUG_HINT)


app = typer.Typer(
    name="advisor",
    cls=_AdvisorGroup,
    help="Multi-agent financial advisory system for bank advisors.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)


@app.callback()
def _prepare(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", envvar="ADVISOR_DEBUG",
                               help="Show the stack trace of an operational error (server down, bad file)."),
) -> None:
    """Multi-agent financial advisory system for bank advisors."""
    ctx.meta["advisor.debug"] = debug
    apply_process_environment(get_settings())


def settings() -> Settings:
    return get_settings()


def print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")


def fail(code: str, message: str, as_json: bool = True, exit_code: int = 2, hint: str | None = None) -> NoReturn:
    """Report an error the way every command does, without a stack trace."""
    if as_json:
        print_json({"error": {"code": code, "message": message}})
    else:
        console.print(f"[bold red]error[/] ({code}): {escape(message)}" + (f" [dim]({hint})[/]" if hint else ""),
                      soft_wrap=True)
    raise typer.Exit(exit_code)
