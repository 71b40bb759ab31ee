"""Recording evaluations in LangSmith (``advisor eval --upload`` with LANGSMITH_API_KEY set).

Each dataset version becomes one LangSmith dataset, named after the suite, its version
and the first characters of its SHA-256, so a changed file makes a new dataset and an
unchanged one is reused. Experiments carry the backend, model, git revision and
dataset version as metadata. The upload client redacts every traced input and output
(graph/tracing.py), so customers' names and contacts never leave the machine.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from evals.data import DatasetVersion

REPO_ROOT = Path(__file__).resolve().parents[1]


def git_revision(repo: Path = REPO_ROOT) -> str | None:
    """The commit checked out (with ``+dirty`` when files changed), or None outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=5,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}+dirty" if dirty else commit


def model_name(settings) -> str:
    return {"offline": "offline-composer", "zephyr": settings.zephyr_model,
            "openai": settings.openai_model}[settings.llm_backend]


def experiment_metadata(settings, suite: str, dataset: DatasetVersion,
                        revision: str | None) -> dict[str, str | int]:
    """What an experiment records about the system that produced it."""
    metadata: dict[str, str | int] = {
        "suite": suite,
        "backend": settings.llm_backend,
        "model": model_name(settings),
        "git_revision": revision or "unknown",
        "dataset": dataset.name,
        "dataset_version": dataset.version,
        "dataset_sha256": dataset.sha256,
        "embedding_model": settings.embedding_model,
        "retrieval_k": settings.retrieval_k,
    }
    if settings.llm_backend == "openai":
        metadata["openai_base_url"] = settings.openai_base_url
    if settings.llm_backend == "zephyr" and settings.zephyr_adapter:
        metadata["zephyr_adapter"] = str(settings.zephyr_adapter)
    return metadata


def langsmith_dataset_name(dataset: DatasetVersion) -> str:
    return f"advisor-{dataset.name}-v{dataset.version}-{dataset.sha256[:8]}"


def ensure_dataset(client, dataset: DatasetVersion, examples: list) -> str:
    """Create the LangSmith dataset of this version with its examples, unless it exists."""
    name = langsmith_dataset_name(dataset)
    if client.has_dataset(dataset_name=name):
        return name
    created = client.create_dataset(name, description=f"{dataset.description} (version {dataset.version})",
                                    metadata={"version": dataset.version, "sha256": dataset.sha256})
    client.create_examples(dataset_id=created.id, examples=[
        {"inputs": e.inputs, "outputs": e.outputs, "metadata": e.metadata} for e in examples])
    return name


def upload_client(settings, store):
    """A LangSmith client for uploads whose traces are redacted like every other trace."""
    from graph.tracing import TraceRedactor, store_identifiers, tracing_client

    return tracing_client(settings, TraceRedactor(store_identifiers(store)))
