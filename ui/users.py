"""Users of the advisor app: roles, advisor ids and bcrypt password hashes in a TOML file.

The file (``settings.users_file``, ``config/users.toml`` by default) holds one
``[[users]]`` table per user::

    [[users]]
    username = "advisor1"
    role = "advisor"            # advisor | compliance
    advisor_id = "A-001"        # advisors only: whose book they see
    password_hash = "$2b$12$..."

Passwords are never stored in clear; ``advisor users add`` hashes them.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

import bcrypt
from pydantic import BaseModel, Field, field_validator, model_validator

Role = Literal["advisor", "compliance"]
ROLES: tuple[str, ...] = ("advisor", "compliance")
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
ADVISOR_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
BCRYPT_ROUNDS = 12
MIN_PASSWORD_CHARS = 8
# A hash checked when the user is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = b"$2b$12$CwTycUXWue0Thq9StjUM0uJ8ZVJ7Yj6e1Y4fJ3G5Yc5o0y0jU4c1y"


class UsersFileError(ValueError):
    """The users file is missing, unreadable or holds an invalid entry."""


class AppUser(BaseModel):
    username: str
    role: Role
    advisor_id: str | None = Field(None, description="The advisor whose book this user sees (advisors only).")
    display_name: str | None = None
    password_hash: str = Field(repr=False)

    @field_validator("username")
    @classmethod
    def _username_shape(cls, value: str) -> str:
        if not USERNAME_PATTERN.match(value):
            raise ValueError("usernames are 2-64 letters, digits, '.', '_' or '-'")
        return value

    @field_validator("advisor_id")
    @classmethod
    def _advisor_id_shape(cls, value: str | None) -> str | None:
        if value is not None and not ADVISOR_ID_PATTERN.match(value):
            raise ValueError("advisor ids are letters, digits, '_' or '-' (e.g. A-001)")
        return value

    @field_validator("password_hash")
    @classmethod
    def _is_bcrypt(cls, value: str) -> str:
        if not re.match(r"^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$", value):
            raise ValueError("password_hash must be a bcrypt hash (never a password in clear)")
        return value

    @model_validator(mode="after")
    def _advisors_have_a_book(self) -> "AppUser":
        if self.role == "advisor" and not self.advisor_id:
            raise ValueError(f"advisor {self.username} needs an advisor_id")
        return self

    def chainlit_metadata(self) -> dict[str, str | None]:
        """What the app keeps about the user in the session (never the hash)."""
        return {"role": self.role, "advisor_id": self.advisor_id}


def hash_password(password: str, rounds: int = BCRYPT_ROUNDS) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"passwords need at least {MIN_PASSWORD_CHARS} characters")
    if len(password.encode()) > 72:
        raise ValueError("bcrypt uses at most 72 bytes of a password; choose a shorter one")
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


def password_matches(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode()[:72], password_hash.encode())
    except ValueError:
        return False


def load_users(path: Path) -> dict[str, AppUser]:
    """Every user of the file by username; :class:`UsersFileError` on any bad entry."""
    if not path.exists():
        raise UsersFileError(f"no users file at {path}; create one with `advisor users add`")
    try:
        document = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise UsersFileError(f"{path} is not valid TOML: {error}") from error
    users: dict[str, AppUser] = {}
    for number, entry in enumerate(document.get("users", []), start=1):
        try:
            user = AppUser.model_validate(entry)
        except ValueError as error:
            raise UsersFileError(f"{path}: user #{number} is invalid: {error}") from error
        if user.username in users:
            raise UsersFileError(f"{path}: user {user.username} appears twice")
        users[user.username] = user
    return users


def authenticate(users: dict[str, AppUser], username: str, password: str) -> AppUser | None:
    """The user when the password matches; ``None`` otherwise (same cost either way)."""
    user = users.get(username.strip())
    if user is None:
        bcrypt.checkpw(password.encode()[:72], _DUMMY_HASH)
        return None
    return user if password_matches(password, user.password_hash) else None


def _toml_string(value: str) -> str:
    if any(ord(ch) < 0x20 or ch in '"\\' for ch in value):
        raise ValueError(f"unsupported character in {value!r}")
    return f'"{value}"'


def render_users(users: list[AppUser], header: str = "") -> str:
    """The users file's text (TOML), one ``[[users]]`` table per user."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()] if header else []
    for user in users:
        lines += ["", "[[users]]", f"username = {_toml_string(user.username)}", f"role = {_toml_string(user.role)}"]
        if user.advisor_id:
            lines.append(f"advisor_id = {_toml_string(user.advisor_id)}")
        if user.display_name:
            lines.append(f"display_name = {_toml_string(user.display_name)}")
        lines.append(f"password_hash = {_toml_string(user.password_hash)}")
    return "\n".join(lines).lstrip("\n") + "\n"


USERS_FILE_HEADER = (
    "Users of the advisor app (Chainlit). Passwords are bcrypt hashes, never clear text.\n"
    "Add or change a user with: advisor users add NAME --role advisor --advisor-id A-001\n"
    "Roles: advisor (sees the customers of advisor_id only) | compliance (reviews answers)."
)


def save_user(path: Path, user: AppUser) -> bool:
    """Add the user, or replace the entry of the same name; True when it was new.

    Writes a temporary file and renames it over the old one, so a crash never leaves
    half a file; the result is parsed back before the rename.
    """
    existing = load_users(path) if path.exists() else {}
    is_new = user.username not in existing
    existing[user.username] = user
    text = render_users(list(existing.values()), USERS_FILE_HEADER)
    reparsed = {u["username"] for u in tomllib.loads(text).get("users", [])}
    if reparsed != set(existing):
        raise UsersFileError("the users file did not round-trip; nothing was written")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text)
    temporary.replace(path)
    return is_new
