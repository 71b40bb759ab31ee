"""Fixtures of the browser tests: a small ingested bank, the Chainlit app serving it, and
Debian's headless Chromium driven by Playwright.

The app runs exactly as `make demo` runs it (`chainlit run chainlit_app.py --headless`),
from the repository root (so it uses the committed .chainlit/config.toml, chainlit.md
and config/users.toml), on a free loopback port, with ADVISOR_HOME in a temporary folder.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SCREENSHOTS = REPO_ROOT / "build" / "screenshots"
SMALL_BANK = {"customers": 60, "months": 6, "seed": 11}
SERVER_START_TIMEOUT_S = 90


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    if not CHROMIUM.exists():
        subprocess.run([str(REPO_ROOT / "scripts" / "install_browser.sh")], timeout=900, check=False)
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent and scripts/install_browser.sh could not install Debian's chromium "
                    "(needs apt-get and root); the browser tests need it")
    return CHROMIUM


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> Path:
    """ADVISOR_HOME with a small generated bank, ingested with its texts (60 customers x 6 months)."""
    from advisor import services
    from advisor.settings import Settings
    from bank.generator import generate_bank
    from bank.ingest import Ingestor

    home = tmp_path_factory.mktemp("advisor-ui-home")
    settings = Settings(home=home)
    generate_bank(out_dir=settings.data_dir, **SMALL_BANK)
    store = services.open_store(settings)
    try:
        Ingestor(store, services.open_chroma(settings), services.text_encoder(settings),
                 services.knowledge_base(settings)).run(settings.data_dir, with_text=True)
    finally:
        store.close()
    return home


class AppServer:
    """`chainlit run chainlit_app.py --headless` as a child process; stop() and start() again
    reuse the same port, home and login secret (what a restart of the service does)."""

    def __init__(self, home: Path, log_path: Path):
        self.home = home
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        python_path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
        self.env = {**os.environ, "ADVISOR_HOME": str(home), "PYTHONPATH": python_path,
                    "CHAINLIT_AUTH_SECRET": secrets.token_urlsafe(48), "ADVISOR_LLM_BACKEND": "offline"}
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        chainlit = Path(sys.executable).parent / "chainlit"
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [str(chainlit), "run", "chainlit_app.py", "--headless", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the app exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"the app did not answer /health within {SERVER_START_TIMEOUT_S} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def app_server(demo_home, tmp_path_factory):
    server = AppServer(demo_home, tmp_path_factory.mktemp("app-log") / "chainlit.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        # Kept beside the screenshots: what the app logged while the browser drove it.
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / "chainlit-server.log").write_text(server.log_path.read_text(errors="replace"))


@pytest.fixture(scope="session")
def browser(chromium_executable):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(chromium_executable), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(scope="session")
def journey() -> dict:
    """What one test leaves for the next (the advisor's answer for the compliance review)."""
    return {}


@pytest.fixture()
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, full_page: bool = False) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take
