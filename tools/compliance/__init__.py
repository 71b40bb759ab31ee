"""Compliance: the policy rule table (``rules``), the check of recommendations (``check``) and
the check of draft answers (``draft``).

The product matcher imports ``tools.compliance.rules``, and ``check`` imports the matcher's
feature code, so the public functions are loaded on first use (PEP 562) to keep that
import graph free of cycles.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "check_compliance": "tools.compliance.check",
    "check_findings": "tools.compliance.check",
    "check_draft": "tools.compliance.draft",
    "POLICY_RULES": "tools.compliance.rules",
    "PolicyRule": "tools.compliance.rules",
    "cite": "tools.compliance.rules",
    "missing_sections": "tools.compliance.rules",
}
__all__ = [
    "POLICY_RULES",
    "PolicyRule",
    "check_compliance",
    "check_draft",
    "check_findings",
    "cite",
    "missing_sections",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tools.compliance' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
