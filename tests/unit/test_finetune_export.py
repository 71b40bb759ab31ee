"""`advisor finetune export` on a generated audit trail: positives, negatives, redaction, dedupe, refusals."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from finetune.export import build_export, refusal, unique_indices, write_export
from graph.audit import AuditTrail
from prompts import load_prompt, prompt_hash
from tests.fixtures.findings import rich_findings

CARD = "4111 1111 1111 1111"
PEOPLE = {
    "C-00101": ("Aoife Murphy", "aoife.murphy@example.ie", "+353 87 123 4567"),
    "C-00102": ("Bartholomew Quigley", "bart.quigley@example.com", "+353 86 765 4321"),
    "C-00103": ("Ciara Ní Bhriain", "ciara.nb@example.org", "+353 85 222 3344"),
}
TOPICS = (["products", "compliance"], ["credit"], ["spending"], ["sentiment"])


def identifiers_for(customer_id: str) -> list[str]:
    name, email, phone = PEOPLE[customer_id]
    return [name, email, phone]


def answer_payload(customer_id: str, index: int, answer: str | None = None, routed=None,
                   verdict: str = "approved") -> dict:
    """An answer record as the runner writes it, but with raw identifiers left in (an older or faulty
    writer), so the export's own redaction is what the tests check."""
    name, email, phone = PEOPLE[customer_id]
    findings = rich_findings()
    findings.spending.monthly_income = 3000.0 + 37.5 * index
    first = findings.sentiment.recent[0]
    findings.sentiment.recent[0] = first.model_copy(update={"excerpt": f"This is {name}, call me on {phone}."})
    return {
        "question": f"What can I offer {name} ({email}, card {CARD})? Case {index}.",
        "thread_id": f"thread-{index}",
        "routed": routed or TOPICS[index % len(TOPICS)],
        "agents": routed or TOPICS[index % len(TOPICS)],
        "findings": {key: value.model_dump(mode="json") for key, value in findings if value is not None},
        "answer": answer or (f"Dear advisor: {name} spends EUR {2000 + index:,}.00 a month. "
                             f"Contact {email} or {phone} (customer {customer_id}); card {CARD}."),
        "critic": {"verdict": verdict, "issues": ["forbidden.approval: promised approval"]
                   if verdict == "blocked" else []},
        "llm": {"backend": "zephyr", "model": "tiny", "calls": 1},
        "prompt_hashes": {name: prompt_hash(name) for name in ("composer_system", "composer_user")},
    }


def add_answer(trail: AuditTrail, trace_id: str, customer_id: str, index: int, **kwargs) -> None:
    payload = answer_payload(customer_id, index, **kwargs)
    trail.append(trace_id, "answer", payload, advisor_id="A-01", customer_id=customer_id,
                 verdict=payload["critic"]["verdict"])


def rate(trail: AuditTrail, trace_id: str, value: int) -> None:
    trail.append(trace_id, "feedback", {"value": value, "comment": "", "offers": [], "by": "A-01"},
                 advisor_id="A-01")


@pytest.fixture
def trail(tmp_path):
    """Twelve approved answers over four topics and three customers, plus one of each negative kind,
    an unreviewed answer, two near-duplicates and an erased record."""
    trail = AuditTrail(tmp_path / "audit.sqlite")
    customers = list(PEOPLE)
    for index in range(12):
        trace = f"pos-{index}"
        add_answer(trail, trace, customers[index % 3], index)
        if index % 2:
            trail.signoff(trace, "compliance-officer", "signoff")
        else:
            rate(trail, trace, 1)
    add_answer(trail, "dup-exact", "C-00101", 0, answer=answer_payload("C-00101", 0)["answer"].upper() + "  ")
    rate(trail, "dup-exact", 1)
    add_answer(trail, "dup-near", "C-00101", 0, answer=answer_payload("C-00101", 0)["answer"] + " Thanks.")
    trail.signoff("dup-near", "compliance-officer", "signoff")
    add_answer(trail, "flagged", "C-00102", 20, answer="You are guaranteed approval, Bartholomew Quigley.")
    trail.signoff("flagged", "compliance-officer", "flag", comment="promises approval")
    add_answer(trail, "rated-down", "C-00101", 3, answer="A worse answer about the same case.")
    rate(trail, "rated-down", 0)
    add_answer(trail, "blocked", "C-00103", 21, answer="**This answer was blocked by the compliance critic**",
               verdict="blocked")
    add_answer(trail, "approved-then-down", "C-00102", 22)
    trail.signoff("approved-then-down", "compliance-officer", "signoff")
    rate(trail, "approved-then-down", 0)
    add_answer(trail, "unreviewed", "C-00103", 23)
    trail.append("erased", "answer", {"agents": ["credit"], "llm": {}}, verdict="approved")
    rate(trail, "erased", 1)
    yield trail
    trail.close()


def test_approved_answers_are_paired_with_the_composer_prompt_rebuilt_from_their_findings(trail):
    export = build_export(trail.all(), identifiers_for)
    assert export.counts.positives == 12
    example = next(e for e in export.positives if e.trace_id == "pos-1")
    system, user, assistant = example.messages
    assert [m["role"] for m in example.messages] == ["system", "user", "assistant"]
    assert system["content"] == load_prompt("composer_system").render()
    assert "The question is about customer [CUSTOMER]." in user["content"]
    assert '<findings agent="spending">' in user["content"] and "Case 1." in user["content"]
    assert assistant["content"].startswith("Dear advisor: [NAME] spends EUR 2,001.00 a month.")
    assert example.approved_by == ["signoff"] and example.topic == "credit"
    assert next(e for e in export.positives if e.trace_id == "pos-0").approved_by == ["rated_up"]


