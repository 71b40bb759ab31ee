"""The chat flows of the app on top of Chainlit: sessions, customer context, live steps,
answers with charts and sources, feedback and the compliance review.

``chainlit_app.py`` registers these coroutines as Chainlit callbacks. They call the
advisory runner (in a worker thread) and the audit trail, and render with
:mod:`ui.render`, :mod:`ui.charts` and :mod:`ui.review`; nothing here decides an
offer or computes a figure.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import chainlit as cl
from chainlit.utils import utc_now
from pydantic import BaseModel

from ui import charts, render, review
from ui.commands import ADVISOR_HELP, COMPLIANCE_HELP, Command, CommandError, looks_like_customer_id, parse_command
from ui.runtime import AppNotReady, get_runtime
from ui.users import AppUser

logger = logging.getLogger("advisor.ui")

OVERVIEW_QUESTION = "Give me an overview of this customer: spending profile, credit risk and mood."
SEARCH_RESULTS_SHOWN = 8
BOOK_BUTTONS_SHOWN = 6
REVIEW_BUTTONS_SHOWN = 8
COMMENT_TIMEOUT_S = 600
ADVISOR_PROFILE = "Advisor"
COMPLIANCE_PROFILE = "Compliance review"


class SessionUser(BaseModel):
    identifier: str
    role: str
    advisor_id: str | None = None
    display_name: str | None = None


# --- plumbing ---------------------------------------------------------------------------------
def guarded(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Turn any failure into a short message with an incident id; the app keeps serving."""

    @functools.wraps(handler)
    async def run(*args, **kwargs):
        try:
            return await handler(*args, **kwargs)
        except asyncio.CancelledError:
            raise
        except AppNotReady as error:
            await cl.Message(content=f"**The app is not ready:** {error}", author="System").send()
        except Exception:
            incident = uuid.uuid4().hex[:8]
            logger.exception("incident %s in %s", incident, handler.__name__)
            await cl.Message(content=f"**Something went wrong on our side** (incident `{incident}`). "
                                     "Nothing was lost; please try again. If it keeps happening, give the "
                                     "incident id to support.", author="System").send()

    return run


def session_user() -> SessionUser | None:
    """The logged-in user, with role and advisor id read again from the users file."""
    user = cl.user_session.get("user")
    if user is None:
        return None
    record = get_runtime().users().get(user.identifier)
    if record is None:
        return None
    return SessionUser(identifier=record.username, role=record.role, advisor_id=record.advisor_id,
                       display_name=record.display_name or record.username)


def chainlit_user(record: AppUser) -> cl.User:
    return cl.User(identifier=record.username, display_name=record.display_name or record.username,
                   metadata=record.chainlit_metadata())


def advisor_book(user: SessionUser) -> set[str]:
    book = cl.user_session.get("book")
    if not isinstance(book, frozenset):
        book = frozenset(get_runtime().runner.services.store.customers_of_advisor(user.advisor_id or ""))
        cl.user_session.set("book", book)
    return set(book)


async def persist_thread_context(name: str, **values: Any) -> None:
    """Name the thread and keep its context (the customer) with it, so a resumed thread has it."""
    from chainlit.data import get_data_layer

    data_layer = get_data_layer()
    thread_id = cl.context.session.thread_id
    if data_layer is not None and thread_id:
        await data_layer.update_thread(thread_id=thread_id, name=name, metadata=values)


# --- session start -------------------------------------------------------------------------
async def chat_profiles(user: cl.User | None) -> list[cl.ChatProfile]:
    if user is None:
        return []
    record = get_runtime().users().get(user.identifier)
    if record is not None and record.role == "compliance":
        return [cl.ChatProfile(name=COMPLIANCE_PROFILE, markdown_description="Review answers, traces and sign-offs.",
                               default=True)]
    return [cl.ChatProfile(name=ADVISOR_PROFILE, markdown_description="Ask about the customers of your book.",
                           default=True)]


