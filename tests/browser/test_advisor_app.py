"""What an advisor and a compliance reviewer do in the real app, in a real browser.

Order matters: the advisor's answer (and feedback) is what compliance then signs off.
Screenshots of the main screens land in build/screenshots/.
"""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.browser

ANSWER_TIMEOUT_MS = 150_000
UI_TIMEOUT_MS = 30_000
QUESTION = "What can I offer this customer?"


@pytest.fixture(scope="module")
def bank(app_server):
    """Customer ids of the small bank: in advisor1's book (A-001) and outside it (A-002)."""
    from advisor import services
    from advisor.settings import Settings

    store = services.open_store(Settings(home=app_server.home))
    try:
        mine = store.customers_of_advisor("A-001")
        theirs = store.customers_of_advisor("A-002")
        # A customer with a credit card, so the answer has credit figures and a utilisation chart.
        chosen = next(c for c in mine if (store.accounts(c)["type"] == "credit_card").any())
        surname = store.customer(chosen).full_name.split()[-1]
        same_surname_in_book = [c.customer_id for c in store.search_customers(surname, 200)
                                if c.customer_id in set(mine)]
    finally:
        store.close()
    return {"mine": mine, "theirs": theirs, "chosen": chosen, "surname": surname,
            "surname_matches": same_surname_in_book}


def _audit(app_server):
    from advisor.settings import Settings
    from graph.audit import open_audit_trail

    return open_audit_trail(Settings(home=app_server.home).audit_url)


def login(page, app_server, username: str, password: str) -> None:
    page.goto(app_server.url)
    page.locator("input").first.fill(username)
    page.locator("input[type=password]").fill(password)
    page.get_by_role("button", name="Sign In").click()


def send(page, text: str) -> None:
    """Type and send a message once the previous one is done (while a task runs, the send
    button is replaced by a stop button and Enter does nothing)."""
    box = page.locator("#chat-input")
    box.wait_for(state="visible", timeout=UI_TIMEOUT_MS)
    box.fill(text)
    submit = page.locator("#chat-submit")
    submit.wait_for(state="visible", timeout=ANSWER_TIMEOUT_MS)
    page.wait_for_function("() => !document.querySelector('#chat-submit').disabled", timeout=UI_TIMEOUT_MS)
    box.press("Enter")
    page.wait_for_function("() => document.querySelector('#chat-input').value === ''", timeout=UI_TIMEOUT_MS)
    # The first message of a chat moves the page to /thread/<id>; a message typed during that
    # move can be lost, so each send waits until the page has settled on the thread.
    page.wait_for_url(re.compile(r"/thread/[0-9a-f-]{36}"), timeout=UI_TIMEOUT_MS)
    page.wait_for_load_state("networkidle", timeout=UI_TIMEOUT_MS)


def test_wrong_password_is_refused(browser, app_server, screenshot):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        login(page, app_server, "advisor1", "not-the-password")
        page.get_by_text(re.compile("Sign in failed|Unable to sign in|credentials", re.I)).first.wait_for(
            timeout=UI_TIMEOUT_MS)
        screenshot(page, "01_login_refused")
    finally:
        page.close()


