"""The data store: encrypted identifiers, name search, per-customer reads."""

import pandas as pd


def test_customer_round_trip_decrypts_identifiers(bank_store, bank_dir):
    source = pd.read_csv(bank_dir / "customers.csv", dtype=str).iloc[0]
    customer = bank_store.customer(source["customer_id"])
    assert customer.full_name == source["full_name"]
    assert customer.email == source["email"]
    assert customer.birth_date.isoformat() == source["birth_date"]


def test_identifiers_are_ciphertext_in_the_database(bank_store, bank_dir):
    source = pd.read_csv(bank_dir / "customers.csv", dtype=str).iloc[0]
    raw = bank_store._conn.execute("SELECT full_name, email, phone, birth_date, postcode FROM customers "
                                   "WHERE customer_id = ?", (source["customer_id"],)).fetchone()
    assert source["full_name"] not in raw and source["email"] not in raw
    assert all(value is None or value.startswith("v1:") for value in raw)


def test_search_by_name_and_by_id(bank_store, bank_dir):
    source = pd.read_csv(bank_dir / "customers.csv", dtype=str).iloc[3]
    last_name = source["full_name"].split()[-1]
    found = bank_store.search_customers(last_name.upper())
    assert source["customer_id"] in [c.customer_id for c in found]
    assert [c.customer_id for c in bank_store.search_customers(source["customer_id"].lower())] == [
        source["customer_id"]]
    assert bank_store.search_customers("zzqx-nobody") == []


def test_per_customer_reads_return_only_that_customer(bank_store):
    customer_id = bank_store.customer_ids()[5]
    for frame in (bank_store.accounts(customer_id), bank_store.transactions(customer_id),
                  bank_store.payments(customer_id), bank_store.interactions(customer_id)):
        assert set(frame["customer_id"]) <= {customer_id}
    assert len(bank_store.transactions(customer_id)) > 0


def test_advisor_books_partition_the_customers(bank_store):
    advisors = set(bank_store.table("customers", ["advisor_id"])["advisor_id"])
    assert len(advisors) >= 2
    books = [set(bank_store.customers_of_advisor(a)) for a in advisors]
    assert sum(len(b) for b in books) == len(bank_store.customer_ids())
