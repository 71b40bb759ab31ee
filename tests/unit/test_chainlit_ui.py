"""The app's pure helpers: users file, commands, review filters, rendering, charts."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.fixtures.findings import rich_findings
from ui import charts, render, review
from ui.commands import CommandError, looks_like_customer_id, parse_command
from ui.users import AppUser, UsersFileError, authenticate, hash_password, load_users, save_user

REPO_ROOT = Path(__file__).resolve().parents[2]
FAST_ROUNDS = 4


def _user(name: str, role: str = "advisor", advisor_id: str | None = "A-001", password: str = "secret-pass") -> AppUser:
    return AppUser(username=name, role=role, advisor_id=advisor_id, password_hash=hash_password(password, FAST_ROUNDS))


# --- users ------------------------------------------------------------------------------------
def test_users_file_round_trip_and_login(tmp_path):
    path = tmp_path / "users.toml"
    assert save_user(path, _user("advisor7")) is True
    assert save_user(path, _user("audit1", role="compliance", advisor_id=None, password="other-pass")) is True
    assert save_user(path, _user("advisor7", advisor_id="A-002", password="changed-pass")) is False
    text = path.read_text()
    assert "secret-pass" not in text and "changed-pass" not in text and "$2b$04$" in text
    users = load_users(path)
    assert set(users) == {"advisor7", "audit1"} and users["advisor7"].advisor_id == "A-002"
    assert authenticate(users, "advisor7", "changed-pass").advisor_id == "A-002"
    assert authenticate(users, "advisor7", "secret-pass") is None
    assert authenticate(users, "nobody", "changed-pass") is None
    assert authenticate(users, "audit1", "other-pass").role == "compliance"


def test_users_file_refuses_clear_passwords_and_bad_entries(tmp_path):
    path = tmp_path / "users.toml"
    path.write_text('[[users]]\nusername = "a1"\nrole = "advisor"\nadvisor_id = "A-001"\npassword_hash = "hunter22"\n')
    with pytest.raises(UsersFileError, match="bcrypt"):
        load_users(path)
    path.write_text(f'[[users]]\nusername = "a1"\nrole = "advisor"\npassword_hash = "{hash_password("x" * 8, 4)}"\n')
    with pytest.raises(UsersFileError, match="advisor_id"):
        load_users(path)
    with pytest.raises(UsersFileError, match="no users file"):
        load_users(tmp_path / "missing.toml")
    with pytest.raises(ValueError, match="at least"):
        hash_password("short")


def test_shipped_users_file_has_the_documented_demo_users():
    users = load_users(REPO_ROOT / "config" / "users.toml")
    assert users["advisor1"].role == "advisor" and users["advisor1"].advisor_id == "A-001"
    assert users["compliance1"].role == "compliance"
    assert authenticate(users, "advisor1", "demo-advisor") is not None
    assert authenticate(users, "compliance1", "demo-compliance") is not None
    raw = tomllib.loads((REPO_ROOT / "config" / "users.toml").read_text())
    assert all("password" not in entry for entry in raw["users"])


# --- commands and filters ---------------------------------------------------------------------
def test_commands_parse_and_refuse():
    assert parse_command("What can I offer?").name == "question"
    assert parse_command("/customer  C-00042 ").argument == "C-00042"
    assert parse_command("/CUSTOMER smith").name == "customer"
    assert parse_command("/review verdict=blocked").argument == "verdict=blocked"
    with pytest.raises(CommandError, match="unknown command"):
        parse_command("/delete everything")
    with pytest.raises(CommandError, match="needs an id"):
        parse_command("/customer")
    with pytest.raises(CommandError, match="too long"):
        parse_command("/customer " + "x" * 500)
    assert looks_like_customer_id("c-00042") and not looks_like_customer_id("smith")


def test_review_filter_parsing():
    parsed = review.parse_review_filter("verdict=blocked advisor=a-001 since=2026-01-31 limit=5")
    assert (parsed.verdict, parsed.advisor_id, parsed.since, parsed.limit) == ("blocked", "A-001", "2026-01-31", 5)
    assert review.parse_review_filter("").describe() == "no filter"
    for bad, message in (("verdict=maybe", "verdict"), ("colour=red", "unknown filter"), ("blocked", "key=value"),
                         ("since=yesterday", "isoformat")):
        with pytest.raises(review.ReviewArgumentError, match=message):
            review.parse_review_filter(bad)


# --- rendering -------------------------------------------------------------------------------
def _answer(calls: int = 0, fallback: str | None = None) -> dict:
    findings = rich_findings()
    products = findings.products
    return {
        "trace_id": "abc123def456", "customer_id": "C-00042", "agents": ["spending", "credit", "products"],
        "findings": {k: v.model_dump(mode="json") for k, v in findings if v is not None},
        "recommendations": [r.model_dump(mode="json") for r in products.recommendations],
        "compliance": {"passed": False, "violations": [],
                       "disclosures": [d.text for d in findings.compliance.disclosures]},
        "critic": {"verdict": "approved", "issues": []},
        "sources": [{"id": "policy:POL-AFFORD:3.2", "collection": "policies", "snippet": "Affordability..."}],
        "answer": "The customer can be offered the travel card.",
        "llm": {"backend": "openai" if calls else "offline", "model": "zephyr", "calls": calls,
                "fallback_reason": fallback},
        "timings_ms": {"total": 1234.0},
    }


def test_answer_adds_offers_of_record_only_when_a_model_wrote_it():
    model_written = render.answer_markdown(_answer(calls=1))
    assert "### Offers of record" in model_written and "| 1 | Northbridge Travel Credit Card (`CC-TRAVEL`)" in model_written
    assert "### Disclosures you must give" in model_written
    assert "**Open a source:** Source 1 (`policy:POL-AFFORD:3.2`)" in model_written
    assert "trace `abc123def456`" in model_written
    offline = render.answer_markdown(_answer(calls=0))
    assert "Offers of record" not in offline and "Open a source:" in offline
    fell_back = render.answer_markdown(_answer(calls=1, fallback="timeout"))
    assert "Offers of record" not in fell_back


def test_blocked_answer_is_flagged_and_table_cells_are_escaped():
    result = _answer(calls=1) | {"critic": {"verdict": "blocked", "issues": ["ungrounded figure 9.9%"]}}
    assert render.answer_markdown(result).startswith("> ⛔ **The critic blocked this answer**")
    table = render.recommendations_table([{"name": "A | B", "product_code": "X", "reasons": ["r1\nr2"],
                                            "evidence": ["txn:1"], "price_tier": None}])
    assert "A \\| B" in table and "r1 r2" in table and "| — |" in table


def test_blocked_answer_and_critic_step_never_show_the_rejected_draft_text():
    quoted = "Draft says: 'you are approved at 3.9% APR, guaranteed'"
    result = _answer(calls=1) | {"critic": {"verdict": "blocked", "issues": [quoted]}}
    assert "guaranteed" not in render.answer_markdown(result)
    step = render.step_view("critic", {"critic": result["critic"]})
    assert step.failed and "guaranteed" not in step.summary and "1 issue recorded" in step.summary


def test_step_views_show_key_figures_and_tools():
    findings = rich_findings()
    spending = render.step_view("spending", {"spending": findings.spending, "timings_ms": {"spending": 12.7}})
    assert "EUR 4,210.50" in spending.summary and "Frequent traveller" in spending.summary
    assert "13 ms" in spending.summary
    credit = render.step_view("credit", {"credit": findings.credit})
    assert "Risk band **C**" in credit.summary and "R01" in credit.summary
    missing = render.step_view("sentiment", {"sentiment": {"available": False, "missing_reason": "no texts"}})
    assert missing.failed and "no texts" in missing.summary
    route = render.step_view("supervisor", {"route": {"agents": ["credit"], "method": "classifier"}})
    assert "Credit analyst" in route.summary
    assert render.step_view("guard", {}) is None
    assert render.expected_steps(["products"], True) == ["spending", "credit", "sentiment", "products", "compliance"]
    assert render.expected_steps(["credit"], False) == []


def test_customer_header_and_errors():
    facts = {"tenure_months": 48, "employment_status": "employed", "products": ["CC-CLASSIC"]}
    assert "Loading" in render.customer_header("C-00042", facts)
    overview = {"findings": {k: v.model_dump(mode="json") for k, v in rich_findings() if v is not None}}
    header = render.customer_header("C-00042", facts, overview)
    assert "Segment: **Frequent traveller**" in header and "Risk band: **C**" in header
    assert "Mood: **negative (-0.42)**" in header and "vulnerability" in header
    message = render.error_markdown({"code": "not_in_book", "message": "Customer C-1 is not in your book."})
    assert "not_in_book" in message and "ask their advisor" in message


# --- charts ----------------------------------------------------------------------------------
def test_spending_chart_stacks_the_largest_categories():
    monthly = {f"2026-0{m}": {f"cat{i}": float(10 * i + m) for i in range(10)} for m in range(1, 4)}
    figure = charts.spending_by_month_figure(monthly, max_categories=3)
    names = [trace.name for trace in figure.data]
    assert names == ["cat9", "cat8", "cat7", "other (7)"]
    assert list(figure.data[0].x) == ["2026-01", "2026-02", "2026-03"]
    assert figure.data[-1].y[0] == pytest.approx(sum(10 * i + 1 for i in range(7)))
    assert charts.spending_by_month_figure({}) is None


def test_utilisation_chart_shows_each_limit():
    accounts = [{"account_id": "AC-1", "product_code": "CC-CLASSIC", "balance": 780.0, "credit_limit": 1000.0,
                 "utilisation": 0.78}, {"account_id": "AC-2", "balance": 0.0, "credit_limit": 0.0, "utilisation": 0}]
    figure = charts.utilisation_figure(accounts)
    assert list(figure.data[0].x) == [78.0] and "AC-1" in figure.data[0].y[0]
    assert charts.utilisation_figure([]) is None
