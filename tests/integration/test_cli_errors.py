"""The command line meets the world's errors (a bad file, a full disk, a wrong key) with one line and a
non-zero exit; --debug or ADVISOR_DEBUG shows the stack trace; a bug is never dressed up as one."""

from __future__ import annotations

import errno
import json
import sqlite3

import pytest
from typer.testing import CliRunner

from advisor.cli.app import app as cli
from advisor.cli.app import operational_error_code
from advisor.settings import get_settings
from bank.contract import ContractError
from bank.privacy import DataKeyError
from bank.vectorstore import VectorStoreUnavailable


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVISOR_HOME", str(tmp_path))
    monkeypatch.delenv("ADVISOR_DEBUG", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def run(*args: str, **env: str):
    import advisor.cli.data  # noqa: F401  (registers `advisor ingest`)

    return CliRunner().invoke(cli, list(args), env=env or None)


def bank_with_an_empty_customers_file(home):
    folder = home / "broken-bank"
    folder.mkdir()
    (folder / "customers.csv").write_bytes(b"")
    (folder / "accounts.csv").write_text("account_id,customer_id,type,balance\n")
    return folder


def test_a_bad_input_file_stops_ingest_with_one_line_naming_file_and_line(home):
    folder = bank_with_an_empty_customers_file(home)
    result = run("ingest", "--data", str(folder), "--skip-text")
    assert result.exit_code == 2
    assert not isinstance(result.exception, ContractError) and "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error")]
    assert lines == ["error (bad_input_file): customers.csv:1: the file is empty: no header line "
                     "(run with --debug (or ADVISOR_DEBUG=1) for the stack trace)"]


def test_a_bad_input_file_is_a_json_error_with_json(home):
    folder = bank_with_an_empty_customers_file(home)
    result = run("ingest", "--data", str(folder), "--skip-text", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout) == {"error": {
        "code": "bad_input_file", "message": "customers.csv:1: the file is empty: no header line"}}


@pytest.mark.parametrize("how", ["option", "environment"])
def test_debug_shows_the_stack_trace(home, how):
    folder = bank_with_an_empty_customers_file(home)
    args = ["ingest", "--data", str(folder), "--skip-text"]
    result = run("--debug", *args) if how == "option" else run(*args, ADVISOR_DEBUG="1")
    assert isinstance(result.exception, ContractError)
    assert result.exit_code != 0 and result.exc_info is not None


@pytest.mark.parametrize(("error", "code"), [
    (VectorStoreUnavailable("Chroma server at http://127.0.0.1:1 did not answer within 2s"),
     "vector_store_unavailable"),
    (ContractError("customers.csv", "the file is empty", line=1), "bad_input_file"),
    (DataKeyError("the key file is empty"), "bad_data_key"),
    (OSError(errno.ENOSPC, "No space left on device"), "disk_full"),
    (sqlite3.OperationalError("database or disk is full"), "database_error"),
    (FileNotFoundError(errno.ENOENT, "No such file", "bank/customers.csv"), "file_not_found"),
    (PermissionError(errno.EACCES, "Permission denied"), "permission_denied"),
])
def test_operational_errors_have_a_code(error, code):
    assert operational_error_code(error) == code


@pytest.mark.parametrize("error", [KeyError("customer_id"), TypeError("bad operand"), ValueError("a bug"),
                                   AssertionError(), RuntimeError("unexpected")])
def test_a_bug_is_not_taken_for_an_operational_error(error):
    assert operational_error_code(error) is None


def test_invalid_settings_are_reported_without_a_stack_trace(home):
    result = run("customers", "list", ADVISOR_CHROMA_PORT="not-a-port")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "error (invalid_settings)" in result.output and "chroma_port" in result.output
