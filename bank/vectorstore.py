"""ChromaDB access: embedded on disk or a `chroma run` server, chosen by settings.

Collections always get our own embedding function, so Chroma never reaches for its
default model (which would try to download one).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bank.embeddings import TextEncoder

CUSTOMER_TEXTS = "customer_texts"
PRODUCTS = "products"
POLICIES = "policies"
COLLECTIONS = (CUSTOMER_TEXTS, PRODUCTS, POLICIES)


class VectorStoreUnavailable(RuntimeError):
    """The Chroma server did not answer within the configured time."""


class EncoderEmbeddingFunction:
    """Chroma's embedding-function protocol over a :class:`TextEncoder`."""

    def __init__(self, encoder: TextEncoder):
        self._encoder = encoder

    def __call__(self, input: Sequence[str]) -> list[np.ndarray]:  # noqa: A002 - Chroma's name
        return list(self._encoder.encode(list(input)))

    def embed_query(self, input: Sequence[str] | str) -> list[np.ndarray]:  # noqa: A002
        texts = [input] if isinstance(input, str) else list(input)
        return list(self._encoder.encode(texts))

    def embed_documents(self, input: Sequence[str]) -> list[np.ndarray]:  # noqa: A002
        return self(input)

    @staticmethod
    def name() -> str:
        return "advisor-local-encoder"

    def is_legacy(self) -> bool:
        return False

    def get_config(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> "EncoderEmbeddingFunction":
        raise NotImplementedError("the advisor always passes its encoder explicitly")

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine", "l2", "ip"]


def connect_chroma(
    mode: str, path: Path, host: str, port: int, timeout_s: float = 10.0, retries: int = 4
):
    """A Chroma client; the server mode retries with backoff and then fails clearly."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    # Chroma cannot rebuild our encoder from a collection's stored config; we always pass it.
    warnings.filterwarnings("ignore", message="Could not reconstruct embedding function")
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if mode == "embedded":
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    deadline = time.monotonic() + timeout_s
    delay = 0.25
    last_error: Exception | None = None
    for _ in range(retries + 1):
        try:
            client = chromadb.HttpClient(host=host, port=port, settings=chroma_settings)
            client.heartbeat()
            return client
        except Exception as error:  # the client raises several transport errors
            last_error = error
            if time.monotonic() + delay > deadline:
                break
            time.sleep(delay)
            delay *= 2
    raise VectorStoreUnavailable(
        f"Chroma server at http://{host}:{port} did not answer within {timeout_s:.0f}s: {last_error}"
    )


def open_collection(client, name: str, encoder: TextEncoder):
    return client.get_or_create_collection(
        name=name,
        embedding_function=EncoderEmbeddingFunction(encoder),
        metadata={"hnsw:space": "cosine", "embedding_model": encoder.name, "dimension": encoder.dimension},
    )
