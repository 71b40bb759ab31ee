"""Session fixtures for the production-engine tests: a real PostgreSQL and a real Chroma
server on 127.0.0.1 (started here, stopped at the end of the session), a small bank, and
the ``ADVISOR_*`` environment that points the product at those servers."""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import pytest

from tests.integration.engines.servers import ChromaServer, running_chroma, running_postgres

ENGINE_BANK = {"customers": 30, "months": 6, "seed": 23}


@pytest.fixture(scope="session")
def postgres_url() -> str:
    with running_postgres("advisor") as url:
        yield url


@pytest.fixture(scope="session")
def chroma_server() -> ChromaServer:
    with running_chroma() as server:
        yield server


@pytest.fixture(scope="session")
def engine_bank(tmp_path_factory) -> Path:
    from bank.generator import generate_bank

    out = tmp_path_factory.mktemp("engine-bank") / "tables"
    generate_bank(out_dir=out, **ENGINE_BANK)
    return out


@pytest.fixture(scope="session")
def production_env(postgres_url, chroma_server, engine_bank, tmp_path_factory) -> dict[str, str]:
    """Only configuration: every engine switched to its server through ``ADVISOR_*`` variables."""
    return {
        "ADVISOR_HOME": str(tmp_path_factory.mktemp("engine-home")),
        "ADVISOR_DATA_DIR": str(engine_bank),
        "ADVISOR_CHROMA_MODE": "http",
        "ADVISOR_CHROMA_HOST": chroma_server.host,
        "ADVISOR_CHROMA_PORT": str(chroma_server.port),
        "ADVISOR_CHECKPOINT_URL": postgres_url,
        "ADVISOR_AUDIT_URL": postgres_url,
        "ADVISOR_UI_DATABASE_URL": postgres_url,
        "ADVISOR_LLM_BACKEND": "offline",
    }


@pytest.fixture(scope="session")
def production_settings(production_env):
    """The settings a process started with :func:`production_env` reads."""
    from advisor.settings import Settings

    with mock.patch.dict(os.environ, production_env):
        return Settings()