class SocketEvents:
    """The Chainlit events the page receives over its websocket (socket.io frames ``42[name, data]``)."""

    def __init__(self, page):
        self.events: list[tuple[str, dict]] = []
        page.on("websocket", lambda socket: socket.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        text = payload if isinstance(payload, str) else payload.decode(errors="replace")
        match = re.match(r"^\d+(\[.*)$", text, re.S)
        if not match:
            return
        try:
            event = json.loads(match.group(1))
        except json.JSONDecodeError:
            return
        if isinstance(event, list) and len(event) >= 2 and isinstance(event[1], dict):
            self.events.append((event[0], event[1]))

    def streamed_answers(self) -> list[tuple[dict, dict]]:
        """(the streamed draft, the message that ended its stream) for each streamed message."""
        pairs = []
        for position, (name, data) in enumerate(self.events):
            if name != "stream_start":
                continue
            final = next((later for event, later in self.events[position + 1:]
                          if event in ("new_message", "update_message") and later.get("id") == data["id"]), None)
            if final is not None:
                pairs.append((data, final))
        return pairs


def test_first_minute_of_a_new_advisor(browser, app_server, bank, screenshot):
    """Sign in, open a customer from the welcome, read the header, ask: the steps run live,
    the answer streams in and ends with offers, disclosures, sources and feedback buttons."""
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = context.new_page()
    socket = SocketEvents(page)
    try:
        login(page, app_server, "advisor1", "demo-advisor")
        page.get_by_text("Welcome, Advisor One").wait_for(timeout=UI_TIMEOUT_MS)
        first_customer = sorted(bank["mine"])[0]
        page.get_by_role("button", name=re.compile(rf"^{first_customer} · ")).click()
        page.get_by_text(f"Customer {first_customer}").first.wait_for(timeout=UI_TIMEOUT_MS)
        for badge in ("Segment:", "Risk band:", "Mood:"):
            page.get_by_text(badge).first.wait_for(timeout=ANSWER_TIMEOUT_MS)
        screenshot(page, "00_first_minute_header")

        send(page, QUESTION)
        page.locator("button[id^='step-']", has_text="Router").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
        trace_line = page.get_by_text(re.compile(r"trace [0-9a-f]{32} · critic")).last
        trace_line.wait_for(timeout=ANSWER_TIMEOUT_MS)
        for specialist in ("Spending analyst", "Product matcher", "Compliance check", "Answer writer", "Critic"):
            assert page.locator("button[id^='step-']", has_text=specialist).count() >= 1, specialist
        # The steps lead to the answer: the last thing in the chat is the answer, not a step.
        assert re.search(r"trace [0-9a-f]{32} · critic", page.locator(".step").last.inner_text())
        answer_text = page.locator(".step", has_text=re.compile(r"trace [0-9a-f]{32} · critic")).last.inner_text()
        if "Recommended offers" in answer_text:
            assert "Price tier" in answer_text and "Disclosures you must give" in answer_text
        assert "Open a source:" in answer_text
        assert page.locator(".positive-feedback-off").last.is_visible()
        assert page.locator(".negative-feedback-off").last.is_visible()

        # The answer was streamed: its draft reached the page before the critic's verdict,
        # and the answer of record (with the trace line) replaced it in the same message.
        streamed = [(draft, final) for draft, final in socket.streamed_answers()
                    if re.search(r"trace `[0-9a-f]{32}` · critic", final.get("output", ""))]
        assert streamed, "the answer did not stream"
        draft, final = streamed[-1]
        assert draft.get("output") and "· critic" not in draft["output"]
        assert final["output"].split("*trace")[0].strip()

        page.locator(".element-link", has_text="Source 1").last.click()
        page.get_by_text(re.compile(r"relevance \d\.\d\d")).first.wait_for(timeout=UI_TIMEOUT_MS)
        # The README's screenshot (docs/screenshot-answer.png): steps, the product step open,
        # the start of the answer, and a source beside it.
        page.locator("button[id^='step-']", has_text="Product matcher").first.click()
        page.get_by_text("Tools:").first.wait_for(timeout=UI_TIMEOUT_MS)
        page.locator("button[id^='step-']", has_text="Router").last.evaluate("e => e.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(500)  # the opened step's animation, for a still screenshot
        screenshot(page, "00_first_minute_answer_and_source")
    finally:
        context.close()


def test_advisor_chooses_a_customer_asks_and_gives_feedback(browser, app_server, bank, journey, screenshot):
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = context.new_page()
    try:
        login(page, app_server, "advisor1", "demo-advisor")
        page.get_by_text("Welcome, Advisor One").wait_for(timeout=UI_TIMEOUT_MS)
        page.get_by_text(f"book A-001, {len(bank['mine'])} customers").wait_for()
        screenshot(page, "02_advisor_welcome")

        # A name search inside the book offers buttons when several customers match.
        send(page, f"/customer {bank['surname']}")
        if len(bank["surname_matches"]) > 1:
            page.get_by_text(re.compile(rf"{len(bank['surname_matches'])} customers in your book match")).wait_for(
                timeout=UI_TIMEOUT_MS)
            page.get_by_role("button", name=re.compile(rf"^{bank['chosen']} · ")).click()
        customer_id = bank["chosen"]
        page.get_by_text(f"Customer {customer_id}").first.wait_for(timeout=UI_TIMEOUT_MS)
        page.get_by_text("Segment:").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
        screenshot(page, "03_customer_header")

        send(page, QUESTION)
        # Live steps: each specialist shows while it works, then with its figures.
        page.locator("button[id^='step-']", has_text="Product matcher").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
        trace_line = page.get_by_text(re.compile(r"trace [0-9a-f]{32} · critic")).last
        trace_line.wait_for(timeout=ANSWER_TIMEOUT_MS)
        trace_id = re.search(r"trace ([0-9a-f]{32})", trace_line.inner_text()).group(1)
        for specialist in ("Spending analyst", "Credit analyst", "Customer voice", "Compliance check"):
            assert page.locator("button[id^='step-']", has_text=specialist).count() >= 1, specialist
        answer_text = page.locator(".step").last.inner_text()
        assert ("Price tier" in answer_text) or ("No offer" in answer_text) or ("not offered" in answer_text.lower())
        page.locator("button[id^='step-']", has_text="Product matcher").first.click()
        page.get_by_text("Tools:").first.wait_for(timeout=UI_TIMEOUT_MS)
        page.locator("button[id^='step-']", has_text="Router").first.evaluate(
            "e => e.scrollIntoView({block: 'start'})")
        screenshot(page, "04_answer_with_steps")
        plots = page.locator(".js-plotly-plot")
        plots.first.wait_for(timeout=UI_TIMEOUT_MS)
        assert plots.count() == 2, "spending and utilisation charts"
        plots.first.evaluate("e => e.scrollIntoView({block: 'start'})")
        screenshot(page, "05_answer_charts")

        # Thumbs down with a comment: stored in the data layer and against the trace.
        page.locator(".negative-feedback-off").last.click()
        page.get_by_placeholder("Your feedback...").fill("Customer already declined this offer last month")
        page.get_by_role("button", name="Submit feedback").click()
        page.locator(".negative-feedback-on").last.wait_for(timeout=UI_TIMEOUT_MS)
        screenshot(page, "06_feedback_given")
        journey.update(trace_id=trace_id, customer_id=customer_id, thread_url=page.url)

        trail = _audit(app_server)
        try:
            deadline_records = []
            for _ in range(50):
                deadline_records = [r for r in trail.get(trace_id) if r.kind == "feedback"]
                if deadline_records:
                    break
                page.wait_for_timeout(200)
            assert deadline_records and deadline_records[-1].payload["value"] == 0
            assert "declined" in deadline_records[-1].payload["comment"]
            answer = [r for r in trail.get(trace_id) if r.kind == "answer"][0]
            assert answer.advisor_id == "A-001" and answer.customer_id == customer_id
        finally:
            trail.close()
    finally:
        context.close()


def test_advisor_cannot_open_a_customer_outside_the_book(browser, app_server, bank, screenshot):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        login(page, app_server, "advisor1", "demo-advisor")
        page.get_by_text("Welcome, Advisor One").wait_for(timeout=UI_TIMEOUT_MS)
        outsider = bank["theirs"][0]
        send(page, f"/customer {outsider}")
        page.get_by_text(f"Customer {outsider} is not in your book").wait_for(timeout=UI_TIMEOUT_MS)
        send(page, "/customer C-99999999")
        page.get_by_text("No customer C-99999999").wait_for(timeout=UI_TIMEOUT_MS)
        send(page, "x" * 5000)
        page.get_by_text("question_too_long").wait_for(timeout=ANSWER_TIMEOUT_MS)
        screenshot(page, "07_refusals")
    finally:
        page.close()


def test_compliance_reviews_and_signs_off_the_answer(browser, app_server, journey, screenshot):
    if "trace_id" not in journey:
        pytest.fail("the advisor test did not produce an answer to review")
    trace_id = journey["trace_id"]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        login(page, app_server, "compliance1", "demo-compliance")
        page.get_by_text("Recent answers").first.wait_for(timeout=UI_TIMEOUT_MS)
        assert page.get_by_text(trace_id[:12]).count() >= 1
        send(page, "/review advisor=A-001 verdict=approved")
        page.get_by_text("advisor=A-001, verdict=approved").wait_for(timeout=UI_TIMEOUT_MS)
        screenshot(page, "08_review_list")
        send(page, f"/trace {trace_id[:12]}")
        page.get_by_text(f"Trace {trace_id}").wait_for(timeout=UI_TIMEOUT_MS)
        for section in ("Route", "Model", "Critic", "Findings", "Documents retrieved", "Feedback and reviews"):
            assert page.get_by_role("heading", name=section).count() >= 1, section
        page.get_by_role("button", name="Sign off").last.click()
        page.get_by_text("Comment for the sign-off").wait_for(timeout=UI_TIMEOUT_MS)
        send(page, "Offers match the findings; disclosures given.")
        page.get_by_text(re.compile(rf"Signed off trace {trace_id[:12]} by compliance1")).wait_for(
            timeout=UI_TIMEOUT_MS)
        screenshot(page, "09_trace_signed_off")
    finally:
        page.close()
    trail = _audit(app_server)
    try:
        signoffs = [r for r in trail.get(trace_id) if r.kind == "signoff"]
        assert signoffs and signoffs[-1].payload["reviewer"] == "compliance1"
        assert "disclosures given" in signoffs[-1].payload["comment"] and not trail.verify()
    finally:
        trail.close()


def test_history_resumes_after_a_restart(browser, app_server, journey, screenshot):
    if "thread_url" not in journey or "/thread/" not in journey["thread_url"]:
        pytest.fail("the advisor test did not leave a thread to resume")
    app_server.stop()
    app_server.start()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        login(page, app_server, "advisor1", "demo-advisor")
        page.get_by_text("Welcome, Advisor One").wait_for(timeout=UI_TIMEOUT_MS)
        page.goto(journey["thread_url"])
        page.get_by_text(QUESTION).first.wait_for(timeout=UI_TIMEOUT_MS)
        page.get_by_text(re.compile(rf"trace {journey['trace_id']}")).first.wait_for(timeout=UI_TIMEOUT_MS)
        page.locator(".js-plotly-plot").first.wait_for(timeout=UI_TIMEOUT_MS)
        # The resumed thread keeps its customer: a follow-up needs no /customer.
        send(page, "How is the credit utilisation?")
        page.get_by_text(re.compile(r"trace [0-9a-f]{32} · critic")).nth(1).wait_for(timeout=ANSWER_TIMEOUT_MS)
        screenshot(page, "10_resumed_thread")
    finally:
        page.close()
    trail = _audit(app_server)
    try:
        latest = trail.list(kind="answer", limit=1)[0]
        assert latest.customer_id == journey["customer_id"]
    finally:
        trail.close()