@guarded
async def start_chat() -> None:
    user = session_user()
    if user is None:
        await cl.Message(content="Your account is not (or no longer) in the users file; ask an administrator.",
                         author="System").send()
        return
    if user.role == "compliance":
        await cl.Message(content=f"**Compliance review** — signed in as {user.display_name}.\n\n{COMPLIANCE_HELP}",
                         author="System").send()
        await show_review(review.ReviewFilter(limit=15))
        return
    book = advisor_book(user)
    store = get_runtime().runner.services.store
    first = sorted(book)[:BOOK_BUTTONS_SHOWN]
    actions = [cl.Action(name="choose_customer", payload={"customer_id": cid},
                         label=customer_label(store, cid), tooltip=f"Open {cid}") for cid in first]
    await cl.Message(
        content=(f"**Welcome, {user.display_name}** — book {user.advisor_id}, {len(book)} customers.\n\n"
                 "Choose a customer with `/customer C-00042` or `/customer NAME`, or open one below. "
                 "Type `/help` for everything else."),
        actions=actions, author="System").send()


@guarded
async def resume_chat(thread: dict) -> None:
    user = session_user()
    if user is None or user.role != "advisor":
        return
    metadata = thread.get("metadata") or {}
    customer_id = cl.user_session.get("customer_id") or (metadata.get("customer_id")
                                                          if isinstance(metadata, dict) else None)
    if customer_id and customer_id not in advisor_book(user):
        cl.user_session.set("customer_id", None)
        await cl.Message(content=f"Customer {customer_id} is no longer in your book; choose another one.",
                         author="System").send()
        return
    cl.user_session.set("customer_id", customer_id)


def customer_label(store, customer_id: str) -> str:
    customer = store.customer(customer_id)
    return f"{customer_id} · {customer.full_name}" if customer else customer_id


# --- messages -------------------------------------------------------------------------------
@guarded
async def on_message(message: cl.Message) -> None:
    user = session_user()
    if user is None:
        await cl.Message(content="Your account is not (or no longer) in the users file.", author="System").send()
        return
    try:
        command = parse_command(message.content or "")
    except CommandError as error:
        await cl.Message(content=f"{error}", author="System").send()
        return
    if command.name == "help":
        await cl.Message(content=COMPLIANCE_HELP if user.role == "compliance" else ADVISOR_HELP,
                         author="System").send()
    elif user.role == "compliance":
        await compliance_command(command)
    elif command.name in ("review", "trace"):
        await cl.Message(content="The review view is for compliance users.", author="System").send()
    elif command.name == "customer":
        await choose_customer(user, command.argument)
    else:
        await answer(user, command.argument)


# --- customer context -------------------------------------------------------------------------
async def choose_customer(user: SessionUser, query: str) -> None:
    store = get_runtime().runner.services.store
    book = advisor_book(user)
    if looks_like_customer_id(query):
        customer_id = query.strip().upper()
        if not await asyncio.to_thread(store.customer_exists, customer_id):
            await cl.Message(content=f"**No customer {customer_id}.** Check the id, or search by name with "
                                     "`/customer NAME`.", author="System").send()
            return
        if customer_id not in book:
            await cl.Message(content=f"**Customer {customer_id} is not in your book** ({user.advisor_id}); "
                                     "only your own customers can be opened. Ask their advisor.",
                             author="System").send()
            return
        await set_customer(user, customer_id)
        return
    found = await asyncio.to_thread(store.search_customers, query, 200)
    mine = [c for c in found if c.customer_id in book]
    if not mine:
        await cl.Message(content=f"No customer matching **{query}** in your book.", author="System").send()
        return
    if len(mine) == 1:
        await set_customer(user, mine[0].customer_id)
        return
    actions = [cl.Action(name="choose_customer", payload={"customer_id": c.customer_id},
                         label=f"{c.customer_id} · {c.full_name}") for c in mine[:SEARCH_RESULTS_SHOWN]]
    more = f" (first {SEARCH_RESULTS_SHOWN} shown; refine the name)" if len(mine) > SEARCH_RESULTS_SHOWN else ""
    await cl.Message(content=f"{len(mine)} customers in your book match **{query}**{more}. Choose one:",
                     actions=actions, author="System").send()


@guarded
async def on_choose_customer(action: cl.Action) -> None:
    user = session_user()
    if user is None or user.role != "advisor":
        return
    await choose_customer(user, str(action.payload.get("customer_id", "")))


