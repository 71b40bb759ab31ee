"""A view of the data store that changes one customer for one evaluation run.

Counterfactual fairness runs the whole graph for a customer whose protected
attributes (gender, marital status, region and postcode, age) are changed; the
adversarial suite adds an instruction-laden text to a customer's interactions. The
store on disk is never written: :class:`VariantStore` wraps it and applies the change
only inside :meth:`VariantStore.varied`. Evaluation runs are sequential, so one
active variant at a time is enough.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pandas as pd

PROTECTED_FIELDS = frozenset({"gender", "marital_status", "region", "postcode", "age"})


def birth_date_for_age(age: int, as_of: date, born: date | None) -> date:
    """A birth date that makes the customer ``age`` on ``as_of`` (keeping the day of the year)."""
    born = born or date(as_of.year - age, 1, 1)
    candidate = born.replace(year=as_of.year - age, day=min(born.day, 28))
    if (as_of.month, as_of.day) < (candidate.month, candidate.day):
        candidate = candidate.replace(year=candidate.year - 1)
    return candidate


def customer_changes(variant: dict[str, Any], as_of: date, born: date | None) -> dict[str, Any]:
    """The Customer field updates of a dataset variant (``age`` becomes a birth date)."""
    unknown = set(variant) - PROTECTED_FIELDS
    if unknown:
        raise ValueError(f"only protected attributes may vary, not {', '.join(sorted(unknown))}")
    changes = {k: v for k, v in variant.items() if k != "age"}
    if "age" in variant:
        changes["birth_date"] = birth_date_for_age(int(variant["age"]), as_of, born)
    return changes


class VariantStore:
    """Pass-through to a BankStore, except for the customer being varied."""

    def __init__(self, store):
        self._store = store
        self._customer_id: str | None = None
        self._changes: dict[str, Any] = {}
        self._extra_interactions: pd.DataFrame | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @contextmanager
    def varied(self, customer_id: str, changes: dict[str, Any] | None = None,
               extra_interactions: pd.DataFrame | None = None) -> Iterator[None]:
        self._customer_id, self._changes, self._extra_interactions = customer_id, dict(changes or {}), \
            extra_interactions
        try:
            yield
        finally:
            self._customer_id, self._changes, self._extra_interactions = None, {}, None

    def customer(self, customer_id: str):
        customer = self._store.customer(customer_id)
        if customer is None or customer_id != self._customer_id or not self._changes:
            return customer
        return customer.model_copy(update=self._changes)

    def interactions(self, customer_id: str) -> pd.DataFrame:
        frame = self._store.interactions(customer_id)
        if customer_id != self._customer_id or self._extra_interactions is None:
            return frame
        return pd.concat([frame, self._extra_interactions.reindex(columns=frame.columns)], ignore_index=True)


def injected_interaction(customer_id: str, text: str, timestamp: str, interaction_id: str) -> pd.DataFrame:
    """One customer e-mail carrying ``text`` (the adversarial suite's injected instruction)."""
    return pd.DataFrame([{"interaction_id": interaction_id, "customer_id": customer_id, "timestamp": timestamp,
                          "channel": "email", "text": text, "extra": None}])
