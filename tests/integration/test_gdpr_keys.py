"""`advisor keys rotate`: every identifier moves to a fresh key, indexes follow, and a rotation cut
short at any step is finished by running it again."""

from __future__ import annotations

import json
import os
import sqlite3
import stat

import pandas as pd
import pytest
from typer.testing import CliRunner

from advisor.cli import _register_command_groups
from advisor.cli.app import app as cli
from advisor.settings import Settings, get_settings
from bank.keyrotation import _reencrypt_store, backup_key_file, pending_key_file, rotate_data_key
from bank.privacy import DecryptionError, FieldCipher, encode_key, key_id, read_key_file


@pytest.fixture(scope="module")
def small_bank(tmp_path_factory):
    from bank.generator import generate_bank

    out = tmp_path_factory.mktemp("keys-bank") / "tables"
    generate_bank(customers=12, months=1, seed=3, out_dir=out)
    return out


@pytest.fixture()
def home(small_bank, tmp_path, monkeypatch):
    from advisor.services import open_store
    from bank.ingest import Ingestor

    monkeypatch.setenv("ADVISOR_HOME", str(tmp_path))
    monkeypatch.delenv("ADVISOR_DATA_KEY", raising=False)
    get_settings.cache_clear()
    store = open_store(Settings(home=tmp_path))
    Ingestor(store).run(small_bank, with_text=False)
    store.close()
    yield tmp_path
    get_settings.cache_clear()


def open_with(home, key: bytes):
    from bank.store import BankStore

    return BankStore(home / "bank.db", FieldCipher(key))


def customers_csv(small_bank) -> pd.DataFrame:
    return pd.read_csv(small_bank / "customers.csv", dtype=str)


def run(*args: str):
    _register_command_groups()
    return CliRunner().invoke(cli, list(args))


def test_rotation_moves_every_identifier_to_the_new_key(home, small_bank):
    key_file = home / "keys" / "data.key"
    old_key = read_key_file(key_file)
    result = run("keys", "rotate", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    new_key = read_key_file(key_file)
    assert new_key != old_key and report["new_key_id"] == key_id(new_key)
    assert report["old_key_ids"] == [key_id(old_key)] and report["customers"] == 12
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not backup_key_file(key_file).exists() and not pending_key_file(key_file).exists()
    expected = customers_csv(small_bank).set_index("customer_id")
    store = open_with(home, new_key)
    try:
        for customer_id, row in expected.iterrows():
            customer = store.customer(customer_id)
            assert (customer.full_name, customer.email, customer.phone) == (row.full_name, row.email, row.phone)
        first = expected.iloc[0]
        assert [c.customer_id for c in store.search_customers(first.full_name)] == [expected.index[0]]
    finally:
        store.close()
    stale = open_with(home, old_key)
    with pytest.raises(DecryptionError, match="not loaded"):
        stale.customer(expected.index[0])
    stale.close()


def test_keep_backup_leaves_the_old_key_private(home):
    key_file = home / "keys" / "data.key"
    old_key = read_key_file(key_file)
    result = run("keys", "rotate", "--keep-backup", "--json")
    assert result.exit_code == 0, result.output
    backup = backup_key_file(key_file)
    assert json.loads(result.stdout)["backup"] == str(backup)
    assert read_key_file(backup) == old_key and stat.S_IMODE(backup.stat().st_mode) == 0o600


@pytest.mark.parametrize("stage", ["before_reencryption", "after_reencryption", "after_swap"])
def test_a_rotation_cut_short_is_finished_by_running_it_again(home, small_bank, stage):
    key_file = home / "keys" / "data.key"
    old_key = read_key_file(key_file)
    new_key = os.urandom(32)
    pending_key_file(key_file).write_text(encode_key(new_key) + "\n")
    backup_key_file(key_file).write_text(encode_key(old_key) + "\n")
    if stage != "before_reencryption":
        _reencrypt_store(home / "bank.db", new_key, [old_key])
    if stage == "after_swap":
        os.replace(pending_key_file(key_file), key_file)
    report = rotate_data_key(home / "bank.db", key_file)
    assert report.resumed and report.new_key_id == key_id(new_key)
    assert read_key_file(key_file) == new_key
    assert not pending_key_file(key_file).exists() and not backup_key_file(key_file).exists()
    store = open_with(home, new_key)
    first = customers_csv(small_bank).iloc[0]
    assert store.customer(first.customer_id).email == first.email
    store.close()


def test_an_unreadable_value_aborts_the_rotation_and_changes_nothing(home):
    key_file = home / "keys" / "data.key"
    old_key = read_key_file(key_file)
    with sqlite3.connect(home / "bank.db") as connection:
        before = connection.execute("SELECT customer_id, email FROM customers ORDER BY customer_id").fetchall()
        victim = before[0][0]
        connection.execute("UPDATE customers SET phone = email WHERE customer_id = ?", (victim,))  # wrong context
        before = connection.execute("SELECT * FROM customers ORDER BY customer_id").fetchall()
    result = run("keys", "rotate", "--json")
    assert result.exit_code != 0
    assert json.loads(result.stdout)["error"]["code"] == "key_rotation_failed"
    assert read_key_file(key_file) == old_key
    with sqlite3.connect(home / "bank.db") as connection:
        assert connection.execute("SELECT * FROM customers ORDER BY customer_id").fetchall() == before


def test_a_key_from_the_environment_is_not_rotated(home, monkeypatch):
    monkeypatch.setenv("ADVISOR_DATA_KEY", encode_key(os.urandom(32)))
    get_settings.cache_clear()
    result = run("keys", "rotate", "--json")
    assert result.exit_code != 0
    assert json.loads(result.stdout)["error"]["code"] == "key_from_environment"