async def set_customer(user: SessionUser, customer_id: str) -> None:
    """Make the customer the thread's context and show the header (facts now, overview when ready)."""
    cl.user_session.set("customer_id", customer_id)
    await persist_thread_context(f"Customer {customer_id}", customer_id=customer_id)
    store = get_runtime().runner.services.store
    facts = await asyncio.to_thread(customer_facts, store, customer_id)
    header = cl.Message(content=render.customer_header(customer_id, facts), author="Customer")
    await header.send()
    overview = await run_overview(user, customer_id)
    if overview is not None and "error" not in overview:
        header.content = render.customer_header(customer_id, facts, overview)
    else:
        header.content = render.customer_header(customer_id, facts, {}) + (
            f"\n\n*Overview not available: {overview['error']['message']}*" if overview else "")
    await header.update()


def customer_facts(store, customer_id: str) -> dict[str, Any]:
    """Non-identifying facts for the header: tenure, employment, products held."""
    customer = store.customer(customer_id)
    accounts = store.accounts(customer_id)
    open_accounts = accounts[accounts["status"].fillna("open") != "closed"] if not accounts.empty else accounts
    products = sorted({str(code) for code in open_accounts.get("product_code", []) if isinstance(code, str)})
    return {"tenure_months": customer.tenure_months if customer else None,
            "employment_status": customer.employment_status if customer else None, "products": products}


async def run_overview(user: SessionUser, customer_id: str) -> dict | None:
    runner = get_runtime().runner
    thread_id = f"{cl.context.session.thread_id}-overview"
    return await asyncio.to_thread(runner.ask, OVERVIEW_QUESTION, customer_id=customer_id, thread_id=thread_id,
                                   advisor_id=user.advisor_id, advisor_book=advisor_book(user))


# --- answering --------------------------------------------------------------------------------
class LiveSteps:
    """One Chainlit step per graph node: opened (running) when the route is known, closed
    with its key figures and tools when the node's update arrives."""

    def __init__(self, has_customer: bool):
        self.has_customer = has_customer
        self.steps: dict[str, cl.Step] = {}

    async def _open(self, node: str) -> cl.Step:
        # Children of the on_message run, so the steps show above the answer they lead to.
        parent = cl.context.current_step
        step = cl.Step(name=render.AGENT_LABELS.get(node, node), type="tool", show_input=False,
                       parent_id=parent.id if parent else None)
        step.start = utc_now()
        await step.send()
        self.steps[node] = step
        return step

    async def node_finished(self, node: str, update: dict) -> None:
        view = render.step_view(node, update)
        if view is None:
            return
        step = self.steps.get(node)
        if step is None or step.end is not None:
            step = await self._open(node)
        step.output = view.markdown()
        step.is_error = view.failed
        step.end = utc_now()
        await step.update()
        if node == "supervisor":
            route = render.plain(update.get("route") or {})
            # The critic too: a streamed answer shows as soon as the composer writes, and steps
            # opened later would show below it.
            for name in ["retrieve", *render.expected_steps(route.get("agents") or [], self.has_customer),
                         "composer", "critic"]:
                await self._open(name)

    async def close_unfinished(self) -> None:
        for step in self.steps.values():
            if step.end is None:
                step.output = step.output or "not run"
                step.end = utc_now()
                await step.update()


def _accepts(function: Callable, parameter: str) -> bool:
    return parameter in inspect.signature(function).parameters


