"""What every specialist node shares: timing, the node trail and failure containment."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from datetime import date

from tools.findings import Finding

logger = logging.getLogger("advisor.agents")


def specialist(name: str, unavailable: Callable[[str], Finding]):
    """Wrap a node so it records its time and trail, and so a failing tool becomes a
    finding that says what went wrong instead of failing the whole run."""

    def decorate(node):
        @functools.wraps(node)
        def run(state, runtime):
            started = time.perf_counter()
            try:
                update = node(state, runtime)
            except Exception as error:  # contained: the answer says the finding is missing
                logger.exception("%s agent failed", name)
                update = {name: unavailable(f"{name} analysis failed: {type(error).__name__}: {error}")}
            elapsed = (time.perf_counter() - started) * 1000
            return {**update, "timings_ms": {name: round(elapsed, 2)}, "nodes_run": [name]}

        return run

    return decorate


def as_of_date(state) -> date:
    return date.fromisoformat(state["as_of"])
