"""Text encoders for the vector store, loaded from local folders only.

Engines, all for the same sentence-transformers model folder:

- ``sentence-transformers``: the model as shipped, PyTorch, float;
- ``onnx``: the model exported once to ONNX and run by onnxruntime, float;
- ``onnx-int8``: that export with int8 weights (onnxruntime dynamic quantisation, per
  output channel, matrix multiplications only), the fastest on a CPU.

The ONNX engines build their model on first use from the installed float model into a
cache folder, with a manifest holding the source model's content hash; a changed source
or export recipe rebuilds it. Nothing is ever downloaded.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

SENTENCE_TRANSFORMERS = "sentence-transformers"
ONNX_ENGINES = {"onnx": False, "onnx-int8": True}  # engine -> int8 weights
ENGINES = (SENTENCE_TRANSFORMERS, *ONNX_ENGINES)
EXPORT_RECIPE = 1  # bump when the export or quantisation below changes: caches rebuild
ONNX_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
MANIFEST_FILE = "manifest.json"


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


# --- the ONNX engines -------------------------------------------------------------------------
def _sentence_layout(model_path: Path) -> tuple[int, int]:
    """(dimension, max_seq_length) of a mean-pooled, normalised sentence-transformers folder."""
    modules = json.loads((model_path / "modules.json").read_text())
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    pooling_path = next((model_path / m["path"] for m in modules if m["type"].endswith(".Pooling")), None)
    pooling = json.loads((pooling_path / "config.json").read_text()) if pooling_path else {}
    if kinds != ["Transformer", "Pooling", "Normalize"] or not pooling.get("pooling_mode_mean_tokens") or any(
        v for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens"
    ):
        raise ValueError(f"the onnx engines need a mean-pooled, normalised sentence-transformers model; "
                         f"{model_path} has modules {kinds} and pooling {pooling}")
    sentence_config = json.loads((model_path / "sentence_bert_config.json").read_text())
    if sentence_config.get("do_lower_case"):
        raise ValueError(f"the onnx engines leave lower-casing to the tokenizer; {model_path} asks for it apart")
    return int(pooling["word_embedding_dimension"]), int(sentence_config["max_seq_length"])


def source_fingerprint(model_path: Path) -> str:
    """SHA-256 over the names and contents of every file of the model folder."""
    digest = hashlib.sha256()
    for path in sorted(p for p in model_path.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(model_path)).encode() + b"\0")
        with path.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


def _expected_manifest(model_path: Path, engine: str) -> dict:
    return {"engine": engine, "export_recipe": EXPORT_RECIPE, "source_sha256": source_fingerprint(model_path)}


def _is_current(cache_dir: Path, expected: dict) -> bool:
    manifest_path = cache_dir / MANIFEST_FILE
    if not (manifest_path.exists() and (cache_dir / ONNX_FILE).exists() and (cache_dir / TOKENIZER_FILE).exists()):
        return False
    manifest = json.loads(manifest_path.read_text())
    return all(manifest.get(key) == value for key, value in expected.items())


@contextmanager
def _build_lock(cache_dir: Path) -> Iterator[None]:
    """One builder per cache folder across processes (two CLIs starting together)."""
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(cache_dir.parent / f".{cache_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def _quiet_quantiser() -> Iterator[None]:
    """quantize_dynamic suggests, through the root logger, a pre-processing step whose shape
    inference fails on BERT; logging there would also install a stderr handler on the root."""
    def keep(record: logging.LogRecord) -> bool:
        return "pre-processing" not in record.getMessage()

    root, placeholder = logging.getLogger(), logging.NullHandler()
    root.addHandler(placeholder)
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)
        root.removeHandler(placeholder)


def _export_float_onnx(model_path: Path, target: Path) -> None:
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    class LastHiddenState(torch.nn.Module):
        def __init__(self, transformer):
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask):
            return self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                    token_type_ids=torch.zeros_like(input_ids)).last_hidden_state

    transformers_logging.disable_progress_bar()
    transformer = AutoModel.from_pretrained(str(model_path), local_files_only=True, attn_implementation="eager")
    module = LastHiddenState(transformer.eval())
    example_ids = torch.ones((2, 16), dtype=torch.long)
    example_mask = torch.ones_like(example_ids)
    example_mask[1, 10:] = 0
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # the tracer warns about shape branches that are constant here
        torch.onnx.export(
            module, (example_ids, example_mask), str(target), dynamo=False, opset_version=17,
            input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
        )


def build_onnx_model(model_path: str | Path, cache_dir: str | Path, engine: str = "onnx-int8") -> Path:
    """The engine's ONNX model of ``model_path`` in ``cache_dir``, built unless already current."""
    if engine not in ONNX_ENGINES:
        raise ValueError(f"'{engine}' is not an onnx engine ({', '.join(ONNX_ENGINES)})")
    model_path, cache_dir = Path(model_path), Path(cache_dir)
    expected = _expected_manifest(model_path, engine)
    with _build_lock(cache_dir):
        if _is_current(cache_dir, expected):
            return cache_dir
        dimension, max_seq_length = _sentence_layout(model_path)
        with tempfile.TemporaryDirectory(dir=cache_dir.parent, prefix=f".{cache_dir.name}-build-") as scratch:
            staged = Path(scratch) / "out"
            staged.mkdir()
            float_model = Path(scratch) / "float.onnx"
            _export_float_onnx(model_path, float_model)
            if ONNX_ENGINES[engine]:
                from onnxruntime.quantization import QuantType, quantize_dynamic

                with _quiet_quantiser():
                    quantize_dynamic(str(float_model), str(staged / ONNX_FILE), weight_type=QuantType.QInt8,
                                     per_channel=True, op_types_to_quantize=["MatMul"])
            else:
                shutil.move(float_model, staged / ONNX_FILE)
            shutil.copyfile(model_path / TOKENIZER_FILE, staged / TOKENIZER_FILE)
            (staged / MANIFEST_FILE).write_text(json.dumps({
                **expected, "source": str(model_path), "dimension": dimension, "max_seq_length": max_seq_length,
                "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **_library_versions(),
            }, indent=2))
            if cache_dir.exists():
                shutil.rmtree(cache_dir)
            os.replace(staged, cache_dir)
    return cache_dir


