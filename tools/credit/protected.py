"""The guard that keeps protected attributes out of every risk model.

Sex/gender, age and birth date, marital status, region and postcode (and the UCI
file's names for them) may be read to audit fairness, never to score. Every model fit
and every prediction passes its feature names through :func:`assert_no_protected_features`.
A name is refused when it equals a protected name or alias, or when one of its
``_``-separated words is a protected word (``applicant_age``, ``gender_code``), so
feature names must avoid those words even for innocent meanings: the credit history
length is ``credit_history_months``, not ``account_age``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bank.contract import PROTECTED_ATTRIBUTES

PROTECTED_NAMES: frozenset[str] = frozenset({
    *(name.lower() for name in PROTECTED_ATTRIBUTES),
    "sex", "gender", "age", "birth_date", "date_of_birth", "dob", "birth_year", "year_of_birth",
    "marriage", "marital_status", "marital", "region", "postcode", "post_code", "postal_code", "zip", "zipcode",
    "zip_code", "race", "ethnicity", "religion", "nationality", "disability",
})
PROTECTED_WORDS: frozenset[str] = frozenset({
    "sex", "gender", "age", "birth", "dob", "marriage", "marital", "region", "postcode", "postal", "zip",
    "zipcode", "race", "ethnicity", "religion", "nationality", "disability",
})
# The UCI "default of credit card clients" file names SEX, MARRIAGE and AGE X2, X4 and X5.
UCI_PROTECTED_CODES: frozenset[str] = frozenset({"x2", "x4", "x5"})


class ProtectedFeatureError(ValueError):
    """A protected attribute (or an alias of one) was offered as a model input."""


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()) if w]


def protected_features(names: Iterable[str]) -> list[str]:
    """The names among ``names`` that are protected attributes or aliases of one."""
    found = []
    for name in names:
        normalised = "_".join(_words(str(name)))
        if (normalised in PROTECTED_NAMES or normalised in UCI_PROTECTED_CODES
                or any(word in PROTECTED_WORDS for word in _words(str(name)))):
            found.append(str(name))
    return found


def assert_no_protected_features(names: Iterable[str]) -> None:
    """Raise :class:`ProtectedFeatureError` if any feature name is protected."""
    found = protected_features(names)
    if found:
        raise ProtectedFeatureError(
            f"protected attributes may not be model inputs: {', '.join(sorted(found))}"
        )
