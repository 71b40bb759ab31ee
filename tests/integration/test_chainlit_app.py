"""The app's Chainlit handlers called in-process, with a session whose emitter records what
the browser would receive: roles, the customer context, live steps, answers with charts
and sources, feedback, refusals, and the compliance sign-off."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import pytest

from tools.retrieval import RetrievedDocument
from ui.users import AppUser, hash_password, save_user


# --- the thread bridge, without Chainlit ---------------------------------------------------------
def test_node_events_reach_the_loop_in_order_before_the_result():
    seen: list = []

    def ask(question, on_node):
        for n in range(50):
            on_node(f"node{n}", {"n": n})
        return {"answer": question}

    async def on_event(kind, first, second):
        await asyncio.sleep(0)
        seen.append((kind, first, second["n"]))

    from ui.chat import run_with_events

    result = asyncio.run(run_with_events(ask, on_event, question="q"))
    assert result == {"answer": "q"}
    assert seen == [("node", f"node{n}", n) for n in range(50)]


def test_tokens_are_forwarded_only_to_runners_that_stream_and_errors_propagate():
    from ui.chat import run_with_events

    tokens: list = []

    def streaming_ask(on_node, on_token):
        for piece in ("Hello", " ", "advisor"):
            on_token(piece)
        return {}

    async def on_event(kind, first, second):
        tokens.append((kind, first))

    asyncio.run(run_with_events(streaming_ask, on_event))
    assert tokens == [("token", "Hello"), ("token", " "), ("token", "advisor")]

    def failing_ask(on_node):
        raise RuntimeError("store is down")

    with pytest.raises(RuntimeError, match="store is down"):
        asyncio.run(run_with_events(failing_ask, on_event))


# --- an in-process Chainlit session --------------------------------------------------------------
class KnowledgeOnlyRetriever:
    """Product and policy chunks sharing the most words with the question (no vector store)."""

    def __init__(self, knowledge):
        self.chunks = list(knowledge.chunks())

    def search(self, question: str, k: int = 3, customer_id: str | None = None) -> list[RetrievedDocument]:
        words = set(re.findall(r"[a-z]{4,}", question.lower()))
        ranked = sorted(self.chunks, key=lambda c: (-len(words & set(re.findall(r"[a-z]{4,}", c.text.lower()))),
                                                    c.id))
        return [RetrievedDocument(id=c.id, collection="products" if c.id.startswith("product:") else "policies",
                                  snippet=c.text[:300], score=1.0) for c in ranked[:k]]


class Browser:
    """Stands in for the browser end of the socket: records events, answers asks."""

    def __init__(self):
        self.events: list[tuple[str, dict]] = []
        self.replies: list[str] = []

    async def emit(self, event, data):
        self.events.append((event, data))

    async def emit_call(self, event, data, timeout):
        self.events.append((event, data))
        text = self.replies.pop(0)
        return {"id": str(uuid.uuid4()), "threadId": data["msg"]["threadId"], "type": "user_message",
                "name": "user", "output": text, "createdAt": "2026-01-01T00:00:00Z"}

    def messages(self) -> dict[str, dict]:
        """The latest version of every message and step, by id."""
        latest: dict[str, dict] = {}
        for event, data in self.events:
            if event in ("new_message", "update_message"):
                latest[data["id"]] = {**latest.get(data["id"], {}), **data}
        return latest

    def texts(self) -> list[str]:
        return [m.get("output", "") for m in self.messages().values() if m.get("type", "").endswith("message")]

    def steps(self) -> dict[str, dict]:
        return {m["name"]: m for m in self.messages().values() if m.get("type") == "tool"}

    def elements(self) -> list[dict]:
        return [data for event, data in self.events if event == "element"]

    def actions(self) -> list[dict]:
        return [data for event, data in self.events if event == "action"]


@pytest.fixture(scope="module")
def runtime(bank_store, bank_labels, test_settings, tmp_path_factory):
    """The app's runtime over the session's small bank, with a users file for its advisors."""
    from advisor import services
    from ui.runtime import AppRuntime, install_runtime

    users_file = tmp_path_factory.mktemp("users") / "users.toml"
    for user in (AppUser(username="adv", role="advisor", advisor_id="A-001", display_name="Ada Advisor",
                         password_hash=hash_password("adv-password", 4)),
                 AppUser(username="rev", role="compliance", display_name="Rita Reviewer",
                         password_hash=hash_password("rev-password", 4))):
        save_user(users_file, user)
    settings = test_settings.model_copy(update={"users_file": users_file})
    app_runtime = AppRuntime(settings, overrides={"retriever": KnowledgeOnlyRetriever(
        services.knowledge_base(settings))}, labels_dir=bank_labels)
    install_runtime(app_runtime)
    yield app_runtime
    install_runtime(None)
    app_runtime.close()


def in_session(username: str, browser: Browser, coroutine_factory, thread_id: str | None = None):
    """Run ``coroutine_factory()`` inside a Chainlit websocket session of ``username``."""
    import chainlit as cl
    from chainlit.context import init_ws_context
    from chainlit.session import WebsocketSession

    async def run():
        session = WebsocketSession(id=str(uuid.uuid4()), socket_id=str(uuid.uuid4()), emit=browser.emit,
                                   emit_call=browser.emit_call, user_env={}, client_type="webapp",
                                   user=cl.User(identifier=username), thread_id=thread_id or str(uuid.uuid4()))
        init_ws_context(session)
        return await coroutine_factory()

    return asyncio.run(run())


def _message(text: str):
    import chainlit as cl

    return cl.Message(content=text, type="user_message")


async def send(text: str) -> str:
    """What Chainlit does with a user message: the handler runs inside an on_message run
    step; returns the run's id (what the browser's feedback refers to)."""
    import chainlit as cl

    from ui import chat

    message = _message(text)
    async with cl.Step(name="on_message", type="run", parent_id=message.id) as run:
        await chat.on_message(message)
    return run.id


def test_advisor_session_from_welcome_to_feedback(runtime, bank_store):
    from ui import chat

    book = bank_store.customers_of_advisor("A-001")
    outsider = next(c for c in bank_store.customer_ids() if c not in set(book))
    customer_id = book[0]
    browser = Browser()

    async def flow():
        import chainlit as cl

        await chat.start_chat()
        await chat.on_message(_message(f"/customer {outsider}"))
        await chat.on_message(_message("/review"))
        await chat.on_message(_message(f"/customer {customer_id}"))
        assert cl.user_session.get("customer_id") == customer_id
        run_id = await send("What can I offer this customer?")
        trace_id = cl.user_session.get("traces")[run_id]
        from chainlit.types import Feedback

        await chat.on_feedback(Feedback(forId=run_id, value=0, comment="already declined"))
        return trace_id

    trace_id = in_session("adv", browser, flow)
    texts = "\n".join(browser.texts())
    assert f"book A-001, {len(book)} customers" in texts
    assert f"Customer {outsider} is not in your book" in texts
    assert "The review view is for compliance users." in texts
    assert f"**Customer {customer_id}**" in texts and "Risk band: **" in texts
    steps = browser.steps()
    for title in ("Router", "Spending analyst", "Credit analyst", "Customer voice", "Product matcher",
                  "Compliance check", "Critic"):
        assert title in steps and steps[title].get("end"), title
    assert "*Tools:*" in steps["Credit analyst"]["output"]
    # The answer streams in (the offline composer's as one piece) below every step, the critic's included.
    shown = [data.get("name") if event == "new_message" else event for event, data in browser.events
             if event in ("new_message", "stream_start")]
    assert "stream_start" in shown and shown.index("Critic") < shown.index("stream_start")
    answer = next(m for m in browser.messages().values()
                  if m.get("type") == "assistant_message" and (m.get("metadata") or {}).get("trace_id") == trace_id)
    assert f"trace `{trace_id}`" in answer["output"] and "Open a source:" in answer["output"]
    kinds = {e["type"] for e in browser.elements() if e.get("forId") == answer["id"]}
    assert {"plotly", "text"} <= kinds
    records = runtime.runner.audit.get(trace_id)
    assert [r.kind for r in records] == ["answer", "feedback"]
    assert records[0].advisor_id == "A-001" and records[1].payload["comment"] == "already declined"


def test_bad_input_gets_a_clear_message_and_the_app_keeps_serving(runtime, bank_store, monkeypatch):
    from ui import chat

    browser = Browser()

    async def flow():
        await chat.on_message(_message("/customer C-99999999"))
        await chat.on_message(_message("/customer zzzzqqqq"))
        await chat.on_message(_message("/frobnicate"))
        await chat.on_message(_message("   "))
        await chat.on_message(_message("x" * (runtime.settings.max_question_chars + 1)))
        monkeypatch.setattr(runtime.runner, "ask", lambda *a, **k: (_ for _ in ()).throw(OSError("disk gone")))
        await chat.on_message(_message("What can I offer?"))
        monkeypatch.undo()
        await chat.on_message(_message("/help"))

    in_session("adv", browser, flow)
    texts = "\n".join(browser.texts())
    assert "No customer C-99999999" in texts
    assert "No customer matching **zzzzqqqq** in your book" in texts
    assert "unknown command /frobnicate" in texts
    assert "empty_question" in texts and "question_too_long" in texts
    assert re.search(r"Something went wrong on our side\*\* \(incident `[0-9a-f]{8}`\)", texts)
    assert "Traceback" not in texts and "disk gone" not in texts
    assert "How to use the advisor" in texts


def test_compliance_reviews_and_signs_off(runtime, bank_store):
    from ui import chat

    customer_id = bank_store.customers_of_advisor("A-001")[1]
    result = runtime.runner.ask("What can I offer this customer?", customer_id=customer_id, advisor_id="A-001",
                                advisor_book=set(bank_store.customers_of_advisor("A-001")))
    trace_id = result["trace_id"]
    browser = Browser()
    browser.replies.append("Checked the offers against the findings")

    async def flow():
        import chainlit as cl

        await chat.start_chat()
        await chat.on_message(_message("/review verdict=nonsense"))
        await chat.on_message(_message(f"/review customer={customer_id}"))
        await chat.on_message(_message(f"/trace {trace_id[:10]}"))
        await chat.on_message(_message("What can I offer?"))
        action = cl.Action(name="review_decision", payload={"trace_id": trace_id, "decision": "signoff"},
                           label="Sign off")
        await chat.on_review_decision(action)

    in_session("rev", browser, flow)
    texts = "\n".join(browser.texts())
    assert "Compliance review" in texts and "Recent answers" in texts
    assert "verdict must be one of" in texts
    assert f"customer={customer_id}" in texts and trace_id[:12] in texts
    assert f"## Trace `{trace_id}`" in texts and "### Critic" in texts and "### Documents retrieved" in texts
    assert "This is the review profile" in texts
    assert f"Signed off** trace `{trace_id[:12]}` by **rev**" in texts
    assert any(a["name"] == "open_trace" for a in browser.actions())
    signoff = [r for r in runtime.runner.audit.get(trace_id) if r.kind == "signoff"][-1]
    assert signoff.payload["reviewer"] == "rev" and "Checked the offers" in signoff.payload["comment"]
    assert not runtime.runner.audit.verify()


def test_advisors_cannot_sign_off_and_unknown_users_are_turned_away(runtime):
    import chainlit as cl

    from ui import chat

    browser = Browser()

    async def advisor_tries():
        await chat.on_review_decision(cl.Action(name="review_decision", payload={"trace_id": "x", "decision":
                                                                                  "signoff"}, label="Sign off"))

    in_session("adv", browser, advisor_tries)
    assert "Only compliance users can sign off answers." in "\n".join(browser.texts())
    stranger = Browser()
    in_session("mallory", stranger, chat.start_chat)
    assert "not (or no longer) in the users file" in "\n".join(stranger.texts())


def test_login_callback_checks_the_bcrypt_hash(runtime, monkeypatch, tmp_path):
    monkeypatch.setenv("ADVISOR_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CHAINLIT_AUTH_SECRET", raising=False)
    from advisor.settings import get_settings

    get_settings.cache_clear()
    import importlib

    import chainlit_app

    importlib.reload(chainlit_app)
    assert (tmp_path / "home" / "keys" / "chainlit_auth.secret").exists()
    user = asyncio.run(chainlit_app.login("adv", "adv-password"))
    assert user.identifier == "adv" and user.metadata == {"role": "advisor", "advisor_id": "A-001"}
    assert asyncio.run(chainlit_app.login("adv", "wrong-password")) is None
    assert asyncio.run(chainlit_app.login("nobody", "adv-password")) is None
    get_settings.cache_clear()
    assert Path(chainlit_app.__file__).name == "chainlit_app.py"


def test_an_app_without_data_says_what_to_run(runtime, tmp_path):
    from ui import chat
    from ui.runtime import AppRuntime, install_runtime

    empty = AppRuntime(runtime.settings.model_copy(update={"home": tmp_path, "store_path": tmp_path / "bank.db"}))
    install_runtime(empty)
    try:
        browser = Browser()
        in_session("adv", browser, chat.start_chat)
    finally:
        install_runtime(runtime)
    assert "**The app is not ready:** No data store at" in "\n".join(browser.texts())


def test_answers_stream_when_the_runner_streams_tokens(runtime, bank_store, monkeypatch):
    """With a model backend the runner passes the model's text as it comes (``on_token``):
    the chat shows it growing, then replaces it with the full answer and its elements."""
    from tests.fixtures.findings import rich_findings
    from ui import chat

    findings = rich_findings()
    result = {"trace_id": "f" * 32, "customer_id": None, "agents": [], "routed": [],
              "findings": {"credit": findings.credit.model_dump(mode="json")}, "recommendations": [],
              "compliance": {"passed": True, "violations": [], "disclosures": []},
              "critic": {"verdict": "approved", "issues": []}, "sources": [], "answer": "Spend is stable.",
              "llm": {"backend": "openai", "model": "zephyr", "calls": 1}, "timings_ms": {"total": 5.0}}

    def streaming_ask(question, customer_id=None, thread_id=None, advisor_id=None, advisor_book=None,
                      on_node=None, on_token=None):
        for piece in ("Spend ", "is ", "stable."):
            on_token(piece)
        return result

    monkeypatch.setattr(runtime.runner, "ask", streaming_ask)
    browser = Browser()
    in_session("adv", browser, lambda: send("How is the spending?"))
    kinds = [event for event, _ in browser.events]
    assert "stream_start" in kinds and kinds.count("stream_token") == 2
    final = next(m for m in browser.messages().values() if (m.get("metadata") or {}).get("trace_id") == "f" * 32
                 and m.get("type") == "assistant_message")
    assert final["output"].startswith("Spend is stable.") and "critic approved" in final["output"]
    assert any(e["type"] == "plotly" for e in browser.elements())


def test_a_dead_model_server_falls_back_with_a_visible_note(runtime, bank_store, bank_labels):
    from ui import chat
    from ui.runtime import AppRuntime, install_runtime

    dead = runtime.settings.model_copy(update={"llm_backend": "openai", "openai_base_url": "http://127.0.0.1:9/v1",
                                               "llm_timeout_s": 5.0})
    offline_runtime = AppRuntime(dead, overrides=runtime.overrides, labels_dir=bank_labels)
    install_runtime(offline_runtime)
    browser = Browser()
    customer_id = bank_store.customers_of_advisor("A-001")[2]

    async def flow():
        import chainlit as cl

        cl.user_session.set("customer_id", customer_id)
        await send("What can I offer this customer?")

    try:
        in_session("adv", browser, flow)
    finally:
        install_runtime(runtime)
        offline_runtime.close()
    writer = browser.steps()["Answer writer"]["output"]
    assert "fell back to the offline composer" in writer
    assert any("critic" in text and "trace `" in text for text in browser.texts())


def test_the_answer_of_record_replaces_a_streamed_draft_the_critic_revised(runtime, monkeypatch):
    revised = {"trace_id": "e" * 32, "customer_id": None, "agents": [], "routed": [], "findings": {},
               "recommendations": [], "compliance": {"passed": True, "violations": [], "disclosures": []},
               "critic": {"verdict": "revised", "issues": ["rate promise not supported"]}, "sources": [],
               "answer": "Rates depend on the credit assessment.", "llm": {"backend": "openai", "model": "zephyr",
                                                                             "calls": 2},
               "timings_ms": {"total": 5.0}, "answer_replaced_stream": True}

    def streaming_ask(question, on_node=None, on_token=None, **kwargs):
        for piece in ("You are approved ", "at 2% APR."):
            on_token(piece)
        return revised

    monkeypatch.setattr(runtime.runner, "ask", streaming_ask)
    browser = Browser()
    in_session("adv", browser, lambda: send("Can I promise a rate?"))
    streamed_id = next(data["id"] for event, data in browser.events if event == "stream_start")
    final = browser.messages()[streamed_id]
    note, answer = final["output"].split("\n\n", 1)
    assert "replaces the draft shown while it was written" in note
    assert answer.startswith("Rates depend on the credit assessment.")
    assert "approved" not in final["output"].split("*trace")[0] and final["streaming"] is False
    assert final["metadata"]["trace_id"] == "e" * 32


def test_a_streamed_draft_is_withdrawn_when_the_turn_fails(runtime, monkeypatch):
    def failing_after_tokens(question, on_node=None, on_token=None, **kwargs):
        on_token("Half an ans")
        on_token("wer")
        raise OSError("checkpoint store gone")

    monkeypatch.setattr(runtime.runner, "ask", failing_after_tokens)
    browser = Browser()
    in_session("adv", browser, lambda: send("What can I offer?"))
    streamed_id = next(data["id"] for event, data in browser.events if event == "stream_start")
    assert any(event == "delete_message" and data["id"] == streamed_id for event, data in browser.events)
    texts = "\n".join(m.get("output", "") for event, m in browser.events if event == "new_message")
    assert "Something went wrong on our side" in texts and "checkpoint store gone" not in texts

    def error_after_tokens(question, on_node=None, on_token=None, **kwargs):
        on_token("Draft")
        return {"error": {"code": "backend_unavailable", "message": "the model server did not answer"}}

    monkeypatch.setattr(runtime.runner, "ask", error_after_tokens)
    browser = Browser()
    in_session("adv", browser, lambda: send("What can I offer?"))
    streamed_id = next(data["id"] for event, data in browser.events if event == "stream_start")
    assert any(event == "delete_message" and data["id"] == streamed_id for event, data in browser.events)
    assert any("backend_unavailable" in text for text in browser.texts())