def _library_versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import torch
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__}


class OnnxEncoder:
    """A sentence-transformers model run by onnxruntime: the model's own fast tokenizer,
    mean pooling over the attention mask and L2 normalisation, as sentence-transformers does."""

    def __init__(self, model_path: str, cache_dir: str | Path, engine: str = "onnx-int8", batch_size: int = 64,
                 threads: int = 0):
        import onnxruntime
        from tokenizers import Tokenizer

        folder = build_onnx_model(model_path, cache_dir, engine)
        manifest = json.loads((folder / MANIFEST_FILE).read_text())
        self.name = f"{model_path.rstrip('/').split('/')[-1]}+{engine}"
        self.engine = engine
        self.dimension = int(manifest["dimension"])
        self.batch_size = batch_size
        self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self._tokenizer.enable_truncation(int(manifest["max_seq_length"]))
        padding = self._tokenizer.padding or {}  # the file may pad to a fixed length: pad to the batch's longest
        self._tokenizer.enable_padding(pad_id=padding.get("pad_id", 0),
                                       pad_token=padding.get("pad_token", "[PAD]"))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle threads sleep instead of spinning: the encoder shares the CPU with Chroma and the graph.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(str(folder / ONNX_FILE), options,
                                                     providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Longest first, as sentence-transformers does, so each batch pads to similar lengths.
        order = np.argsort([-len(text) for text in texts], kind="stable")
        for start in range(0, len(texts), self.batch_size):
            batch = order[start:start + self.batch_size]
            vectors[batch] = self._encode_batch([texts[i] for i in batch])
        return vectors

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        input_ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        (hidden,) = self._session.run(None, {"input_ids": input_ids, "attention_mask": mask})
        weights = mask.astype(np.float32)
        pooled = np.einsum("btd,bt->bd", hidden, weights) / np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def encoder_cache_dir(models_dir: Path, model: str, engine: str) -> Path:
    """Where an onnx engine keeps its build of ``model`` (a model name or a local folder)."""
    return Path(models_dir) / "encoders" / f"{Path(model).name}-{engine}"


@lru_cache(maxsize=4)
def load_encoder(model_path: str, engine: str = SENTENCE_TRANSFORMERS, batch_size: int = 64,
                 cache_dir: Path | None = None, threads: int = 0) -> TextEncoder:
    """One encoder per (model, engine, options) per process; the onnx engines need a cache folder."""
    if engine == SENTENCE_TRANSFORMERS:
        return SentenceTransformerEncoder(model_path, batch_size)
    if engine in ONNX_ENGINES:
        if cache_dir is None:
            raise ValueError(f"the '{engine}' engine needs a cache folder for its model: "
                             "build encoders with advisor.services.text_encoder(settings)")
        return OnnxEncoder(model_path, cache_dir, engine, batch_size, threads)
    raise ValueError(f"unknown embedding engine '{engine}' (known: {', '.join(ENGINES)})")


def encoder_from_settings(settings) -> TextEncoder:
    """The process-wide encoder the settings describe (``embedding_*`` fields, ``models_dir``)."""
    engine, model_path = settings.embedding_engine, settings.resolved_embedding_model()
    if engine not in ONNX_ENGINES:
        return load_encoder(model_path, engine, settings.embedding_batch_size)
    return load_encoder(model_path, engine, settings.embedding_batch_size,
                        encoder_cache_dir(settings.models_dir, settings.embedding_model, engine),
                        settings.embedding_threads)
