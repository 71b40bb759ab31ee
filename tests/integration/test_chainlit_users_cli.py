"""`advisor users add|list`: bcrypt-hashed users for the app, refused when malformed."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from advisor.cli.app import app as cli
from ui.users import authenticate, load_users


def run(*args: str):
    import advisor.cli.ui  # noqa: F401  (registers `advisor users`)

    return CliRunner().invoke(cli, list(args))


def test_add_hashes_the_password_and_list_hides_it(tmp_path):
    users_file = tmp_path / "users.toml"
    added = run("users", "add", "advisor9", "--role", "advisor", "--advisor-id", "A-009", "--password",
                "long-enough-secret", "--file", str(users_file), "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["created"] is True
    assert "long-enough-secret" not in users_file.read_text()
    assert authenticate(load_users(users_file), "advisor9", "long-enough-secret").advisor_id == "A-009"
    again = run("users", "add", "advisor9", "--role", "advisor", "--advisor-id", "A-010", "--password",
                "another-secret", "--file", str(users_file), "--json")
    assert json.loads(again.stdout)["created"] is False
    listed = run("users", "list", "--file", str(users_file), "--json")
    rows = json.loads(listed.stdout)
    assert rows == [{"username": "advisor9", "role": "advisor", "advisor_id": "A-010", "display_name": None}]


def test_bad_users_are_refused_without_a_trace(tmp_path):
    users_file = tmp_path / "users.toml"
    for args, code in (
        (("advisor9", "--role", "advisor", "--password", "long-enough-secret"), "bad_user"),
        (("auditor", "--role", "compliance", "--advisor-id", "A-001", "--password", "long-enough-secret"),
         "bad_user"),
        (("advisor9", "--role", "advisor", "--advisor-id", "A-009", "--password", "short"), "bad_user"),
        (("bad name!", "--role", "compliance", "--password", "long-enough-secret"), "bad_user"),
    ):
        result = run("users", "add", *args, "--file", str(users_file), "--json")
        assert result.exit_code == 2 and json.loads(result.stdout)["error"]["code"] == code, result.output
        assert "Traceback" not in result.output
    assert not users_file.exists()
    missing = run("users", "list", "--file", str(users_file), "--json")
    assert json.loads(missing.stdout)["error"]["code"] == "bad_users_file"
