"""Constrained JSON from any backend: ask for a schema, parse and validate, or give None."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from graph.llm.base import LLMBackend, LLMResult, Message

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class StructuredReply(Generic[T]):
    """``value`` is None when the backend failed or its reply did not validate; ``error`` says why."""

    value: T | None
    result: LLMResult | None
    error: str | None


def first_json_object(text: str) -> dict | None:
    """The first JSON object in a model's reply (models like to wrap JSON in prose or fences)."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    return None


def generate_structured(
    backend: LLMBackend, messages: Sequence[Message], output_model: type[T], max_new_tokens: int = 200
) -> StructuredReply[T]:
    """One call asking for ``output_model`` as JSON; never raises for a backend or parse failure."""
    if not backend.has_model:
        return StructuredReply(None, None, f"backend {backend.name!r} has no model")
    try:
        result = backend.generate(messages, max_new_tokens, json_schema=output_model.model_json_schema())
    except Exception as exc:  # every backend failure means: fall back
        return StructuredReply(None, None, f"{type(exc).__name__}: {exc}")
    payload = first_json_object(result.text)
    if payload is None:
        return StructuredReply(None, result, "the reply holds no JSON object")
    try:
        return StructuredReply(output_model.model_validate(payload), result, None)
    except ValidationError as exc:
        return StructuredReply(None, result, f"the JSON does not match the schema: {exc.error_count()} error(s)")
