"""Load test: concurrent advisor sessions against the graph and against the Chainlit app. Prints JSON.

Two targets, each reporting turns, turns/s, p50/p95/max latency, errors and whether the
targets (0 errors, p95 within ``--target-p95-ms``) are met:

- ``graph``: ``--sessions`` threads share one :class:`graph.runner.AdvisorRunner` (as one
  app process does) and ask question after question for ``--duration`` seconds, each
  session on its own customer and conversation thread;
- ``chainlit``: ``--sessions`` socket.io clients log in through Chainlit's password login
  (``POST /login``, as the sign-in form does), connect as the browser does, open a customer
  from the welcome message's buttons with ``/customer C-...`` (which runs the overview) and
  then ask questions; a turn lasts from the message sent to the server's ``task_end``.
  The app is the one at ``--url`` (started there with ``--home`` if it is down and
  ``--start-if-down`` is given, and then stopped at the end), or without ``--url`` one
  started here on a free port with a load-test user added to a users file under ``--home``.

Both targets ask one question first that is not counted (models load on the first one).
The state folder is ``--home`` (default: a temporary one). A folder without a data store
gets a generated bank (``--customers``) ingested first. Bounded: at most 200 sessions and
1,800 seconds, and no turn waits more than 120 s.

``--think`` adds a pause between a session's turns (an advisor reading the answer), drawn
uniformly from 0.5x to 1.5x of it, and sessions start spread over one such pause, so they
do not fire in lockstep; 0, the default, sends turns back to back: the saturation case.

Usage:
    python bench/load.py graph --sessions 20 --duration 120
    python bench/load.py chainlit --sessions 20 --duration 120       # an app of its own
    python bench/load.py all --home .advisor --url http://127.0.0.1:8000 --user advisor1 \
        --password demo-advisor --start-if-down                       # what `make load` runs
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, Field

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

MAX_SESSIONS = 200
MAX_DURATION_S = 1800
TURN_TIMEOUT_S = 120.0
QUESTIONS = (
    "Customer called about her card balance, what can I offer?",
    "How is the customer's spending trending and where could they save?",
    "What is the credit risk and why?",
    "Any subscriptions the customer could cancel?",
    "How does the customer feel about the bank lately?",
    "Which savings product fits this customer?",
    "What must I disclose before offering a personal loan?",
    "Is the customer eligible for a balance transfer card?",
)
LOAD_USER = "loadtest"
INCIDENT = re.compile(r"incident `[0-9a-f]+`")
LOAD_ADVISOR = "A-001"


class LoadReport(BaseModel):
    target: str
    sessions: int
    duration_s: float
    turns: int
    turns_per_s: float
    latency_ms: dict[str, float] = Field(description="p50, p95, max and mean of the turns' latency.")
    errors: int
    error_samples: list[str] = Field(default_factory=list)
    server_errors: int | None = Field(None, description="Tracebacks and lost data-layer writes in the log of a "
                                                       "server started here.")
    server_error_samples: list[str] = Field(default_factory=list)
    think_s: float = Field(0.0, description="Pause of each session between its turns (0: back to back).")
    target_p95_ms: float = 1000.0
    meets_targets: bool = Field(False, description="No errors and p95 latency within target_p95_ms.")
    backend: str = "offline"
    cpu_count: int = Field(default_factory=lambda: os.cpu_count() or 0)
    load_average: list[float] = Field(default_factory=lambda: [round(x, 2) for x in os.getloadavg()],
                                      description="The machine's 1/5/15-minute load when the run ended.")

    def judge(self, target_p95_ms: float) -> LoadReport:
        self.target_p95_ms = target_p95_ms
        self.meets_targets = (self.turns > 0 and self.errors == 0 and not self.server_errors
                              and self.latency_ms["p95"] <= target_p95_ms)
        return self


def pause(think_s: float, rng: random.Random) -> float:
    """One advisor's reading time before the next question."""
    return rng.uniform(0.5 * think_s, 1.5 * think_s) if think_s else 0.0


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * (len(ordered) - 1))))
    return ordered[rank]


