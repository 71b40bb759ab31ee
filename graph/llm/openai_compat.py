"""Any OpenAI-compatible chat server (vLLM, TGI, llama.cpp server) through the ``openai`` client.

The client gives up after ``timeout_s`` and does not retry by default: the settings
promise a fallback to the offline composer after that long, and a retry would double
it. Streams are also held to ``timeout_s`` in total, not only per read.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from typing import Any

from graph.llm.base import (
    LLMBackend,
    LLMError,
    LLMResult,
    LLMTimeout,
    LLMUnavailable,
    Message,
    StreamEnd,
    approximate_tokens,
    with_json_instruction,
)


def _translate(exc: Exception, base_url: str) -> LLMError:
    import openai

    if isinstance(exc, openai.APITimeoutError) or "timeout" in type(exc).__name__.lower():
        return LLMTimeout(f"the server at {base_url} did not answer in time")
    if isinstance(exc, openai.APIConnectionError):
        return LLMUnavailable(f"cannot reach the server at {base_url}: {exc}")
    if isinstance(exc, openai.APIStatusError):
        return LLMError(f"the server at {base_url} answered HTTP {exc.status_code}: {str(exc)[:200]}")
    return LLMError(f"{type(exc).__name__}: {exc}")


class OpenAICompatibleBackend(LLMBackend):
    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key: str,
        prompt_token_budget: int,
        timeout_s: float,
        max_retries: int = 0,
    ) -> None:
        super().__init__(model, prompt_token_budget=prompt_token_budget, timeout_s=timeout_s)
        self.base_url = base_url
        self._api_key = api_key
        self.max_retries = max_retries
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            import openai

            self._client = openai.OpenAI(
                base_url=self.base_url, api_key=self._api_key, timeout=self.timeout_s, max_retries=self.max_retries
            )
        return self._client

    def count_tokens(self, messages: Sequence[Message]) -> int:
        # The server's tokenizer is not available here; the estimate errs on the long side.
        return sum(approximate_tokens(message["content"]) + 4 for message in messages)

    def _create(self, messages: list[Message], max_new_tokens: int, **options: Any) -> Any:
        import openai

        try:
            return self.client().chat.completions.create(
                model=self.model, messages=messages, max_tokens=max_new_tokens, temperature=0, **options
            )
        except openai.OpenAIError as exc:
            raise _translate(exc, self.base_url) from exc

    def _generate(self, messages: list[Message], max_new_tokens: int, json_schema: dict | None) -> LLMResult:
        import openai

        started = time.perf_counter()
        if json_schema is None:
            response = self._create(messages, max_new_tokens)
        else:
            response_format = {
                "type": "json_schema",
                "json_schema": {"name": "reply", "schema": json_schema, "strict": True},
            }
            try:
                response = self._create(messages, max_new_tokens, response_format=response_format)
            except LLMError as exc:
                if not isinstance(exc.__cause__, openai.BadRequestError):
                    raise
                # The server has no JSON-schema mode: ask for the JSON in the prompt instead.
                response = self._create(with_json_instruction(messages, json_schema), max_new_tokens)
        if not response.choices:
            raise LLMError(f"the server at {self.base_url} returned no choices")
        choice = response.choices[0]
        text = (choice.message.content or "").strip()
        usage = response.usage
        return LLMResult(
            text=text,
            prompt_tokens=usage.prompt_tokens if usage else self.count_tokens(messages),
            completion_tokens=usage.completion_tokens if usage else approximate_tokens(text),
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
            finish_reason=choice.finish_reason,
            model=response.model or self.model,
        )

    def _stream(self, messages: list[Message], max_new_tokens: int) -> Generator[str, None, StreamEnd]:
        deadline = time.monotonic() + self.timeout_s
        stream = self._create(messages, max_new_tokens, stream=True, stream_options={"include_usage": True})
        text: list[str] = []
        usage = None
        finish_reason = None
        try:
            for chunk in stream:
                if time.monotonic() > deadline:
                    raise LLMTimeout(f"the stream from {self.base_url} ran past {self.timeout_s:g} s")
                usage = chunk.usage or usage
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                finish_reason = choice.finish_reason or finish_reason
                piece = choice.delta.content if choice.delta else None
                if piece:
                    text.append(piece)
                    yield piece
        except LLMError:
            raise
        except Exception as exc:  # the client's or the HTTP library's errors mid-stream
            raise _translate(exc, self.base_url) from exc
        finally:
            stream.close()
        completion = "".join(text)
        return StreamEnd(
            prompt_tokens=usage.prompt_tokens if usage else self.count_tokens(messages),
            completion_tokens=usage.completion_tokens if usage else approximate_tokens(completion),
            finish_reason=finish_reason,
        )

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "base_url": self.base_url}
