"""The chat's slash commands (``/customer``, ``/review``, ``/trace``, ``/help``) and the help texts."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel

CommandName = Literal["customer", "review", "trace", "help", "question"]
COMMANDS = ("customer", "review", "trace", "help")
CUSTOMER_ID_PATTERN = re.compile(r"^C-\d{3,10}$", re.IGNORECASE)
MAX_ARGUMENT_CHARS = 200


class Command(BaseModel):
    name: CommandName
    argument: str = ""


class CommandError(ValueError):
    pass


def parse_command(text: str) -> Command:
    """A slash command, or the text as a question for the advisory graph."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return Command(name="question", argument=text)
    head, _, rest = stripped[1:].partition(" ")
    name = head.lower()
    if name not in COMMANDS:
        raise CommandError(f"unknown command /{head}; try /help")
    rest = rest.strip()
    if len(rest) > MAX_ARGUMENT_CHARS:
        raise CommandError(f"the argument of /{name} is too long (at most {MAX_ARGUMENT_CHARS} characters)")
    if name in ("customer", "trace") and not rest:
        raise CommandError("/customer needs an id or a name, e.g. /customer C-00042 or /customer smith"
                           if name == "customer" else "/trace needs a trace id, e.g. /trace 3f2a9c...")
    return Command(name=name, argument=rest)


def looks_like_customer_id(text: str) -> bool:
    return bool(CUSTOMER_ID_PATTERN.match(text.strip()))


ADVISOR_HELP = """**How to use the advisor**
- `/customer C-00042` opens a customer of your book; `/customer smith` searches your book by name.
- Then ask in plain words, e.g. *What can I offer?*, *Why is the card balance rising?*,
  *Which subscriptions could she cancel?*, *Is he at risk of missing payments?*
- Each specialist shows as a step while it works; the answer lists offers with their reasons and
  evidence, the disclosures you must give, and the sources (click a name to read it).
- Rate every answer with 👍 / 👎 (and a comment): it is recorded with the answer's trace and
  offers that advisors keep rejecting for similar customers rank lower.
- Questions without a customer (e.g. *What are the fees of the travel card?*) are answered from
  the product and policy documents."""

COMPLIANCE_HELP = """**How to review**
- `/review` lists the latest answers; filter with `advisor=A-001`, `customer=C-00042`,
  `verdict=approved|revised|blocked`, `since=2026-01-31`, `limit=50`
  (e.g. `/review verdict=blocked advisor=A-001`).
- `/trace TRACE_ID` (or the *Open* buttons) shows the full trace of one answer: route, findings,
  documents, model and prompt hashes, the critic's verdict, reason codes, feedback.
- *Sign off* or *Flag* it with a comment: the decision is appended to the audit trail with your
  name and the time."""
