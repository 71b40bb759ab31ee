"""Text encoders for the vector store, loaded from local folders only."""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol

import numpy as np


class TextEncoder(Protocol):
    name: str
    dimension: int

    def encode(self, texts: list[str]) -> np.ndarray: ...


class SentenceTransformerEncoder:
    """sentence-transformers on the CPU; unit-norm vectors."""

    def __init__(self, model_path: str, batch_size: int = 64):
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        self._model = SentenceTransformer(model_path, device="cpu", local_files_only=True)
        self.name = model_path.rstrip("/").split("/")[-1]
        self.dimension = int(self._model.get_embedding_dimension())
        self.batch_size = batch_size

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32)


@lru_cache(maxsize=4)
def load_encoder(model_path: str, engine: str = "sentence-transformers", batch_size: int = 64) -> TextEncoder:
    """One encoder per (model, engine) per process."""
    if engine == "sentence-transformers":
        return SentenceTransformerEncoder(model_path, batch_size)
    raise ValueError(f"unknown embedding engine '{engine}'")
