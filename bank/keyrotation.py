"""Rotation of the data key that encrypts customers' identifiers at rest.

The steps, each safe to interrupt (running the rotation again finishes the job):

1. the new key is written next to the key file as ``<key file>.new`` (mode 0600), and
   the current key is copied to ``<key file>.old`` (the backup);
2. in one SQLite transaction every identifier is re-encrypted under the new key and the
   blind indexes of name tokens are rebuilt; before committing, every value is read back
   with the new key alone;
3. ``<key file>.new`` atomically replaces the key file;
4. the backup is removed (kept with ``keep_backup``).

Tokens name the key they were made with, so a rerun after a crash at any point reads
whatever mix of keys it finds (the key file, ``.new``, ``.old``) and moves everything
to the new key. Processes that loaded the old key must be restarted afterwards.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from pathlib import Path

from pydantic import BaseModel, Field

from bank.contract import IDENTIFIER_COLUMNS
from bank.privacy import (
    KEY_BYTES,
    DataKeyError,
    FieldCipher,
    encode_key,
    key_id,
    read_key_file,
)
from bank.store import _name_tokens

NAME_TOKEN_CONTEXT = "customers.name_token"


class RotationReport(BaseModel):
    old_key_ids: list[str] = Field(description="Keys the identifiers were under before (usually one).")
    new_key_id: str
    customers: int
    values_reencrypted: int
    name_tokens: int
    backup: str | None = Field(None, description="The old key file, when kept.")
    resumed: bool = Field(False, description="An interrupted rotation was finished.")
    seconds: float


def pending_key_file(key_file: Path) -> Path:
    return key_file.with_name(key_file.name + ".new")


def backup_key_file(key_file: Path) -> Path:
    return key_file.with_name(key_file.name + ".old")


def rotate_data_key(store_path: Path, key_file: Path, keep_backup: bool = False) -> RotationReport:
    """Move every encrypted identifier of the store to a fresh key and swap the key file."""
    started = time.perf_counter()
    key_file, pending, backup = Path(key_file), pending_key_file(Path(key_file)), backup_key_file(Path(key_file))
    if not key_file.exists():
        raise DataKeyError(f"no key file at {key_file}: nothing is encrypted with a key file yet")
    current = read_key_file(key_file)
    resumed = pending.exists() or backup.exists()
    if pending.exists():
        new_key = read_key_file(pending)
    elif backup.exists():
        new_key = current  # the swap happened; only the backup is left to check and remove
    else:
        new_key = os.urandom(KEY_BYTES)
        _write_private(pending, encode_key(new_key) + "\n")
    if not backup.exists():
        _copy_private(key_file, backup)
    known = [k for k in (current, read_key_file(backup)) if k != new_key]
    counts = _reencrypt_store(store_path, new_key, known)
    if pending.exists():
        os.replace(pending, key_file)
        _fsync_directory(key_file.parent)
    kept: str | None = str(backup) if keep_backup else None
    if not keep_backup:
        backup.unlink(missing_ok=True)
    return RotationReport(old_key_ids=counts["old_key_ids"], new_key_id=key_id(new_key),
                          customers=counts["customers"], values_reencrypted=counts["values"],
                          name_tokens=counts["tokens"], backup=kept, resumed=resumed,
                          seconds=round(time.perf_counter() - started, 3))


def _reencrypt_store(store_path: Path, new_key: bytes, old_keys: list[bytes]) -> dict:
    cipher = FieldCipher(new_key, old_keys=old_keys)
    if not Path(store_path).exists():
        return {"customers": 0, "values": 0, "tokens": 0, "old_key_ids": []}
    connection = sqlite3.connect(store_path, timeout=60, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            counts = _reencrypt_rows(connection, cipher)
            _check_readable(connection, FieldCipher(new_key))
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return counts


def _reencrypt_rows(connection: sqlite3.Connection, cipher: FieldCipher) -> dict:
    columns = ", ".join(f'"{c}"' for c in IDENTIFIER_COLUMNS)
    rows = connection.execute(f"SELECT customer_id, {columns} FROM customers").fetchall()
    old_ids: set[str] = set()
    changed_values = 0
    tokens: list[tuple[str, str]] = []
    for customer_id, *tokens_in in rows:
        updated = []
        for column, token in zip(IDENTIFIER_COLUMNS, tokens_in):
            if not token:
                updated.append(token)
                continue
            if cipher.needs_reencryption(token):
                old_ids.add(token.split(":")[1])
                changed_values += 1
            updated.append(cipher.reencrypt(token, f"customers.{column}"))
        assignments = ", ".join(f'"{c}" = ?' for c in IDENTIFIER_COLUMNS)
        connection.execute(f"UPDATE customers SET {assignments} WHERE customer_id = ?", (*updated, customer_id))
        full_name = cipher.decrypt(updated[IDENTIFIER_COLUMNS.index("full_name")], "customers.full_name") or ""
        tokens += [(cipher.blind_index(t, NAME_TOKEN_CONTEXT), customer_id) for t in _name_tokens(full_name)]
    connection.execute("DELETE FROM customer_name_tokens")
    connection.executemany("INSERT OR IGNORE INTO customer_name_tokens (token, customer_id) VALUES (?, ?)", tokens)
    return {"customers": len(rows), "values": changed_values, "tokens": len(tokens),
            "old_key_ids": sorted(old_ids)}


def _check_readable(connection: sqlite3.Connection, cipher: FieldCipher) -> None:
    """Every identifier decrypts with the new key alone (else the transaction rolls back)."""
    columns = ", ".join(f'"{c}"' for c in IDENTIFIER_COLUMNS)
    for row in connection.execute(f"SELECT {columns} FROM customers"):
        for column, token in zip(IDENTIFIER_COLUMNS, row):
            if token:
                cipher.decrypt(token, f"customers.{column}")


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _fsync_directory(path.parent)


def _copy_private(source: Path, target: Path) -> None:
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(descriptor, "wb") as handle, source.open("rb") as original:
        shutil.copyfileobj(original, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, target)
    _fsync_directory(target.parent)


def _fsync_directory(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
