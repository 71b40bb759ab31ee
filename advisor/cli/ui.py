"""`advisor users`: the users of the Chainlit app (roles, advisor ids, bcrypt hashes)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer
from rich.table import Table

from advisor.cli.app import app, console, fail, print_json, settings

users_app = typer.Typer(help="Manage the users of the advisor app (config/users.toml).", no_args_is_help=True)
app.add_typer(users_app, name="users")


class RoleOption(str, Enum):
    advisor = "advisor"
    compliance = "compliance"


def _users_file(file: Path | None) -> Path:
    return file or settings().users_file


@users_app.command("add")
def add_user(
    username: str = typer.Argument(..., help="Login name, e.g. advisor7."),
    role: RoleOption = typer.Option(..., "--role", help="advisor or compliance."),
    advisor_id: str = typer.Option(None, "--advisor-id", help="The advisor whose book the user sees (advisors)."),
    display_name: str = typer.Option(None, "--display-name", help="Name shown in the app."),
    password: str = typer.Option(
        ..., "--password", prompt=True, hide_input=True, confirmation_prompt=True,
        help="The password (prompted, hidden, when not given); only its bcrypt hash is stored.",
    ),
    file: Path = typer.Option(None, "--file", help="Users file (default: settings.users_file)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Add a user, or replace the user of the same name, with a bcrypt-hashed password."""
    from pydantic import ValidationError

    from ui.users import AppUser, UsersFileError, hash_password, save_user

    path = _users_file(file)
    if role is RoleOption.compliance and advisor_id:
        fail("bad_user", "compliance users have no advisor id", as_json)
    try:
        user = AppUser(username=username, role=role.value, advisor_id=advisor_id, display_name=display_name,
                       password_hash=hash_password(password))
        created = save_user(path, user)
    except UsersFileError as error:
        fail("bad_users_file", str(error), as_json)
    except ValidationError as error:
        problem = error.errors()[0]
        fail("bad_user", f"{'.'.join(map(str, problem['loc'])) or 'user'}: {problem['msg']}", as_json)
    except ValueError as error:
        fail("bad_user", str(error), as_json)
    result = {"username": username, "role": role.value, "advisor_id": advisor_id, "file": str(path),
              "created": created}
    if as_json:
        print_json(result)
        return
    console.print(f"{'added' if created else 'updated'} {role.value} [bold]{username}[/] in {path}")


@users_app.command("list")
def list_users(
    file: Path = typer.Option(None, "--file", help="Users file (default: settings.users_file)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the users (never their hashes)."""
    from ui.users import UsersFileError, load_users

    path = _users_file(file)
    try:
        users = load_users(path)
    except UsersFileError as error:
        fail("bad_users_file", str(error), as_json)
    rows = [u.model_dump(exclude={"password_hash"}) for u in users.values()]
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"Users in {path}")
    for column in ("username", "role", "advisor_id", "display_name"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["username"], row["role"], row["advisor_id"] or "", row["display_name"] or "")
    console.print(table)
