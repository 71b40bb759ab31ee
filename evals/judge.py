"""LLM-as-judge evaluators (openevals), used only when a model backend is configured.

They are an addition to the code checks, never a replacement: with the offline
backend there is no judge, and every suite still scores. The judge is the shared
backend of ``settings.llm_backend`` (zephyr or an OpenAI-compatible server), seen by
openevals through a tiny OpenAI-style client, so one code path serves both.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

JUDGE_MAX_NEW_TOKENS = 300


class BackendJudgeClient:
    """Just enough of the OpenAI client (``chat.completions.create``) for openevals' judge."""

    def __init__(self, backend, max_new_tokens: int = JUDGE_MAX_NEW_TOKENS):
        self.backend = backend
        self.max_new_tokens = max_new_tokens
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self._create))

    def _create(self, messages: list[dict[str, Any]], model: str | None = None,
                response_format: dict | None = None, **_: Any):
        from graph.llm.structured import first_json_object

        schema = ((response_format or {}).get("json_schema") or {}).get("schema")
        plain = [{"role": m["role"], "content": str(m["content"])} for m in messages]
        result = self.backend.generate(plain, max_new_tokens=self.max_new_tokens, json_schema=schema)
        parsed = first_json_object(result.text)
        if parsed is None:
            raise ValueError("the judge did not answer with a JSON object")
        return SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content=json.dumps(parsed)))])


def judge_evaluators(settings, backend=None) -> list:
    """An openevals judge of groundedness (the answer against the findings and sources it
    was written from); an empty list with the offline backend."""
    if settings.llm_backend == "offline":
        return []
    from openevals.llm import create_llm_as_judge
    from openevals.prompts import RAG_GROUNDEDNESS_PROMPT

    if backend is None:
        from graph.backend import get_backend

        backend = get_backend(settings)
    model = settings.openai_model if settings.llm_backend == "openai" else settings.zephyr_model
    groundedness = create_llm_as_judge(prompt=RAG_GROUNDEDNESS_PROMPT, feedback_key="judge_groundedness",
                                       judge=BackendJudgeClient(backend), model=model)

    def judged_groundedness(outputs: dict) -> dict:
        if "error" in outputs:
            return {"key": "judge_groundedness", "score": 0, "comment": "the run failed"}
        context = json.dumps({"findings": outputs.get("findings"), "sources": outputs.get("sources")},
                             default=str)[:12000]
        try:
            return groundedness(context=context, outputs=outputs.get("answer", ""))
        except Exception as error:  # a judge failure must not fail the code checks of the run
            return {"key": "judge_groundedness", "score": None, "comment": f"judge failed: {error}"}

    return [judged_groundedness]
