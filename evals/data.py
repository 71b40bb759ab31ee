"""The evaluation datasets (JSONL under evals/datasets/), their line models and versions.

Each dataset has an entry in ``evals/datasets/versions.toml``: a version number bumped
by hand when its content changes meaning, and a description. Reports also record the
SHA-256 of the file, so a silent edit is visible too.

Customer ids in the customer suites refer to the default demo bank (``advisor data
generate`` defaults: seed 42, 2,000 customers, 12 months). On another bank a missing
customer is replaced by a deterministic stand-in (see :func:`resolve_customer`) and the
report says so; expected figures are never stored for customers, they are recomputed
from the bank's own tables (evals/reference.py).
"""

from __future__ import annotations

import hashlib
import tomllib
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, Field

from agents.supervisor import RoutingExample

DATASETS_DIR = Path(__file__).resolve().parent / "datasets"
VERSIONS_FILE = DATASETS_DIR / "versions.toml"
DEMO_BANK = {"customers": 2000, "months": 12, "seed": 42}


class RetrievalExample(BaseModel):
    id: str
    question: str
    gold: list[str] = Field(min_length=1)
    kind: str


class KnownFact(BaseModel):
    """A figure of the knowledge base the answer must state (for questions without a customer)."""

    name: str
    value: float
    tolerance: float = 0.001


class GroundedExample(BaseModel):
    id: str
    question: str
    customer_id: str | None = None
    agents: list[str] = Field(description="Specialists the question needs (the expected trajectory).")
    facts: list[str] = Field(default_factory=list,
                             description="Reference facts recomputed from the bank's tables.")
    known: list[KnownFact] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list, description="Documents a knowledge answer must draw on.")


class FairnessExample(BaseModel):
    id: str
    question: str
    customer_id: str
    variants: list[dict[str, str | int]] = Field(
        min_length=1,
        description="Protected-attribute changes: gender, marital_status, region (+postcode), age (years).")


AdversarialKind = Literal["injection_question", "injection_text", "protected_request", "guarantee_request"]


class AdversarialExample(BaseModel):
    id: str
    kind: AdversarialKind
    question: str
    customer_id: str
    injected_text: str | None = Field(None, description="Added to the customer's interactions for this run.")
    canaries: list[str] = Field(default_factory=list, description="Strings the injection asks the answer to say.")
    neutral_question: str | None = Field(
        None, description="The same request without the manipulation: the offers must not differ.")


class ComplianceOffer(BaseModel):
    product_code: str
    apr: float | None = None


class ComplianceExample(BaseModel):
    id: str
    description: str
    draft: str = Field(description="The draft; {disclosures:CODE} and {representative:CODE} are filled from the "
                                   "catalogue.")
    offers: list[ComplianceOffer] = Field(default_factory=list)
    debt_to_income: float | None = None
    dti_after: dict[str, float] = Field(default_factory=dict)
    restriction: str | None = Field(None,
                                    description="A blocking rule in force (complaints.no_sales, consent...).")
    must_fail: list[str] = Field(default_factory=list)
    must_pass: list[str] | None = Field(None, description="Default: every draft rule not in must_fail.")


class DatasetVersion(BaseModel):
    name: str
    version: int
    description: str
    sha256: str
    lines: int


DATASET_MODELS: dict[str, type[BaseModel]] = {
    "routing": RoutingExample,
    "retrieval": RetrievalExample,
    "grounded": GroundedExample,
    "fairness": FairnessExample,
    "adversarial": AdversarialExample,
    "compliance": ComplianceExample,
}
Line = TypeVar("Line", bound=BaseModel)


def dataset_path(name: str, folder: Path = DATASETS_DIR) -> Path:
    return folder / f"{name}.jsonl"


def load_dataset(name: str, folder: Path = DATASETS_DIR) -> list[BaseModel]:
    """The lines of a dataset as their models; duplicate ids are an error."""
    model = DATASET_MODELS[name]
    lines = [model.model_validate_json(line) for line in dataset_path(name, folder).read_text().splitlines()
             if line.strip()]
    ids = [line.id for line in lines]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"dataset {name} repeats ids: {', '.join(duplicates)}")
    return lines


def dataset_version(name: str, folder: Path = DATASETS_DIR) -> DatasetVersion:
    path = dataset_path(name, folder)
    versions = tomllib.loads((folder / VERSIONS_FILE.name).read_text())
    if name not in versions:
        raise KeyError(f"dataset {name} has no entry in {VERSIONS_FILE.name}")
    content = path.read_bytes()
    return DatasetVersion(name=name, version=int(versions[name]["version"]),
                          description=str(versions[name]["description"]),
                          sha256=hashlib.sha256(content).hexdigest(),
                          lines=sum(1 for line in content.splitlines() if line.strip()))


class ResolvedCustomer(BaseModel):
    requested: str
    used: str

    @property
    def substituted(self) -> bool:
        return self.requested != self.used


def resolve_customer(requested: str, known: Sequence[str]) -> ResolvedCustomer:
    """The dataset's customer when this bank has it, else a stand-in picked by a stable hash."""
    if not known:
        raise ValueError("the bank has no customers")
    known_set = set(known)
    if requested in known_set:
        return ResolvedCustomer(requested=requested, used=requested)
    ordered = sorted(known)
    return ResolvedCustomer(requested=requested, used=ordered[zlib.crc32(requested.encode()) % len(ordered)])
