"""Reference facts recomputed from the bank's raw tables with plain pandas.

This is deliberately not the tools' code: a few figures an answer about a customer
should state, computed the simplest way from the contract's definitions (DESIGN.md;
the credit definitions are those the credit tool documents), so a bug in a tool or in
ingestion shows up as a disagreement. The raw CSV files are read when the bank's data
folder holds them (which also checks ingestion), else the data store's tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel

CREDIT_TYPES = ("credit_card", "personal_loan", "auto_loan", "mortgage")
CARD_TYPES = ("credit_card",)
CLOSED_STATUSES = ("closed", "paid_off", "cancelled", "canceled")
Unit = Literal["money", "fraction", "count"]


class ReferenceFact(BaseModel):
    name: str
    agent: str
    unit: Unit
    values: list[float]
    keywords: list[str]

    @property
    def tolerance(self) -> float:
        """Money to the cent, fractions to the shown 0.1 percentage point, counts exactly."""
        return {"money": 0.011, "fraction": 0.0006, "count": 0.0}[self.unit]


@dataclass(frozen=True)
class CustomerTables:
    customer: pd.Series
    accounts: pd.DataFrame
    payments: pd.DataFrame


class BankTables:
    """The customers, accounts and payments tables of one bank, read once."""

    def __init__(self, customers: pd.DataFrame, accounts: pd.DataFrame, payments: pd.DataFrame):
        self.customers = customers.set_index("customer_id", drop=False)
        self.accounts = accounts
        self.payments = payments

    @classmethod
    def from_csv(cls, folder: Path) -> BankTables:
        return cls(
            pd.read_csv(folder / "customers.csv", usecols=["customer_id", "annual_income"],
                        dtype={"customer_id": str}),
            pd.read_csv(folder / "accounts.csv", usecols=["account_id", "customer_id", "type", "credit_limit",
                                                           "balance", "status"]),
            pd.read_csv(folder / "payments.csv", usecols=["account_id", "customer_id", "due_date", "days_late"],
                        parse_dates=["due_date"]),
        )

    @classmethod
    def from_store(cls, store) -> BankTables:
        payments = store.table("payments", ["account_id", "customer_id", "due_date", "days_late"])
        payments["due_date"] = pd.to_datetime(payments["due_date"])
        return cls(store.table("customers", ["customer_id", "annual_income"]),
                   store.table("accounts", ["account_id", "customer_id", "type", "credit_limit", "balance",
                                            "status"]),
                   payments)

    @classmethod
    def open(cls, data_dir: Path | None, store) -> BankTables:
        needed = ("customers.csv", "accounts.csv", "payments.csv")
        if data_dir is not None and all((data_dir / name).exists() for name in needed):
            return cls.from_csv(data_dir)
        return cls.from_store(store)

    def of(self, customer_id: str) -> CustomerTables:
        return CustomerTables(customer=self.customers.loc[customer_id],
                              accounts=self.accounts[self.accounts["customer_id"] == customer_id],
                              payments=self.payments[self.payments["customer_id"] == customer_id])


def _open_credit(accounts: pd.DataFrame, types: tuple[str, ...]) -> pd.DataFrame:
    status = accounts["status"].fillna("open").str.lower()
    return accounts[accounts["type"].str.lower().isin(types) & ~status.isin(CLOSED_STATUSES)]


def _last_year(payments: pd.DataFrame, as_of: date) -> pd.DataFrame:
    end = pd.Timestamp(as_of)
    return payments[(payments["due_date"] > end - pd.DateOffset(months=12)) & (payments["due_date"] <= end)]


def reference_facts(tables: CustomerTables, as_of: date) -> dict[str, ReferenceFact | None]:
    """The facts of one customer; ``None`` where a fact does not apply (no card, say)."""
    credit = _open_credit(tables.accounts, CREDIT_TYPES)
    cards = _open_credit(tables.accounts, CARD_TYPES)
    card_balance = cards["balance"].clip(lower=0).fillna(0.0)
    card_limit = cards["credit_limit"].fillna(0.0)
    year = _last_year(tables.payments, as_of)
    facts: dict[str, ReferenceFact | None] = {
        "total_debt": ReferenceFact(name="total_debt", agent="credit", unit="money",
                                    values=[round(float(credit["balance"].clip(lower=0).sum()), 2)],
                                    keywords=["debt", "owe"]),
        "late_payments_12m": ReferenceFact(name="late_payments_12m", agent="credit", unit="count",
                                           values=[float((year["days_late"] > 0).sum())], keywords=["late"]),
        "late_30_plus_12m": ReferenceFact(name="late_30_plus_12m", agent="credit", unit="count",
                                          values=[float((year["days_late"] >= 30).sum())],
                                          keywords=["month or more", "30"]),
        "monthly_income": ReferenceFact(name="monthly_income", agent="credit", unit="money",
                                        values=[round(float(tables.customer["annual_income"]) / 12.0, 2)],
                                        keywords=["income"]),
        "card_balances": None, "card_limits": None, "utilisation_overall": None,
    }
    if not cards.empty and card_limit.sum() > 0:
        facts["card_balances"] = ReferenceFact(name="card_balances", agent="credit", unit="money",
                                               values=[round(float(v), 2) for v in card_balance], keywords=["of"])
        facts["card_limits"] = ReferenceFact(name="card_limits", agent="credit", unit="money",
                                             values=[round(float(v), 2) for v in card_limit], keywords=["of"])
        facts["utilisation_overall"] = ReferenceFact(
            name="utilisation_overall", agent="credit", unit="fraction",
            values=[round(float(card_balance.sum() / card_limit.sum()), 4)], keywords=["utilisation"])
    return facts
