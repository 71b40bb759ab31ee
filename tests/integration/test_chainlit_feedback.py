"""Advisors' feedback on answers: stored per offer, durable, and moving the product ranking
for similar customers without ever changing what a customer is eligible for."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from advisor.settings import Settings
from graph.audit import AuditTrail
from graph.feedback import feedback_path, load_feedback_adjustments, record_offer_feedback, refresh_feedback
from tests.fixtures.findings import rich_findings
from tools.findings import CustomerProfile
from tools.products import match_products

REPO_ROOT = Path(__file__).resolve().parents[2]
AS_OF = date(2026, 6, 30)


@pytest.fixture()
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture(scope="module")
def knowledge():
    from bank.knowledge import load_knowledge_base

    return load_knowledge_base()


def _findings():
    """A customer with no complaint or hardship, so ordinary offers are made (segment
    'Frequent traveller', risk band C)."""
    findings = rich_findings()
    sentiment = findings.sentiment.model_copy(update={"vulnerability_signals": [], "open_complaints": 0,
                                                      "goals": ["saving_goal"]})
    return findings.spending, findings.credit, sentiment


def _profile(customer_id: str = "C-00042") -> CustomerProfile:
    return CustomerProfile(customer_id=customer_id, annual_income=50_526, employment_status="employed",
                           tenure_months=48, consent_marketing=True, consent_social=True, age=40)


def _answer(trail: AuditTrail, trace_id: str, customer_id: str, offers: list[str], segment: str | None,
            band: str | None) -> None:
    """An answer record as the runner writes it (only the fields feedback reads matter here)."""
    trail.append(trace_id, "answer", {
        "question": "What can I offer?", "findings": {"spending": {"segment": segment}, "credit": {"risk_band": band}},
        "recommendations": [{"product_code": code, "score": 0.9} for code in offers],
    }, advisor_id="A-001", customer_id=customer_id, verdict="approved")


def _ranking(knowledge, feedback=None) -> tuple[list[str], dict]:
    spending, credit, sentiment = _findings()
    finding = match_products(_profile(), spending, credit, sentiment, knowledge, AS_OF, feedback=feedback,
                             held_product_codes=set())
    return [r.product_code for r in finding.recommendations], finding.excluded


def test_rejected_offers_rank_lower_for_similar_customers_within_eligibility(settings, knowledge):
    before, excluded_before = _ranking(knowledge)
    assert len(before) >= 2, "the test needs a customer with two offers"
    top = before[0]
    trail = AuditTrail(settings.audit_url)
    try:
        for n in range(3):  # three other customers of the same segment and band were offered it and said no
            _answer(trail, f"t{n}", f"C-9000{n}", [top], "Frequent traveller", "C")
            result = record_offer_feedback(settings, f"t{n}", 0, "customer not interested", advisor_id="A-001",
                                           audit=trail)
            assert result.product_codes == [top] and not result.accepted
        adjustments = load_feedback_adjustments(settings)
        assert adjustments.factor(top, "Frequent traveller", "C") == pytest.approx(0.7)
        assert adjustments.factor(top, "Student", "A") == 1.0
        after, excluded_after = _ranking(knowledge, adjustments)
        assert after.index(top) > before.index(top)
        assert set(after) == set(before) and excluded_after == excluded_before
        # Acceptances from advisors of similar customers cancel the rejections.
        for n in range(3):
            _answer(trail, f"u{n}", f"C-9100{n}", [top], "Frequent traveller", "C")
            record_offer_feedback(settings, f"u{n}", 1, "", audit=trail)
        assert _ranking(knowledge, load_feedback_adjustments(settings))[0] == before
        # Each feedback is also an audit record of the answer's trace.
        kinds = [r.kind for r in trail.get("t0")]
        assert kinds == ["answer", "feedback"] and trail.get("t0")[1].payload["value"] == 0
        assert not trail.verify()
    finally:
        trail.close()


def test_feedback_again_replaces_the_verdict_and_comments_are_redacted(settings):
    trail = AuditTrail(settings.audit_url)
    try:
        _answer(trail, "t1", "C-00001", ["CC-TRAVEL"], "Frequent traveller", "B")
        record_offer_feedback(settings, "t1", 0, "call jane.doe@example.com back", audit=trail)
        record_offer_feedback(settings, "t1", 1, "changed my mind", audit=trail)
        outcomes = load_feedback_adjustments(settings).outcomes
        assert outcomes["band:B"]["CC-TRAVEL"].model_dump() == {"accepted": 1, "rejected": 0}
        comment = trail.get("t1")[1].payload["comment"]
        assert "jane.doe@example.com" not in comment
        with pytest.raises(KeyError):
            record_offer_feedback(settings, "no-such-trace", 0, "", audit=trail)
        _answer(trail, "t2", None, [], None, None)
        assert record_offer_feedback(settings, "t2", 0, "", audit=trail).product_codes == []
    finally:
        trail.close()


def test_no_feedback_yet_means_no_adjustment(settings):
    assert load_feedback_adjustments(settings).outcomes == {}
    assert not feedback_path(settings).exists()


def test_refresh_makes_running_services_read_new_verdicts(settings):
    class Services:
        def __init__(self):
            self.__dict__["feedback"] = "cached"

    services = Services()
    refresh_feedback(services)
    assert "feedback" not in services.__dict__


def test_a_killed_process_loses_no_recorded_feedback(settings):
    trail = AuditTrail(settings.audit_url)
    _answer(trail, "t9", "C-00009", ["SAV-GOAL"], "Saver", "A")
    trail.close()
    script = (
        "import os, signal\n"
        "from advisor.settings import Settings\n"
        "from graph.feedback import record_offer_feedback\n"
        f"record_offer_feedback(Settings(home={str(settings.home)!r}), 't9', 0, 'no')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    completed = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, timeout=120)
    assert completed.returncode == -9, completed.stderr
    assert load_feedback_adjustments(settings).outcomes["segment:Saver"]["SAV-GOAL"].rejected == 1
