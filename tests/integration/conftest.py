"""Fixtures for integration tests: a tiny local chat model (and a LoRA adapter for it),
built once per test session with no network."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_chat_model(tmp_path_factory) -> Path:
    """Folder of a tiny random Llama with a Zephyr-style chat template (see tests/fixtures/tiny_model.py)."""
    from tests.fixtures.tiny_model import build_tiny_chat_model

    return build_tiny_chat_model(tmp_path_factory.mktemp("tiny-chat-model"))


@pytest.fixture(scope="session")
def tiny_lora_adapter(tiny_chat_model, tmp_path_factory) -> Path:
    """Folder of a peft LoRA adapter for the tiny model, with non-zero weights."""
    from tests.fixtures.tiny_model import build_tiny_lora_adapter

    return build_tiny_lora_adapter(tiny_chat_model, tmp_path_factory.mktemp("tiny-lora-adapter"))
