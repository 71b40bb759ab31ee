"""The embedded data store: one SQLite file with the contract's tables.

Direct identifiers of customers are encrypted at rest (AES-GCM through
:class:`bank.privacy.FieldCipher`); a keyed blind index of name tokens lets advisors
search by name without storing names in clear. Customer texts are stored already
redacted. Reads are per customer through indexes; book-wide jobs read whole frames.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel

from bank.contract import IDENTIFIER_COLUMNS, TABLES, Kind, Table
from bank.privacy import FieldCipher

SQL_TYPES = {Kind.TEXT: "TEXT", Kind.INT: "INTEGER", Kind.FLOAT: "REAL", Kind.DATE: "TEXT",
             Kind.TIMESTAMP: "TEXT", Kind.BOOL: "INTEGER"}
INDEXES = (
    "CREATE INDEX IF NOT EXISTS ix_accounts_customer ON accounts(customer_id)",
    "CREATE INDEX IF NOT EXISTS ix_transactions_customer ON transactions(customer_id, timestamp)",
    "CREATE INDEX IF NOT EXISTS ix_payments_customer ON payments(customer_id, due_date)",
    "CREATE INDEX IF NOT EXISTS ix_interactions_customer ON interactions(customer_id, timestamp)",
    "CREATE INDEX IF NOT EXISTS ix_social_posts_customer ON social_posts(customer_id, timestamp)",
    "CREATE INDEX IF NOT EXISTS ix_customers_advisor ON customers(advisor_id)",
    "CREATE INDEX IF NOT EXISTS ix_name_tokens ON customer_name_tokens(token)",
)
TEXT_TABLES = {"interactions": "interaction_id", "social_posts": "post_id"}


class Customer(BaseModel):
    """One customer with identifiers decrypted; protected attributes kept apart."""

    customer_id: str
    full_name: str
    email: str | None = None
    phone: str | None = None
    birth_date: date | None = None
    postcode: str | None = None
    gender: str | None = None
    marital_status: str | None = None
    region: str | None = None
    annual_income: float
    employment_status: str | None = None
    tenure_months: int
    consent_marketing: bool
    consent_social: bool
    advisor_id: str | None = None
    extra: dict[str, str] = {}

    def age_on(self, day: date) -> int | None:
        if self.birth_date is None:
            return None
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    @property
    def identifiers(self) -> list[str]:
        """Values that must never leave the data layer in clear."""
        values = [self.full_name, self.email, self.phone, self.postcode]
        if self.birth_date:
            values.append(self.birth_date.isoformat())
        return [v for v in values if v]


def _name_tokens(full_name: str) -> set[str]:
    return {t for t in full_name.lower().replace("-", " ").split() if len(t) >= 2}


class BankStore:
    def __init__(self, path: Path, cipher: FieldCipher):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.cipher = cipher
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=OFF")
        self._create_schema()

    # --- schema ----------------------------------------------------------------------
    def _create_schema(self) -> None:
        with self._conn:
            for table in TABLES.values():
                cols = ", ".join(f'"{c.name}" {SQL_TYPES[c.kind]}' for c in table.columns)
                key = ", ".join(table.key)
                self._conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {table.name} ({cols}, extra TEXT, PRIMARY KEY ({key}))"
                )
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS customer_name_tokens (token TEXT, customer_id TEXT, "
                "PRIMARY KEY (token, customer_id))"
            )
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS embedded_texts (doc_id TEXT PRIMARY KEY, collection TEXT, "
                "customer_id TEXT, content_hash TEXT)"
            )
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS ingest_runs (run_id INTEGER PRIMARY KEY AUTOINCREMENT, "
                "started_at TEXT, finished_at TEXT, source TEXT, report TEXT)"
            )
            for statement in INDEXES:
                self._conn.execute(statement)

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._conn:
            yield self._conn

    # --- writes ----------------------------------------------------------------------
    def upsert(self, table: Table, frame: pd.DataFrame, extra_columns: Iterable[str] = ()) -> int:
        """Insert or replace rows by primary key in one transaction; returns rows written."""
        if frame.empty:
            return 0
        frame = frame.copy()
        extra_columns = [c for c in extra_columns if c in frame.columns]
        if table.name == "customers":
            frame = self._encrypt_customers(frame)
        for column in table.columns:
            if column.kind is Kind.BOOL:
                frame[column.name] = frame[column.name].map({True: 1, False: 0})
            elif column.kind is Kind.INT:
                frame[column.name] = frame[column.name].astype("Int64")
        names = table.column_names
        values = frame[names].astype(object).where(frame[names].notna(), None)
        if extra_columns:
            extras = frame[extra_columns].astype(str)
            extra_json = [json.dumps(row, ensure_ascii=False) for row in extras.to_dict("records")]
        else:
            extra_json = [None] * len(frame)
        rows = [(*row, extra) for row, extra in zip(values.itertuples(index=False, name=None), extra_json)]
        placeholders = ", ".join("?" for _ in range(len(names) + 1))
        quoted = ", ".join(f'"{n}"' for n in names)
        with self._conn:
            self._conn.executemany(
                f"INSERT OR REPLACE INTO {table.name} ({quoted}, extra) VALUES ({placeholders})", rows
            )
            if table.name == "customers":
                self._index_names(frame)
        return len(rows)

    def _encrypt_customers(self, frame: pd.DataFrame) -> pd.DataFrame:
        frame["_name_tokens"] = frame["full_name"].fillna("").map(_name_tokens)
        for column in IDENTIFIER_COLUMNS:
            context = f"customers.{column}"
            frame[column] = [
                self.cipher.encrypt(v, context) if isinstance(v, str) and v else None for v in frame[column]
            ]
        return frame

    def _index_names(self, frame: pd.DataFrame) -> None:
        ids = list(frame["customer_id"])
        self._conn.executemany("DELETE FROM customer_name_tokens WHERE customer_id = ?", [(i,) for i in ids])
        self._conn.executemany(
            "INSERT OR IGNORE INTO customer_name_tokens (token, customer_id) VALUES (?, ?)",
            [
                (self.cipher.blind_index(token, "customers.name_token"), cid)
                for cid, tokens in zip(ids, frame["_name_tokens"])
                for token in tokens
            ],
        )

    def record_ingest_run(self, started_at: str, finished_at: str, source: str, report: dict) -> None:
        with self._conn:
            self._conn.execute(
                "INSERT INTO ingest_runs (started_at, finished_at, source, report) VALUES (?, ?, ?, ?)",
                (started_at, finished_at, source, json.dumps(report)),
            )

    # --- embedding bookkeeping ---------------------------------------------------------
    def embedded_hashes(self, collection: str) -> dict[str, str]:
        rows = self._conn.execute(
            "SELECT doc_id, content_hash FROM embedded_texts WHERE collection = ?", (collection,)
        ).fetchall()
        return dict(rows)

    def mark_embedded(self, collection: str, items: Iterable[tuple[str, str | None, str]]) -> None:
        with self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO embedded_texts (doc_id, collection, customer_id, content_hash) "
                "VALUES (?, ?, ?, ?)",
                [(doc_id, collection, customer_id, digest) for doc_id, customer_id, digest in items],
            )

    # --- reads -------------------------------------------------------------------------
    def count(self, table: str) -> int:
        return int(self._conn.execute(f"SELECT COUNT(*) FROM {TABLES[table].name}").fetchone()[0])

    def customer_exists(self, customer_id: str) -> bool:
        row = self._conn.execute("SELECT 1 FROM customers WHERE customer_id = ?", (customer_id,)).fetchone()
        return row is not None

    def customer(self, customer_id: str) -> Customer | None:
        # One row, read with a plain cursor: every node of a turn asks for the customer.
        cursor = self._conn.execute("SELECT * FROM customers WHERE customer_id = ?", (customer_id,))
        row = cursor.fetchone()
        if row is None:
            return None
        return self._to_customer(dict(zip((d[0] for d in cursor.description), row)))

    def _to_customer(self, row: dict) -> Customer:
        values = {name: value for name, value in row.items() if name != "extra"}
        for column in IDENTIFIER_COLUMNS:
            values[column] = self.cipher.decrypt(values[column], f"customers.{column}") if values[column] else None
        values["extra"] = json.loads(row["extra"]) if isinstance(row.get("extra"), str) else {}
        return Customer.model_validate({k: (None if _is_missing(v) else v) for k, v in values.items()})

    def customers_of_advisor(self, advisor_id: str) -> list[str]:
        rows = self._conn.execute(
            "SELECT customer_id FROM customers WHERE advisor_id = ? ORDER BY customer_id", (advisor_id,)
        ).fetchall()
        return [r[0] for r in rows]

    def customer_ids(self) -> list[str]:
        return [r[0] for r in self._conn.execute("SELECT customer_id FROM customers ORDER BY customer_id")]

    def search_customers(self, query: str, limit: int = 10) -> list[Customer]:
        """Customers whose id equals the query or whose name holds every token of it."""
        query = query.strip()
        if not query:
            return []
        if self.customer_exists(query.upper()):
            found = self.customer(query.upper())
            return [found] if found else []
        tokens = sorted(_name_tokens(query))
        if not tokens:
            return []
        hashed = [self.cipher.blind_index(t, "customers.name_token") for t in tokens]
        marks = ", ".join("?" for _ in hashed)
        rows = self._conn.execute(
            f"SELECT customer_id FROM customer_name_tokens WHERE token IN ({marks}) "
            f"GROUP BY customer_id HAVING COUNT(DISTINCT token) = ? ORDER BY customer_id LIMIT ?",
            (*hashed, len(hashed), limit),
        ).fetchall()
        return [c for c in (self.customer(r[0]) for r in rows) if c is not None]

    def customers_named_in(self, text: str, limit: int = 20) -> list[Customer]:
        """Customers of whose name at least two tokens occur in free text (a question naming them),
        so that text can be redacted with their identifiers even when it is about no one."""
        words = set(re.findall(r"[^\W\d_]+(?:['’][^\W\d_]+)*", text.lower().replace("-", " ")))
        words |= {w[:-2] for w in words if w.endswith(("'s", "’s"))}
        words = {w for w in words if len(w) >= 2}
        if len(words) < 2:
            return []
        hashed = [self.cipher.blind_index(t, "customers.name_token") for t in sorted(words)]
        marks = ", ".join("?" for _ in hashed)
        rows = self._conn.execute(
            f"SELECT customer_id FROM customer_name_tokens WHERE token IN ({marks}) "
            f"GROUP BY customer_id HAVING COUNT(DISTINCT token) >= 2 ORDER BY customer_id LIMIT ?",
            (*hashed, limit),
        ).fetchall()
        return [c for c in (self.customer(r[0]) for r in rows) if c is not None]

    def accounts(self, customer_id: str) -> pd.DataFrame:
        return self._select("accounts", "customer_id = ?", (customer_id,), order="opened_date")

    def transactions(self, customer_id: str) -> pd.DataFrame:
        return self._select("transactions", "customer_id = ?", (customer_id,), order="timestamp")

    def payments(self, customer_id: str) -> pd.DataFrame:
        return self._select("payments", "customer_id = ?", (customer_id,), order="due_date")

    def interactions(self, customer_id: str) -> pd.DataFrame:
        return self._select("interactions", "customer_id = ?", (customer_id,), order="timestamp")

    def social_posts(self, customer_id: str, consented_only: bool = True) -> pd.DataFrame:
        if consented_only:
            customer = self._conn.execute(
                "SELECT consent_social FROM customers WHERE customer_id = ?", (customer_id,)
            ).fetchone()
            if not customer or not customer[0]:
                return pd.DataFrame(columns=[*TABLES["social_posts"].column_names, "extra"])
        return self._select("social_posts", "customer_id = ?", (customer_id,), order="timestamp")

    def table(self, name: str, columns: list[str] | None = None, where: str = "", params: tuple = ()) -> pd.DataFrame:
        """A whole table (or the given columns) for book-wide jobs and model training."""
        selected = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        sql = f"SELECT {selected} FROM {TABLES[name].name}" + (f" WHERE {where}" if where else "")
        frame = pd.read_sql_query(sql, self._conn, params=params)
        return _restore_types(TABLES[name], frame)

    def latest_date(self) -> date | None:
        """The last day with data: the bank's 'today' for relative windows."""
        row = self._conn.execute("SELECT MAX(timestamp) FROM transactions").fetchone()
        return date.fromisoformat(row[0][:10]) if row and row[0] else None

    def _select(self, name: str, where: str, params: tuple, order: str | None = None) -> pd.DataFrame:
        sql = f"SELECT * FROM {name} WHERE {where}" + (f" ORDER BY {order}" if order else "")
        return _restore_types(TABLES[name], pd.read_sql_query(sql, self._conn, params=params))

    # --- erasure (GDPR) ---------------------------------------------------------------
    def delete_customer(self, customer_id: str) -> dict[str, int]:
        removed = {}
        with self._conn:
            for name in ("transactions", "payments", "interactions", "social_posts", "accounts", "customers",
                         "customer_name_tokens", "embedded_texts"):
                cursor = self._conn.execute(f"DELETE FROM {name} WHERE customer_id = ?", (customer_id,))
                removed[name] = cursor.rowcount
        self._conn.execute("VACUUM")
        return removed


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _restore_types(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    for column in table.columns:
        if column.name not in frame.columns:
            continue
        if column.kind is Kind.BOOL:
            frame[column.name] = frame[column.name].astype("boolean")
        elif column.kind is Kind.FLOAT:
            frame[column.name] = pd.to_numeric(frame[column.name], errors="coerce").astype("float64")
    return frame