async def run_with_events(ask: Callable[..., dict], on_event: Callable[[str, Any, Any], Awaitable[None]],
                          **kwargs: Any) -> dict:
    """Run the synchronous ``ask`` in a worker thread, feeding its node (and token) callbacks
    to ``on_event`` on the event loop, in order, as they happen."""
    loop = asyncio.get_running_loop()
    events: asyncio.Queue = asyncio.Queue()

    def on_node(node: str, update: dict) -> None:
        loop.call_soon_threadsafe(events.put_nowait, ("node", node, update))

    def on_token(token: str) -> None:
        loop.call_soon_threadsafe(events.put_nowait, ("token", token, None))

    extra = {"on_token": on_token} if _accepts(ask, "on_token") else {}
    worker = asyncio.ensure_future(asyncio.to_thread(ask, on_node=on_node, **extra, **kwargs))
    while True:
        getter = asyncio.ensure_future(events.get())
        done, _ = await asyncio.wait({worker, getter}, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            await on_event(*getter.result())
            continue
        getter.cancel()
        while not events.empty():
            await on_event(*events.get_nowait())
        return worker.result()


async def answer(user: SessionUser, question: str) -> None:
    runner = get_runtime().runner
    customer_id = cl.user_session.get("customer_id")
    book = advisor_book(user)
    steps = LiveSteps(has_customer=customer_id is not None)
    final = cl.Message(content="", author="Advisor")
    streamed = False

    async def on_event(kind: str, first: Any, second: Any) -> None:
        nonlocal streamed
        if kind == "node":
            await steps.node_finished(first, second)
        elif kind == "token":
            streamed = True
            await final.stream_token(first)

    try:
        result = await run_with_events(runner.ask, on_event, question=question, customer_id=customer_id,
                                       thread_id=cl.context.session.thread_id, advisor_id=user.advisor_id,
                                       advisor_book=book)
    except Exception:
        if streamed:  # no half-written answer stays on screen
            await final.remove()
        raise
    finally:
        await steps.close_unfinished()
    if "error" in result:
        if streamed:
            await final.remove()
        await cl.Message(content=render.error_markdown(result["error"]), author="System").send()
        return
    # The answer of record (revised or blocked by the critic, with its table, disclosures and
    # sources) replaces whatever was streamed; send() also ends the stream and persists it.
    final.content = render.answer_markdown(result)
    # Plotly validates each figure (tens of ms): off the event loop, which serves every session.
    final.elements = await asyncio.to_thread(answer_elements, result)
    final.metadata = {"trace_id": result["trace_id"], "customer_id": result.get("customer_id")}
    await final.send()
    # The browser attaches feedback to the run (the on_message step) that holds the answer,
    # so the run carries the trace id too; it is persisted when the run ends.
    traces = cl.user_session.get("traces") or {}
    traces[final.id] = result["trace_id"]
    run = cl.context.current_step
    if run is not None:
        run.metadata = {**(run.metadata or {}), "trace_id": result["trace_id"]}
        traces[run.id] = result["trace_id"]
    cl.user_session.set("traces", traces)


def answer_elements(result: dict) -> list:
    shown = (result.get("sources") or [])[:render.MAX_SOURCES_SHOWN]
    elements: list = [cl.Text(name=render.source_name(rank), content=render.source_text(source), display="side")
                      for rank, source in enumerate(shown, 1)]
    findings = result.get("findings") or {}
    spending = findings.get("spending") or {}
    if spending.get("available", True) and spending.get("monthly_by_category"):
        figure = charts.spending_by_month_figure(spending["monthly_by_category"])
        if figure is not None:
            elements.append(cl.Plotly(name="spending_by_month", figure=figure, display="inline", size="large"))
    credit = findings.get("credit") or {}
    if credit.get("available", True) and credit.get("accounts"):
        figure = charts.utilisation_figure(credit["accounts"])
        if figure is not None:
            elements.append(cl.Plotly(name="credit_utilisation", figure=figure, display="inline", size="large"))
    return elements


# --- feedback -------------------------------------------------------------------------------
async def on_feedback(feedback) -> None:
    """Record a thumbs up/down against the answer's trace (and its offers, for ranking)."""
    from graph.feedback import record_offer_feedback, refresh_feedback

    trace_id = (cl.user_session.get("traces") or {}).get(feedback.forId) or await _trace_of_step(feedback.forId)
    if not trace_id:
        return
    user = session_user()
    runtime = get_runtime()
    try:
        await asyncio.to_thread(record_offer_feedback, runtime.settings, trace_id, feedback.value,
                                feedback.comment or "", user.advisor_id if user else None, runtime.runner.audit)
    except KeyError:
        logger.warning("feedback on unknown trace %s", trace_id)
        return
    refresh_feedback(runtime.runner.services)


async def _trace_of_step(step_id: str) -> str | None:
    from chainlit.data import get_data_layer

    data_layer = get_data_layer()
    step = await data_layer.get_step(step_id) if data_layer else None
    metadata = (step or {}).get("metadata") or {}
    return metadata.get("trace_id") if isinstance(metadata, dict) else None


# --- compliance review -----------------------------------------------------------------------
async def compliance_command(command: Command) -> None:
    if command.name == "review":
        try:
            review_filter = review.parse_review_filter(command.argument)
        except review.ReviewArgumentError as error:
            await cl.Message(content=f"{error}", author="System").send()
            return
        await show_review(review_filter)
    elif command.name == "trace":
        await show_trace(command.argument.strip().lower())
    elif command.name == "customer":
        await cl.Message(content="Compliance reviews answers: use `/review customer=C-00042`.",
                         author="System").send()
    else:
        await cl.Message(content="This is the review profile: use `/review` or `/trace TRACE_ID` (`/help`).",
                         author="System").send()


async def show_review(review_filter: review.ReviewFilter) -> None:
    audit = get_runtime().runner.audit
    answers = await asyncio.to_thread(audit.list, advisor_id=review_filter.advisor_id,
                                      customer_id=review_filter.customer_id, verdict=review_filter.verdict,
                                      since=review_filter.since, kind="answer", limit=review_filter.limit)
    followups = []
    for kind in ("signoff", "flag", "feedback"):
        followups += await asyncio.to_thread(audit.list, kind=kind, limit=1000)
    grouped = review.reviews_by_trace(followups)
    actions = [cl.Action(name="open_trace", payload={"trace_id": a.trace_id},
                         label=f"Open {a.trace_id[:8]} ({a.customer_id or 'no customer'})")
               for a in answers[:REVIEW_BUTTONS_SHOWN]]
    content = (f"### Recent answers ({review_filter.describe()})\n{review.summary_counts(answers)}\n\n"
               + review.review_table(answers, grouped))
    await cl.Message(content=content, actions=actions, author="Review").send()


async def resolve_trace_id(prefix: str) -> str | None:
    if not review.TRACE_ID_PATTERN.match(prefix):
        return None
    audit = get_runtime().runner.audit
    if await asyncio.to_thread(audit.get, prefix):
        return prefix
    recent = await asyncio.to_thread(audit.list, kind="answer", limit=5000)
    matches = {r.trace_id for r in recent if r.trace_id.startswith(prefix)}
    return matches.pop() if len(matches) == 1 else None


async def show_trace(trace_prefix: str) -> None:
    trace_id = await resolve_trace_id(trace_prefix)
    if trace_id is None:
        await cl.Message(content=f"No single answer with trace id **{trace_prefix}**; copy the id from `/review`.",
                         author="System").send()
        return
    records = await asyncio.to_thread(get_runtime().runner.audit.get, trace_id)
    actions = [cl.Action(name="review_decision", payload={"trace_id": trace_id, "decision": "signoff"},
                         label="Sign off", icon="check"),
               cl.Action(name="review_decision", payload={"trace_id": trace_id, "decision": "flag"},
                         label="Flag", icon="flag")]
    await cl.Message(content=review.trace_markdown(records), actions=actions, author="Review").send()


@guarded
async def on_open_trace(action: cl.Action) -> None:
    user = session_user()
    if user is None or user.role != "compliance":
        return
    await show_trace(str(action.payload.get("trace_id", "")))


@guarded
async def on_review_decision(action: cl.Action) -> None:
    user = session_user()
    if user is None or user.role != "compliance":
        await cl.Message(content="Only compliance users can sign off answers.", author="System").send()
        return
    trace_id = str(action.payload.get("trace_id", ""))
    decision = str(action.payload.get("decision", ""))
    if decision not in ("signoff", "flag"):
        return
    verb = "sign-off" if decision == "signoff" else "flag"
    reply = await cl.AskUserMessage(content=f"Comment for the {verb} of trace `{trace_id[:12]}` "
                                            "(type `-` for none):", timeout=COMMENT_TIMEOUT_S).send()
    if reply is None:
        await cl.Message(content=f"No comment received; the {verb} was not recorded.", author="System").send()
        return
    comment = str(reply.get("output", "")).strip()
    comment = "" if comment == "-" else comment
    audit = get_runtime().runner.audit
    try:
        record = await asyncio.to_thread(audit.signoff, trace_id, user.identifier, decision, comment)
    except (KeyError, ValueError) as error:
        await cl.Message(content=f"Not recorded: {error}", author="System").send()
        return
    label = "Signed off" if decision == "signoff" else "Flagged"
    await cl.Message(content=f"**{label}** trace `{trace_id[:12]}` by **{user.identifier}** at "
                             f"{record.created_at} (audit record #{record.seq}).", author="Review").send()
    await action.remove()
