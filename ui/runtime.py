"""The app's process-wide resources: settings, the advisory runner, the users file, the auth secret.

Created on first use (or at app start-up), never at import, and closed at shut-down.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from contextlib import ExitStack
from pathlib import Path

from advisor.settings import Settings, apply_process_environment, get_settings
from ui.users import AppUser, load_users

logger = logging.getLogger("advisor.ui")

AUTH_SECRET_VARIABLE = "CHAINLIT_AUTH_SECRET"


def auth_secret_path(settings: Settings) -> Path:
    return settings.home / "keys" / "chainlit_auth.secret"


def ensure_auth_secret(settings: Settings) -> None:
    """Give Chainlit the secret that signs its login tokens.

    A deployment may set ``CHAINLIT_AUTH_SECRET`` itself (several replicas must share
    one); otherwise a secret is created once under ``ADVISOR_HOME/keys`` (mode 0600),
    so logins survive a restart of the app.
    """
    if os.environ.get(AUTH_SECRET_VARIABLE):
        return
    path = auth_secret_path(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    os.environ[AUTH_SECRET_VARIABLE] = path.read_text().strip()


def prepare_process(settings: Settings | None = None) -> Settings:
    """What the app's entry point does once: offline environment, auth secret."""
    settings = settings or get_settings()
    apply_process_environment(settings)
    settings.ensure_home()
    ensure_auth_secret(settings)
    return settings


class AppNotReady(RuntimeError):
    """The app cannot answer yet for a reason the operator can fix (shown in the chat)."""


class AppRuntime:
    """One runner per process (it is safe to call from several threads) and the users file."""

    def __init__(self, settings: Settings, overrides: dict | None = None, labels_dir: Path | None = None):
        self.settings = settings
        self.overrides = overrides
        self.labels_dir = labels_dir
        self._stack = ExitStack()
        self._runner = None
        self._lock = threading.Lock()
        self._users: dict[str, AppUser] = {}
        self._users_stamp: tuple[float, int] | None = None

    @property
    def runner(self):
        with self._lock:
            if self._runner is None:
                from graph.runner import open_runner

                if not self.settings.store_path.exists():
                    raise AppNotReady(f"No data store at {self.settings.store_path}: run `advisor data generate` "
                                      "and `advisor ingest` (or `make demo`) first.")
                # Models load in warm_up() (a background thread), never under this lock,
                # which the event loop's first handlers take.
                self._runner = self._stack.enter_context(open_runner(self.settings, labels_dir=self.labels_dir,
                                                                       overrides=self.overrides, warm_up=()))
            return self._runner

    def warm_up(self) -> None:
        """Load the models now (in a background thread at start-up) rather than on the first question."""
        try:
            self.runner.services.warm_up()
        except AppNotReady as error:
            logger.warning("%s", error)
        except Exception:  # the first question will report what is wrong
            logger.exception("warm-up failed")

    def users(self) -> dict[str, AppUser]:
        """The users file, read again whenever it changes on disk."""
        path = self.settings.users_file
        stat = path.stat()
        stamp = (stat.st_mtime, stat.st_size)
        with self._lock:
            if stamp != self._users_stamp:
                self._users = load_users(path)
                self._users_stamp = stamp
            return self._users

    def close(self) -> None:
        with self._lock:
            self._stack.close()
            self._runner = None


_runtime: AppRuntime | None = None
_runtime_lock = threading.Lock()


def get_runtime() -> AppRuntime:
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = AppRuntime(get_settings())
        return _runtime


def install_runtime(runtime: AppRuntime | None) -> None:
    """Use this runtime for the process (tests); ``None`` forgets it without closing it."""
    global _runtime
    with _runtime_lock:
        _runtime = runtime


def close_runtime() -> None:
    global _runtime
    with _runtime_lock:
        if _runtime is not None:
            _runtime.close()
            _runtime = None
