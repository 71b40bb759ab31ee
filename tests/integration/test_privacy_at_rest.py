"""Encryption and redaction at rest: after a bank is ingested and used (questions that name the customer,
a card number and an IBAN in what the customer wrote, an advisor's comment on an offer), no customer's
name, e-mail, phone, postcode, card or account number is in clear in any file under ADVISOR_HOME
outside the source tables the bank put there."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from advisor.settings import Settings
from tests.integration.test_gdpr import files_holding, ingested_home

CARD = "4111 1111 1111 1111"
IBAN = "IE29 AIBK 9311 5212 3456 78"


def clear_identifiers(settings: Settings, customers: pd.DataFrame) -> dict[str, list[str]]:
    """Files under the home folder, less the bank's source tables, that hold an identifier in clear."""
    needles = [CARD, CARD.replace(" ", ""), IBAN, IBAN.replace(" ", "")]
    for column in ("full_name", "email", "phone", "postcode"):
        needles += [value for value in customers[column] if len(value) >= 5]
    return {path: hits[:3] for path, hits in files_holding(settings.home, needles).items()
            if not (settings.home / path).is_relative_to(settings.data_dir)}


@pytest.fixture(scope="module")
def used_home(bank_dir, tmp_path_factory):
    """The identifiers left in clear after ingesting and answering about one customer, and after a
    general question that names them."""
    from advisor import services
    from bank.ingest import Ingestor
    from graph.feedback import record_offer_feedback
    from graph.runner import open_runner

    home = ingested_home(bank_dir, tmp_path_factory, "at-rest")
    settings = Settings(home=home, data_key=None)
    customers = pd.read_csv(settings.data_dir / "customers.csv", dtype=str, keep_default_na=False)
    target = customers[customers["email"].ne("") & customers["phone"].ne("")
                       & customers["consent_marketing"].eq("true")].iloc[0]
    interactions = settings.data_dir / "interactions.csv"
    last = pd.to_datetime(pd.read_csv(interactions, dtype=str)["timestamp"]).max()
    with interactions.open("a", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerow([
            "I-ATREST1", target["customer_id"], (last - pd.Timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S"),
            "email", f"{target['full_name']} here: card {CARD} was charged twice, refund to {IBAN}, "
                     f"call {target['phone']} or write to {target['email']}"])
    store = services.open_store(settings)
    Ingestor(store, services.open_chroma(settings), services.text_encoder(settings),
             services.knowledge_base(settings)).run(settings.data_dir)
    store.close()
    with open_runner(settings) as runner:
        result = runner.ask(f"{target['full_name']} ({target['email']}, {target['phone']}) says card {CARD} was "
                            f"charged twice and wants a refund to {IBAN}: what can I offer?",
                            target["customer_id"], "at-rest-1", advisor_id=target["advisor_id"])
        assert "error" not in result, result
        record_offer_feedback(settings, result["trace_id"], 0, f"call back on {target['phone']}",
                              target["advisor_id"], runner.audit)
        about_the_customer = clear_identifiers(settings, customers)
        record_offer_feedback(settings, result["trace_id"], 0,
                              f"{target['full_name']} wants a call on {target['phone']}",
                              target["advisor_id"], runner.audit)
        comment_naming_them = clear_identifiers(settings, customers)
        runner.ask(f"Anything on {target['full_name']} of {target['postcode'] or 'Dublin'}?", None, "at-rest-2",
                   advisor_id=target["advisor_id"])
    return {"settings": settings, "about_the_customer": about_the_customer,
            "comment_naming_them": comment_naming_them, "general_question": clear_identifiers(settings, customers)}


def test_no_identifier_is_in_clear_after_ingesting_answering_and_feedback(used_home):
    assert used_home["about_the_customer"] == {}, "identifiers in clear"


def test_an_advisor_comment_naming_the_customer_leaves_no_name_in_clear(used_home):
    assert used_home["comment_naming_them"] == {}, "identifiers in clear"


def test_a_general_question_naming_a_customer_leaves_no_name_in_clear(used_home):
    assert used_home["general_question"] == {}, "identifiers in clear"


def test_the_places_checked_hold_the_customer_by_pseudonymous_id(used_home):
    home = used_home["settings"].home
    held = files_holding(home, ["at-rest-1", "I-ATREST1"])
    for expected in ("bank.db", "checkpoints.sqlite", "audit.sqlite"):
        assert any(path.startswith(expected) for path in held), f"{expected} was not written: {held}"
    assert any(path.startswith("chroma") for path in files_holding(home, ["interaction:I-ATREST1"]))
