"""The composition root: builds the shared services from the settings, once per process."""

from __future__ import annotations

from functools import lru_cache

from advisor.settings import Settings, get_settings
from bank.embeddings import TextEncoder, load_encoder
from bank.knowledge import KnowledgeBase, load_knowledge_base
from bank.privacy import FieldCipher, load_or_create_key
from bank.store import BankStore
from bank.vectorstore import connect_chroma


def field_cipher(settings: Settings) -> FieldCipher:
    key = settings.data_key.get_secret_value() if settings.data_key else None
    return FieldCipher(load_or_create_key(key, settings.key_file))


def open_store(settings: Settings | None = None) -> BankStore:
    settings = settings or get_settings()
    settings.ensure_home()
    return BankStore(settings.store_path, field_cipher(settings))


def open_chroma(settings: Settings | None = None):
    settings = settings or get_settings()
    return connect_chroma(
        settings.chroma_mode, settings.chroma_path, settings.chroma_host, settings.chroma_port,
        timeout_s=settings.chroma_timeout_s,
    )


def text_encoder(settings: Settings | None = None) -> TextEncoder:
    settings = settings or get_settings()
    return load_encoder(settings.resolved_embedding_model(), settings.embedding_engine, settings.embedding_batch_size)


def knowledge_base(settings: Settings | None = None) -> KnowledgeBase:
    return load_knowledge_base()


@lru_cache(maxsize=1)
def shared_store() -> BankStore:
    """The process-wide store for long-running processes (CLI batch, app)."""
    return open_store(get_settings())
