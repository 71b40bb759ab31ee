"""Opt-in LangSmith tracing with personal data removed before anything leaves the machine.

Tracing is on only when ``settings.tracing_enabled`` (a LangSmith API key is set).
Every run's inputs, outputs and metadata pass through :class:`TraceRedactor` (the
client's ``hide_inputs``/``hide_outputs``/``hide_metadata`` hooks), which redacts
cards, e-mails, phones, IBANs, account numbers and postcodes by pattern, and the
names and contacts of every customer the payload mentions (found by their
``customer_id``) or that recent runs mentioned, since a child run (an LLM call, say)
may carry a name without the id.

Use it around graph calls::

    with traced(settings, store_identifiers(store)):
        runner.ask(question, customer_id)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pydantic_core import to_jsonable_python

from bank.privacy import redact_mapping

IdentifierLookup = Callable[[str], list[str]]
RECENT_CUSTOMERS = 64


def _customer_ids(value: Any, found: set[str]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "customer_id" and isinstance(item, str) and item:
                found.add(item)
            else:
                _customer_ids(item, found)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _customer_ids(item, found)


class TraceRedactor:
    """A ``hide_inputs``/``hide_outputs`` callable: a JSON-safe, redacted copy of a run payload."""

    def __init__(self, identifiers_of: IdentifierLookup | None = None, remember: int = RECENT_CUSTOMERS):
        self.identifiers_of = identifiers_of
        self.remember = remember
        self._recent: OrderedDict[str, list[str]] = OrderedDict()
        self._lock = threading.Lock()

    def known_identifiers(self, payload: Any) -> list[str]:
        """Identifiers of the customers in ``payload`` plus those of recently traced customers."""
        if self.identifiers_of is None:
            return []
        ids: set[str] = set()
        _customer_ids(payload, ids)
        with self._lock:
            for customer_id in sorted(ids):
                if customer_id not in self._recent:
                    try:
                        self._recent[customer_id] = list(self.identifiers_of(customer_id))
                    except Exception:  # an unknown customer has no identifiers to hide
                        self._recent[customer_id] = []
                self._recent.move_to_end(customer_id)
            while len(self._recent) > self.remember:
                self._recent.popitem(last=False)
            return [identifier for values in self._recent.values() for identifier in values]

    def __call__(self, payload: dict) -> dict:
        plain = to_jsonable_python(payload, fallback=str)
        redacted = redact_mapping(plain, self.known_identifiers(plain))
        return redacted if isinstance(redacted, dict) else {"value": redacted}


def store_identifiers(store) -> IdentifierLookup:
    """Look a customer's identifiers up in a :class:`bank.store.BankStore`."""

    def lookup(customer_id: str) -> list[str]:
        customer = store.customer(customer_id)
        return customer.identifiers if customer else []

    return lookup


def tracing_client(settings, redactor: TraceRedactor):
    """A LangSmith client that redacts every payload it sends."""
    from langsmith import Client

    return Client(api_key=settings.langsmith_api_key.get_secret_value(), hide_inputs=redactor,
                  hide_outputs=redactor, hide_metadata=redactor)


@contextmanager
def traced(settings, identifiers_of: IdentifierLookup | None = None) -> Iterator[Any]:
    """Trace the LangGraph/LangChain and ``@traceable`` runs inside the block to LangSmith,
    redacted; yields the client, or ``None`` (and traces nothing) when tracing is off."""
    if not settings.tracing_enabled:
        yield None
        return
    from langchain_core.tracers.context import tracing_v2_enabled
    from langsmith import tracing_context

    client = tracing_client(settings, TraceRedactor(identifiers_of))
    try:
        with tracing_context(enabled=True, client=client, project_name=settings.langsmith_project), \
                tracing_v2_enabled(project_name=settings.langsmith_project, client=client):
            yield client
    finally:
        client.flush()