def summarise(target: str, sessions: int, elapsed: float, latencies: list[float], errors: list[str],
              backend: str, think_s: float) -> LoadReport:
    return LoadReport(
        target=target, sessions=sessions, duration_s=round(elapsed, 2), turns=len(latencies),
        turns_per_s=round(len(latencies) / elapsed, 3) if elapsed else 0.0,
        latency_ms={"p50": round(percentile(latencies, 0.50) * 1000, 1),
                    "p95": round(percentile(latencies, 0.95) * 1000, 1),
                    "max": round(max(latencies, default=0.0) * 1000, 1),
                    "mean": round(statistics.fmean(latencies) * 1000, 1) if latencies else 0.0},
        errors=len(errors), error_samples=sorted({INCIDENT.sub("incident", e) for e in errors})[:10],
        backend=backend, think_s=think_s)


# --- the state folder ----------------------------------------------------------------------------


def prepare_home(settings, customers: int) -> None:
    """Generate and ingest a bank when the folder has no data store yet."""
    if settings.store_path.exists():
        return
    from advisor import services
    from bank.generator import generate_bank
    from bank.ingest import Ingestor

    generate_bank(customers=customers, months=12, seed=42, out_dir=settings.data_dir)
    store = services.open_store(settings)
    try:
        Ingestor(store, services.open_chroma(settings), services.text_encoder(settings),
                 services.knowledge_base(settings), batch_size=settings.ingest_batch_size).run(settings.data_dir)
    finally:
        store.close()


def book_of(settings, advisor_id: str) -> list[str]:
    from advisor import services

    store = services.open_store(settings)
    try:
        return store.customers_of_advisor(advisor_id)
    finally:
        store.close()


# --- graph target -----------------------------------------------------------------------------------


def run_graph_load(settings, sessions: int, duration_s: float, think_s: float = 0.0,
                   advisor_id: str = LOAD_ADVISOR) -> LoadReport:
    from graph.runner import open_runner

    book = book_of(settings, advisor_id)
    if not book:
        raise SystemExit(f"advisor {advisor_id} has no customers in {settings.store_path}")
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    with open_runner(settings) as runner:
        runner.services.warm_up()
        runner.ask(QUESTIONS[0], book[0], f"load-warmup-{uuid.uuid4().hex}", advisor_id=advisor_id)
        start_gate = threading.Barrier(sessions + 1)
        deadline_box: list[float] = []

        def session(number: int) -> None:
            customer = book[number % len(book)]
            thread_id = f"load-{number}-{uuid.uuid4().hex[:8]}"
            turn = number
            rng = random.Random(number)
            start_gate.wait()
            time.sleep(rng.uniform(0, think_s))
            while time.perf_counter() < deadline_box[0]:
                question = QUESTIONS[turn % len(QUESTIONS)]
                turn += 1
                clock = time.perf_counter()
                try:
                    result = runner.ask(question, customer, thread_id, advisor_id=advisor_id,
                                        advisor_book=set(book))
                    failure = result["error"]["code"] if "error" in result else None
                except Exception as error:  # a load test counts every failure, whatever it is
                    failure = f"{type(error).__name__}: {error}"[:200]
                elapsed = time.perf_counter() - clock
                with lock:
                    if failure:
                        errors.append(failure)
                    else:
                        latencies.append(elapsed)
                time.sleep(min(pause(think_s, rng), max(0.0, deadline_box[0] - time.perf_counter())))

        workers = [threading.Thread(target=session, args=(n,), daemon=True) for n in range(sessions)]
        for worker in workers:
            worker.start()
        started = time.perf_counter()
        deadline_box.append(started + duration_s)
        start_gate.wait()
        for worker in workers:
            worker.join(timeout=duration_s + TURN_TIMEOUT_S)
        elapsed = time.perf_counter() - started
    return summarise("graph", sessions, elapsed, latencies, errors, settings.llm_backend, think_s)


