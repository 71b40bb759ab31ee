"""LangSmith tracing: what the hide hooks let out of the machine."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from advisor.settings import Settings
from graph.tracing import TraceRedactor, traced, tracing_client

NAME, EMAIL, PHONE = "Mary O'Brien", "mary.obrien@example.com", "+353 87 123 4567"
CARD, IBAN = "4111 1111 1111 1111", "IE29AIBK93115212345678"
IDENTIFIERS = {"C-00042": [NAME, EMAIL, PHONE, "D02 X285"]}


class Profile(BaseModel):
    customer_id: str
    note: str
    since: date


def lookup(customer_id: str) -> list[str]:
    return IDENTIFIERS.get(customer_id, [])


def payload() -> dict:
    return {
        "question": f"{NAME} ({EMAIL}, {PHONE}) asks about card {CARD} and IBAN {IBAN}, account 12345678",
        "customer_id": "C-00042",
        "profile": Profile(customer_id="C-00042", note="Mary called from D02 X285 about AC-0000042",
                           since=date(2020, 1, 1)),
        "messages": [{"role": "user", "content": f"write to {EMAIL}"}],
    }


def flatten(value) -> str:
    return repr(value)


def test_every_direct_identifier_kind_is_hidden():
    redacted = TraceRedactor(lookup)(payload())
    text = flatten(redacted)
    for secret in ("Mary", "O'Brien", EMAIL, "87 123 4567", "4111", "IE29", "12345678", "D02 X285", "AC-0000042"):
        assert secret not in text, secret
    for placeholder in ("[NAME]", "[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]", "[ACCOUNT]", "[POSTCODE]"):
        assert placeholder in text, placeholder
    assert redacted["customer_id"] == "C-00042"  # pseudonymous ids stay, so traces can be joined
    assert redacted["profile"]["since"] == "2020-01-01"  # models become JSON


def test_a_child_run_without_the_customer_id_is_still_redacted():
    redactor = TraceRedactor(lookup)
    redactor(payload())
    child = redactor({"messages": [{"role": "user", "content": "Draft a note for Mary O'Brien"}]})
    assert "Mary" not in flatten(child) and "[NAME]" in flatten(child)


def test_without_a_lookup_patterns_are_still_redacted():
    redacted = TraceRedactor()({"text": f"{EMAIL} {CARD}"})
    assert redacted == {"text": "[EMAIL] [CARD]"}


def test_unknown_customer_and_failing_lookup_do_not_break_tracing():
    def broken(customer_id: str) -> list[str]:
        raise LookupError(customer_id)

    assert TraceRedactor(broken)({"customer_id": "C-99999", "q": "hi"}) == {"customer_id": "C-99999", "q": "hi"}


def test_the_tracing_client_applies_the_redactor_to_inputs_outputs_and_metadata(monkeypatch):
    monkeypatch.setenv("LANGSMITH_ENDPOINT", "http://127.0.0.1:9")  # nothing leaves this machine
    settings = Settings(LANGSMITH_API_KEY="lsv2-test-key")
    client = tracing_client(settings, TraceRedactor(lookup))
    assert "Mary" not in flatten(client._hide_run_inputs(payload()))
    assert client._hide_run_outputs({"answer": f"Call {PHONE}"}) == {"answer": "Call [PHONE]"}
    assert client._hide_metadata({"note": EMAIL}) == {"note": "[EMAIL]"}


def test_tracing_is_off_without_a_key():
    with traced(Settings(), lookup) as client:
        assert client is None
