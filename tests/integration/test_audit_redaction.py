"""No direct identifier reaches the audit trail: a real turn through the runner, then the raw file."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

CARD, IBAN, ACCOUNT_NUMBER, ACCOUNT_ID = "4111 1111 1111 1111", "IE29AIBK93115212345678", "12345678", "AC-1234567"


@pytest.fixture(scope="module")
def audited_turn(bank_store, test_settings):
    """One answered question that names the customer and every kind of identifier."""
    from graph.runner import open_runner

    customer_id = next(cid for cid in bank_store.customer_ids()
                       if (c := bank_store.customer(cid)).email and c.phone and c.postcode)
    customer = bank_store.customer(customer_id)
    question = (f"{customer.full_name} ({customer.email}, {customer.phone}, postcode {customer.postcode}) "
                f"paid with "
                f"card {CARD} from IBAN {IBAN}, account number {ACCOUNT_NUMBER} and account {ACCOUNT_ID}. "
                f"What can we offer?")
    with open_runner(test_settings) as runner:
        result = runner.ask(question, customer_id, advisor_id=customer.advisor_id)
    assert "error" not in result, result
    return customer, result, test_settings


def _secrets(customer) -> list[str]:
    names = [part for part in re.split(r"[\s'-]+", customer.full_name) if len(part) >= 3]
    phone_digits = re.sub(r"\D", "", customer.phone)[-7:]
    return [*names, customer.email, phone_digits, customer.postcode, CARD, CARD.replace(" ", ""), IBAN,
            ACCOUNT_NUMBER, ACCOUNT_ID]


def test_the_raw_audit_file_holds_no_identifier(audited_turn):
    customer, result, settings = audited_turn
    raw = b"".join(path.read_bytes() for path in settings.home.glob("audit.sqlite*")).decode("utf-8", "replace")
    assert result["trace_id"] in raw
    for secret in _secrets(customer):
        assert secret not in raw, secret


def test_the_recorded_question_keeps_typed_placeholders(audited_turn, monkeypatch):
    import advisor.cli.audit  # noqa: F401
    from advisor.cli.app import app
    from advisor.settings import get_settings

    customer, result, settings = audited_turn
    monkeypatch.setenv("ADVISOR_HOME", str(settings.home))
    get_settings.cache_clear()
    try:
        shown = CliRunner().invoke(app, ["audit", "show", result["trace_id"], "--json"])
        verified = CliRunner().invoke(app, ["audit", "verify", "--json"])
    finally:
        get_settings.cache_clear()
    assert shown.exit_code == 0, shown.output
    question = json.loads(shown.stdout)[0]["payload"]["question"]
    for placeholder in ("[NAME]", "[EMAIL]", "[PHONE]", "[POSTCODE]", "[CARD]", "[IBAN]", "[ACCOUNT]"):
        assert placeholder in question, (placeholder, question)
    assert json.loads(verified.stdout)["ok"]
