"""The advisor's Chainlit app: `chainlit run chainlit_app.py --headless --host 127.0.0.1 --port 8000`.

Thin by design: it registers Chainlit callbacks and hands each one to :mod:`ui.chat`,
which calls the advisory graph and renders its answer. Users and roles come from
``settings.users_file``; threads and feedback persist in ``settings.ui_database_url``.
"""

from __future__ import annotations

import asyncio

import chainlit as cl

from ui import chat
from ui.datalayer import make_data_layer
from ui.runtime import close_runtime, get_runtime, prepare_process
from ui.users import UsersFileError, authenticate

# The entry point's one-time set-up: offline environment and the login-token secret
# (Chainlit checks it right after importing this module).
prepare_process()


@cl.data_layer
def data_layer():
    return make_data_layer(get_runtime().settings.ui_database_url)


@cl.on_app_startup
async def startup() -> None:
    # Models load in the background; the server answers /health at once.
    asyncio.get_running_loop().run_in_executor(None, get_runtime().warm_up)


@cl.on_app_shutdown
async def shutdown() -> None:
    close_runtime()


@cl.password_auth_callback
async def login(username: str, password: str) -> cl.User | None:
    try:
        users = get_runtime().users()
    except (UsersFileError, OSError):
        chat.logger.exception("cannot read the users file")
        return None
    record = await asyncio.to_thread(authenticate, users, username, password)
    return chat.chainlit_user(record) if record else None


@cl.set_chat_profiles
async def chat_profiles(user: cl.User | None) -> list[cl.ChatProfile]:
    return await chat.chat_profiles(user)


@cl.on_chat_start
async def on_chat_start() -> None:
    await chat.start_chat()


@cl.on_chat_resume
async def on_chat_resume(thread: cl.types.ThreadDict) -> None:
    await chat.resume_chat(thread)


@cl.on_message
async def on_message(message: cl.Message) -> None:
    await chat.on_message(message)


@cl.action_callback("choose_customer")
async def on_choose_customer(action: cl.Action) -> None:
    await chat.on_choose_customer(action)


@cl.action_callback("open_trace")
async def on_open_trace(action: cl.Action) -> None:
    await chat.on_open_trace(action)


@cl.action_callback("review_decision")
async def on_review_decision(action: cl.Action) -> None:
    await chat.on_review_decision(action)


@cl.on_feedback
async def on_feedback(feedback) -> None:
    await chat.on_feedback(feedback)