def test_no_name_email_phone_card_or_customer_id_reaches_the_exported_files(trail, tmp_path):
    export = build_export(trail.all(), identifiers_for)
    files = write_export(export, tmp_path / "out" / "sft.jsonl", {"created_at": "now"})
    written = "".join(path.read_text(encoding="utf-8") for path in (files.sft, files.negatives, files.manifest))
    assert export.counts.positives and export.counts.negatives
    secrets = [CARD, CARD.replace(" ", "")]
    for customer_id, (name, email, phone) in PEOPLE.items():
        secrets += [customer_id, email, *[part for part in re.split(r"\s+", name) if len(part) >= 3],
                    re.sub(r"\D", "", phone)[-7:], phone]
    for secret in secrets:
        assert secret.casefold() not in written.casefold(), secret
    for placeholder in ("[NAME]", "[EMAIL]", "[PHONE]", "[CARD]", "[CUSTOMER]"):
        assert placeholder in written, placeholder


def test_flagged_rated_down_and_blocked_answers_are_kept_apart_as_negatives(trail, tmp_path):
    export = build_export(trail.all(), identifiers_for)
    negatives = {n.trace_id: n for n in export.negatives}
    assert set(negatives) == {"flagged", "rated-down", "blocked", "approved-then-down"}
    assert not {e.trace_id for e in export.positives} & set(negatives)
    assert negatives["flagged"].reasons == ["flagged"]
    assert negatives["flagged"].rejected == "You are guaranteed approval, [NAME]."
    assert negatives["blocked"].rejected is None and negatives["blocked"].issues
    # Rated down on the same findings and question as an approved answer: a preference pair.
    assert negatives["rated-down"].chosen == next(e for e in export.positives
                                                  if e.trace_id == "pos-3").messages[-1]["content"]
    assert export.counts.preference_pairs == 1
    files = write_export(export, tmp_path / "sft.jsonl", {})
    sft_traces = {json.loads(line)["trace_id"] for line in files.sft.read_text().splitlines()}
    negative_lines = [json.loads(line) for line in files.negatives.read_text().splitlines()]
    assert not sft_traces & {line["trace_id"] for line in negative_lines}
    assert all(line["prompt"][-1]["role"] == "user" for line in negative_lines)


def test_duplicates_unreviewed_and_erased_answers_are_left_out(trail):
    export = build_export(trail.all(), identifiers_for, similarity=0.95)
    traces = {e.trace_id for e in export.positives}
    assert {"dup-exact", "dup-near", "unreviewed", "erased"}.isdisjoint(traces)
    assert export.counts.duplicates_removed == 2
    assert export.counts.unreviewed == 1 and export.counts.skipped_erased == 1


def test_texts_with_other_figures_are_never_duplicates_however_alike():
    base = "The customer spends EUR 1,200.00 a month on groceries and dining out with friends."
    texts = [base, base.upper(), base.replace("friends", "friends too"), base.replace("1,200.00", "1,250.00")]
    assert unique_indices(texts, 0.9) == [0, 3]
    assert unique_indices(texts, 1.0) == [0, 2, 3]


def test_a_set_too_small_or_on_one_topic_is_refused(trail):
    export = build_export(trail.all(), identifiers_for)
    assert refusal(export, min_examples=12, max_share=0.6) is None
    assert refusal(export, min_examples=50, max_share=0.6).startswith("too small: 12 approved answers")
    assert "unbalanced" in refusal(export, min_examples=1, max_share=0.2)
    one_topic = export.model_copy(update={"counts": export.counts.model_copy(update={"by_topic": {"credit": 12}})})
    assert refusal(one_topic, min_examples=1, max_share=0.6).startswith("unbalanced: 100% of the examples")


def test_the_command_refuses_a_small_set_and_writes_nothing(trail, tmp_path, monkeypatch):
    import advisor.cli.finetune  # noqa: F401
    from advisor.cli.app import app
    from advisor.settings import get_settings

    monkeypatch.setenv("ADVISOR_HOME", str(tmp_path))
    monkeypatch.setenv("ADVISOR_AUDIT_URL", str(tmp_path / "audit.sqlite"))
    get_settings.cache_clear()
    out = tmp_path / "export" / "sft.jsonl"
    try:
        refused = CliRunner().invoke(app, ["finetune", "export", "--out", str(out), "--min-examples", "40",
                                           "--json"])
        assert not out.parent.exists()
        accepted = CliRunner().invoke(app, ["finetune", "export", "--out", str(out), "--min-examples", "10",
                                            "--json"])
    finally:
        get_settings.cache_clear()
    assert refused.exit_code == 1, refused.output
    assert "too small" in json.loads(refused.stdout)["error"]["message"]
    assert accepted.exit_code == 0, accepted.output
    report = json.loads(accepted.stdout)
    assert report["counts"]["positives"] == 12 and report["counts"]["negatives"] == 4
    assert len(out.read_text().splitlines()) == 12