# --- chainlit target -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def add_load_user(settings, users_file: Path, password: str, advisor_id: str = LOAD_ADVISOR) -> None:
    from ui.users import AppUser, hash_password, save_user

    save_user(users_file, AppUser(username=LOAD_USER, role="advisor", advisor_id=advisor_id,
                                  display_name="Load test", password_hash=hash_password(password)))


# Chainlit's SQL data layer logs a failed write as one warning line and drops it.
LOST_WRITE = re.compile(r"An (unexpected )?error occurred: ")


def server_errors(log: Path) -> tuple[int, list[str]]:
    """Tracebacks and lost data-layer writes in a server log, with the distinct exceptions."""
    lines = log.read_text(errors="replace").splitlines()
    count, samples = 0, []
    for number, line in enumerate(lines):
        lost = LOST_WRITE.search(line)
        if lost:
            count += 1
            sample = f"data layer: {line[lost.start():][:180]}"
            if sample not in samples:
                samples.append(sample)
        elif line.startswith("Traceback"):
            count += 1
            tail = next((later for later in lines[number + 1:] if later and not later.startswith((" ", "\t"))),
                        "")
            if tail and tail not in samples:
                samples.append(tail[:200])
    return count, samples[:10]


@contextmanager
def chainlit_server(home: Path, port: int, users_file: Path | None = None, startup_timeout_s: float = 300.0
                    ) -> Iterator[tuple[str, Path]]:
    """`chainlit run chainlit_app.py` on 127.0.0.1 in its own process group; stopped on exit.
    Yields the URL and the server's log file. Without ``users_file`` the app uses its own
    (the demo users)."""
    import httpx

    env = {**os.environ, "ADVISOR_HOME": str(home), "PYTHONPATH": str(REPO_ROOT), "CHAINLIT_TELEMETRY": "false"}
    if users_file is not None:
        env["ADVISOR_USERS_FILE"] = str(users_file)
    log = tempfile.NamedTemporaryFile(prefix="chainlit-load-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "chainlit", "run", "chainlit_app.py", "--headless", "--host", "127.0.0.1",
         "--port", str(port)], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the Chainlit server exited ({process.returncode}); see {log.name}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the Chainlit server did not start within {startup_timeout_s:.0f}s; "
                                 f"see {log.name}")
            time.sleep(0.5)
        yield url, Path(log.name)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def app_is_up(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def loopback_port(url: str) -> int:
    """The port of a URL on this machine; the load test starts servers on loopback only."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost") or not parts.port:
        raise SystemExit(f"--url must be http://127.0.0.1:PORT to start the app there, not {url}")
    return parts.port


class ChatSession:
    """One browser tab's worth of Chainlit protocol over socket.io: connect with the login
    cookie, take the customers offered by the welcome message's buttons, send messages."""

    def __init__(self, url: str, cookie: str, user: str):
        import socketio

        self.url = url
        self.cookie = cookie
        self.user = user
        self.client = socketio.AsyncClient(reconnection=False)
        self.thread_id = str(uuid.uuid4())
        self.task_ended = asyncio.Event()
        self.messages: list[dict] = []
        self.customers: list[str] = []
        self.client.on("task_end", self._task_end)
        self.client.on("new_message", self._message)
        self.client.on("action", self._action)

    async def _task_end(self, *_args) -> None:
        self.task_ended.set()

    async def _message(self, step: dict, *_args) -> None:
        self.messages.append(step)

    async def _action(self, action: dict, *_args) -> None:
        if action.get("name") == "choose_customer":
            self.customers.append(str((action.get("payload") or {}).get("customer_id")))

    async def connect(self) -> None:
        await self.client.connect(
            self.url, socketio_path="/ws/socket.io", transports=["websocket"], headers={"Cookie": self.cookie},
            auth={"sessionId": str(uuid.uuid4()), "clientType": "webapp", "userEnv": "{}", "threadId": None})
        self.task_ended.clear()
        await self.client.emit("connection_successful")
        await asyncio.wait_for(self._welcomed(), TURN_TIMEOUT_S)

    async def _welcomed(self) -> None:
        """The chat start has sent its greeting and the book's customer buttons
        (on_chat_start runs outside task start/end)."""
        while not self.customers:
            if any("users file" in str(m.get("output", "")) or "not ready" in str(m.get("output", ""))
                   for m in self.messages):
                raise RuntimeError(f"the app turned the session away: {self.messages[-1].get('output', '')[:160]}")
            await asyncio.sleep(0.05)

    async def say(self, text: str) -> float:
        """Send a message; seconds until the server ends the task it started."""
        self.task_ended.clear()
        before = len(self.messages)
        step = {"id": str(uuid.uuid4()), "threadId": self.thread_id, "name": self.user, "type": "user_message",
                "output": text, "createdAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}
        clock = time.perf_counter()
        await self.client.emit("client_message", {"message": step, "fileReferences": []})
        await asyncio.wait_for(self.task_ended.wait(), TURN_TIMEOUT_S)
        elapsed = time.perf_counter() - clock
        replies = [m for m in self.messages[before:] if m.get("type") != "user_message"]
        if not any(str(m.get("output") or "").strip() for m in replies):
            raise RuntimeError("the turn ended without an answer")
        failed = [m for m in replies if "went wrong" in str(m.get("output", "")) or m.get("isError")
                  or str(m.get("output", "")).startswith(("**Cannot answer**", "**The app is not ready"))]
        if failed:
            raise RuntimeError(f"the app reported an error: {str(failed[-1].get('output', ''))[:160]}")
        return elapsed

    async def close(self) -> None:
        await self.client.disconnect()


async def login(url: str, user: str, password: str) -> str:
    """Chainlit's password login, as the browser's sign-in form posts it; returns the cookie."""
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.post("/login", data={"username": user, "password": password})
        response.raise_for_status()
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


async def chainlit_load(url: str, user: str, password: str, sessions: int, duration_s: float,
                        think_s: float = 0.0) -> LoadReport:
    cookie = await login(url, user, password)
    # One turn first, not counted: the app loads its models on the first question.
    warmup = ChatSession(url, cookie, user)
    await warmup.connect()
    await warmup.say(f"/customer {warmup.customers[0]}")
    await warmup.say(QUESTIONS[0])
    await warmup.close()

    latencies: list[float] = []
    errors: list[str] = []
    chats = [ChatSession(url, cookie, user) for _ in range(sessions)]
    opened = await asyncio.gather(*(c.connect() for c in chats), return_exceptions=True)
    live = [c for c, result in zip(chats, opened) if not isinstance(result, BaseException)]
    errors += [f"connect: {type(r).__name__}: {r}"[:200] for r in opened if isinstance(r, BaseException)]
    started = time.perf_counter()
    deadline = started + duration_s

    async def session(number: int, chat: ChatSession) -> None:
        # The first turn opens a customer from the welcome's buttons, which runs the overview.
        messages = [f"/customer {chat.customers[number % len(chat.customers)]}"]
        rng = random.Random(number)
        await asyncio.sleep(rng.uniform(0, think_s))
        turn = number
        while time.perf_counter() < deadline:
            text = messages.pop() if messages else QUESTIONS[turn % len(QUESTIONS)]
            try:
                latencies.append(await chat.say(text))
            except Exception as error:  # counted, and the session goes on
                errors.append(f"{type(error).__name__}: {error}"[:200])
            turn += 1
            await asyncio.sleep(min(pause(think_s, rng), max(0.0, deadline - time.perf_counter())))

    await asyncio.gather(*(session(n, c) for n, c in enumerate(live)))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(c.close() for c in live), return_exceptions=True)
    return summarise("chainlit", sessions, elapsed, latencies, errors, "", think_s)


def run_chainlit_load(settings, sessions: int, duration_s: float, url: str | None = None, user: str | None = None,
                      password: str | None = None, start_if_down: bool = False, think_s: float = 0.0
                      ) -> LoadReport:
    """Against the app at ``url`` (started there first when it is down and ``start_if_down``,
    and stopped afterwards), or without ``url`` against an app of its own with a load-test user."""
    def measured(server_url: str, login_user: str, login_password: str, log: Path | None) -> LoadReport:
        report = asyncio.run(chainlit_load(server_url, login_user, login_password, sessions, duration_s, think_s))
        report.backend = settings.llm_backend
        if log is not None:
            report.server_errors, report.server_error_samples = server_errors(log)
        return report

    if url is None:
        password = secrets.token_urlsafe(12)
        users_file = settings.home / "load-users.toml"
        add_load_user(settings, users_file, password)
        with chainlit_server(settings.home, free_port(), users_file) as (server_url, log):
            return measured(server_url, LOAD_USER, password, log)
    if not user or not password:
        raise SystemExit("give --user and --password of an advisor of the app at --url")
    url = url.rstrip("/")
    if app_is_up(url):
        return measured(url, user, password, None)
    if not start_if_down:
        raise SystemExit(f"no app answers at {url}; start it (make demo) or add --start-if-down")
    with chainlit_server(settings.home, loopback_port(url)) as (server_url, log):
        return measured(server_url, user, password, log)


# --- entry point -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", choices=("graph", "chainlit", "all"))
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--duration", type=float, default=120.0, help="Seconds of load per target.")
    parser.add_argument("--think", type=float, default=0.0,
                        help="Seconds each session waits between turns (0: back to back, the worst case).")
    parser.add_argument("--home", type=Path, default=None, help="State folder (default: a temporary one).")
    parser.add_argument("--customers", type=int, default=200, help="Bank size when one is generated.")
    parser.add_argument("--url", default=None,
                        help="The Chainlit app to load (default: one started here on a free port with a "
                             "load-test user).")
    parser.add_argument("--user", default=None, help="An advisor of the app at --url.")
    parser.add_argument("--password", default=None, help="That advisor's password.")
    parser.add_argument("--start-if-down", action="store_true",
                        help="Start the app at --url (127.0.0.1) with --home when it is not running; "
                             "it is stopped at the end.")
    parser.add_argument("--out", type=Path, default=None, help="Also write the JSON report here.")
    parser.add_argument("--target-p95-ms", type=float, default=1000.0, help="The p95 latency target.")
    args = parser.parse_args()
    if not (1 <= args.sessions <= MAX_SESSIONS and 1 <= args.duration <= MAX_DURATION_S
            and 0 <= args.think <= 600):
        parser.error(f"--sessions must be 1..{MAX_SESSIONS}, --duration 1..{MAX_DURATION_S} and --think 0..600")

    from advisor.settings import Settings, apply_process_environment

    with tempfile.TemporaryDirectory(prefix="bench-load-") as scratch:
        home = args.home or Path(scratch) / "home"
        settings = Settings(home=home)
        apply_process_environment(settings)
        settings.ensure_home()
        prepare_home(settings, args.customers)
        reports = []
        if args.target in ("graph", "all"):
            reports.append(run_graph_load(settings, args.sessions, args.duration, args.think))
        if args.target in ("chainlit", "all"):
            reports.append(run_chainlit_load(settings, args.sessions, args.duration, args.url, args.user,
                                             args.password, args.start_if_down, args.think))
    payload = [r.judge(args.target_p95_ms).model_dump() for r in reports]
    text = json.dumps(payload if len(payload) > 1 else payload[0], indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
