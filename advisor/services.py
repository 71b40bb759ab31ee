"""The composition root: builds the shared services from the settings, once per process."""

from __future__ import annotations

from functools import lru_cache

from advisor.settings import Settings, get_settings
from bank.embeddings import TextEncoder, encoder_from_settings
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
    return encoder_from_settings(settings or get_settings())


def knowledge_base(settings: Settings | None = None) -> KnowledgeBase:
    return load_knowledge_base()


@lru_cache(maxsize=1)
def shared_store() -> BankStore:
    """The process-wide store for long-running processes (CLI batch, app)."""
    return open_store(get_settings())


def customer_identifiers(settings: Settings, customer_id: str | None) -> list[str]:
    """The direct identifiers of a customer (to redact free text about them); empty when unknown."""
    if not customer_id or not settings.store_path.exists():
        return []
    store = open_store(settings)
    try:
        customer = store.customer(customer_id)
        return customer.identifiers if customer else []
    finally:
        close = getattr(store, "close", None)
        if close:
            close()
