"""Throwaway PostgreSQL and Chroma servers on 127.0.0.1 for the integration tests.

Each context manager starts a real server on a free port in a fresh temporary folder,
waits until it answers, yields how to reach it, and stops it (and deletes the folder)
when the block ends, whether the tests passed or not.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.openai_server import free_port

POSTGRES_PROGRAMS = ("initdb", "pg_ctl", "postgres")
START_ATTEMPTS = 3  # a free port can be taken by someone else before the server binds it


class ServerDidNotStart(RuntimeError):
    """A server was found but would not start; the message carries the end of its log."""


# --- PostgreSQL ----------------------------------------------------------------------------------------


def postgres_bin_dir() -> Path | None:
    """The folder of initdb/pg_ctl/postgres: from PATH, else the newest /usr/lib/postgresql/*/bin."""
    on_path = shutil.which("initdb")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                         key=lambda folder: int(folder.parent.name) if folder.parent.name.isdigit() else 0,
                         reverse=True)
    for folder in candidates:
        if all(os.access(folder / program, os.X_OK) for program in POSTGRES_PROGRAMS):
            return folder
    return None


def server_account() -> str | None:
    """The account PostgreSQL runs as: None for ourselves; as root (which initdb refuses),
    the ``postgres`` account when there is one, else ``nobody``."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    return None


def _as_account(account: str | None, command: list[str]) -> list[str]:
    return command if account is None else ["runuser", "-u", account, "--", *command]


def _run(command: list[str], timeout_s: float) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextmanager
def running_postgres(database: str = "advisor", timeout_s: float = 60.0) -> Iterator[str]:
    """A fresh PostgreSQL cluster on 127.0.0.1 with ``database`` created; yields its postgresql:// URL.

    Skips the test when the server programs are missing (``scripts/install_postgres.sh``
    installs them) or when running as root without a way to switch to another account.
    """
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server programs (initdb, pg_ctl, postgres) not found on PATH or in "
                    "/usr/lib/postgresql/*/bin; run scripts/install_postgres.sh")
    account = server_account()
    if os.geteuid() == 0 and (account is None or shutil.which("runuser") is None):
        pytest.skip("running as root, which initdb refuses, and no runuser or unprivileged account "
                    "(postgres, nobody) to run PostgreSQL as")
    # Not under pytest's tmp folder: its parents are private to us and the server account must reach it.
    folder = Path(tempfile.mkdtemp(prefix="advisor-pg-"))
    if account is not None:
        shutil.chown(folder, account)
    data, log = folder / "data", folder / "server.log"
    started = False
    try:
        done = _run(_as_account(account, [str(bin_dir / "initdb"), "-D", str(data), "-U", "advisor", "-A", "trust",
                                          "-E", "UTF8", "--locale=C", "--no-sync"]), timeout_s)
        if done.returncode != 0:
            raise ServerDidNotStart(f"initdb failed ({done.returncode}): {done.stderr[-2000:]}")
        for _ in range(START_ATTEMPTS):
            port = free_port()
            options = (f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off -c synchronous_commit=off "
                       "-c full_page_writes=off -c max_connections=50")
            done = _run(_as_account(account, [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
                                              "-t", str(int(timeout_s)), "-o", options, "start"]), timeout_s + 10)
            if done.returncode == 0:
                started = True
                break
        if not started:
            raise ServerDidNotStart(f"pg_ctl start failed {START_ATTEMPTS} times: {done.stderr[-1000:]}\n"
                                    f"{_log_tail(log)}")
        _create_database(f"postgresql://advisor@127.0.0.1:{port}/postgres", database)
        yield f"postgresql://advisor@127.0.0.1:{port}/{database}"
    finally:
        if started:
            _stop_postgres(account, bin_dir, data)
        shutil.rmtree(folder, ignore_errors=True)


def _stop_postgres(account: str | None, bin_dir: Path, data: Path) -> None:
    """``pg_ctl stop -m fast``; ``-m immediate`` if the server is still up after 30 s."""
    for mode in ("fast", "immediate"):
        command = [str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-t", "30", "-m", mode, "stop"]
        try:
            if _run(_as_account(account, command), 40).returncode == 0:
                return
        except subprocess.TimeoutExpired:
            continue


def _create_database(admin_url: str, database: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


# --- Chroma ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChromaServer:
    host: str
    port: int
    path: Path
    log: Path


def chroma_program() -> Path | None:
    """The ``chroma`` command of this virtual environment (from the chromadb package)."""
    beside_python = Path(sys.executable).with_name("chroma")
    if beside_python.exists():
        return beside_python
    found = shutil.which("chroma")
    return Path(found) if found else None


def _heartbeat(host: str, port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/api/v2/heartbeat", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _stop_process(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


@contextmanager
def running_chroma(timeout_s: float = 60.0) -> Iterator[ChromaServer]:
    """``chroma run --path DIR --host 127.0.0.1 --port P`` until the block ends."""
    program = chroma_program()
    if program is None:
        pytest.skip("the `chroma` command (chromadb package) is not installed in this environment")
    folder = Path(tempfile.mkdtemp(prefix="advisor-chroma-"))
    log_path = folder / "server.log"
    environment = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "NO_COLOR": "1"}
    process: subprocess.Popen | None = None
    try:
        for _ in range(START_ATTEMPTS):
            port = free_port()
            with open(log_path, "ab") as log:
                process = subprocess.Popen(
                    [str(program), "run", "--path", str(folder / "data"), "--host", "127.0.0.1",
                     "--port", str(port)],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=environment,
                    start_new_session=True)
            deadline = time.monotonic() + timeout_s
            while process.poll() is None and time.monotonic() < deadline and not _heartbeat("127.0.0.1", port):
                time.sleep(0.2)
            if process.poll() is None and _heartbeat("127.0.0.1", port):
                break
            _stop_process(process)
        else:
            raise ServerDidNotStart(f"`chroma run` did not answer its heartbeat:\n{_log_tail(log_path)}")
        yield ChromaServer(host="127.0.0.1", port=port, path=folder / "data", log=log_path)
    finally:
        if process is not None:
            _stop_process(process)
        shutil.rmtree(folder, ignore_errors=True)
