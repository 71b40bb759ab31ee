"""The bank's knowledge base: product catalogue, disclosures and policy documents.

The files live in the repository's ``knowledge/`` folder:

- ``products.yaml``: the product catalogue (``products:`` list of product records);
- ``disclosures.yaml``: the disclosure texts products must show (``disclosures:`` list);
- ``policies/*.md``: policy documents, a YAML front-matter block and numbered
  sections (``## 3. Heading`` and ``### 3.2 Heading``) that rules cite as
  ``POL-AFFORD §3.2``.

``load_knowledge_base`` validates everything into typed, frozen models and checks
the cross references (a product's disclosures and policy documents must exist).
``KnowledgeBase.chunks`` turns the content into retrieval chunks with stable ids
(``product:CC-TRAVEL``, ``policy:POL-AFFORD:3.2``, ``disclosure:DISC-APR``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ProductType = Literal[
    "credit_card", "personal_loan", "auto_loan", "mortgage", "savings", "investment", "checking"
]
RiskBand = Literal["A", "B", "C", "D", "E"]
NeedTag = Literal[
    "balance_transfer", "debt_consolidation", "lower_interest", "credit_building",
    "everyday_spending", "cashback", "travel", "foreign_spending", "premium_benefits",
    "car_purchase", "home_purchase", "remortgage", "emergency_fund", "saving_goal",
    "long_term_saving", "tax_efficient_saving", "investing_cautious", "investing_balanced",
    "investing_growth", "hardship_support", "fee_reduction",
]
ChunkKind = Literal["product", "policy", "disclosure"]

PRODUCT_TYPES: tuple[str, ...] = get_args(ProductType)
RISK_BANDS: tuple[str, ...] = get_args(RiskBand)  # best (A) to worst (E)
NEED_TAGS: tuple[str, ...] = get_args(NeedTag)
CREDIT_TYPES: frozenset[str] = frozenset({"credit_card", "personal_loan", "auto_loan", "mortgage"})

PRODUCTS_FILE = "products.yaml"
DISCLOSURES_FILE = "disclosures.yaml"
POLICIES_DIR = "policies"

_PRODUCT_CODE = r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$"
_DISCLOSURE_ID = r"^DISC-[A-Z0-9-]+$"
_POLICY_ID = r"^POL-[A-Z0-9-]+$"
_HEADING = re.compile(r"^(#{2,3})\s+(.*?)\s*$")
_NUMBERED_HEADING = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+(\S.*)$")

_TYPE_LABELS = {
    "credit_card": "credit card", "personal_loan": "personal loan", "auto_loan": "car loan",
    "mortgage": "mortgage", "savings": "savings account", "investment": "investment",
    "checking": "current account",
}
_AMOUNT_LABELS = {
    "credit_card": "credit limit", "personal_loan": "loan amount", "auto_loan": "loan amount",
    "mortgage": "loan amount", "savings": "deposit", "investment": "investment",
    "checking": "arranged overdraft limit",
}


class KnowledgeBaseError(ValueError):
    """A knowledge file is missing, malformed or inconsistent; the message names the file."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Eligibility(_Frozen):
    min_income: float = Field(ge=0, description="Minimum gross annual income in EUR.")
    max_dti: float | None = Field(
        gt=0, le=1, description="Debt-to-income cap including the new payment; null: no credit granted."
    )
    max_risk_band: RiskBand = Field(description="Worst customer risk band that may be offered.")
    min_age: int = Field(ge=18)
    min_tenure_months: int = Field(ge=0)
    requires_marketing_consent: bool
    max_existing_utilisation: float | None = Field(gt=0, le=1)
    other: tuple[str, ...] = ()

    def allows_band(self, band: RiskBand) -> bool:
        """True when a customer in ``band`` is at or better than this product's band ceiling."""
        return RISK_BANDS.index(band) <= RISK_BANDS.index(self.max_risk_band)


class Product(_Frozen):
    code: str = Field(pattern=_PRODUCT_CODE)
    name: str = Field(min_length=1)
    type: ProductType
    summary: str = Field(min_length=1)
    apr_min: float | None = Field(ge=0, le=100)
    apr_max: float | None = Field(ge=0, le=100)
    interest_rate: float | None = Field(ge=0, le=100, description="AER % for savings, else null.")
    fees: dict[str, float | str]
    rewards: str | None
    risk_level: int | None = Field(ge=1, le=7, description="SRRI-style 1..7 for investments.")
    term_months_min: int | None = Field(ge=1)
    term_months_max: int | None = Field(ge=1)
    amount_min: float | None = Field(ge=0)
    amount_max: float | None = Field(ge=0)
    eligibility: Eligibility
    needs: tuple[NeedTag, ...] = Field(min_length=1)
    disclosures: tuple[str, ...]
    representative_example: str = Field(min_length=1)
    documents: tuple[str, ...]

    @model_validator(mode="after")
    def _check_consistency(self) -> Product:
        problems = []
        if (self.apr_min is None) != (self.apr_max is None):
            problems.append("apr_min and apr_max must both be set or both be null")
        elif self.apr_min is not None and self.apr_max is not None and self.apr_min > self.apr_max:
            problems.append(f"apr_min {self.apr_min} is above apr_max {self.apr_max}")
        if self.type in CREDIT_TYPES and self.apr_min is None:
            problems.append(f"a {self.type} needs an APR range")
        if self.type in {"savings", "investment"} and self.apr_min is not None:
            problems.append(f"a {self.type} product has no APR")
        if (self.type == "savings") != (self.interest_rate is not None):
            problems.append("interest_rate (AER) is required for savings and only for savings")
        if (self.type == "investment") != (self.risk_level is not None):
            problems.append("risk_level is required for investments and only for investments")
        for low, high in (("term_months_min", "term_months_max"), ("amount_min", "amount_max")):
            low_value, high_value = getattr(self, low), getattr(self, high)
            if low_value is not None and high_value is not None and low_value > high_value:
                problems.append(f"{low} {low_value} is above {high} {high_value}")
        for field in ("needs", "disclosures", "documents"):
            values = getattr(self, field)
            if len(set(values)) != len(values):
                problems.append(f"{field} lists an entry twice")
        if self.grants_credit and self.eligibility.max_dti is None:
            problems.append("a product that grants credit needs eligibility.max_dti")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def grants_credit(self) -> bool:
        """True for products that lend money: they carry an APR range (cards, loans, overdrafts)."""
        return self.apr_min is not None and self.apr_max is not None and self.apr_max > 0

    @property
    def is_hardship_support(self) -> bool:
        """True for the hardship plan, which is offered only through the hardship rules."""
        return "hardship_support" in self.needs


class Disclosure(_Frozen):
    id: str = Field(pattern=_DISCLOSURE_ID)
    title: str = Field(min_length=1)
    text: str = Field(min_length=1)
    applies_to: tuple[ProductType, ...] = Field(min_length=1)


class PolicySection(_Frozen):
    doc_id: str
    doc_title: str
    section_id: str = Field(pattern=r"^\d+(\.\d+)*$", description="Like '3.2'.")
    heading: str
    text: str
    parent_heading: str | None = Field(None, description="Heading of the enclosing '##' section.")

    @property
    def citation(self) -> str:
        return f"{self.doc_id} §{self.section_id}"


class PolicyDocument(_Frozen):
    id: str = Field(pattern=_POLICY_ID)
    title: str = Field(min_length=1)
    version: str
    owner: str
    effective_date: date
    sections: tuple[PolicySection, ...] = Field(min_length=1)

    def section(self, section_id: str) -> PolicySection:
        for section in self.sections:
            if section.section_id == section_id:
                return section
        raise KeyError(f"{self.id} has no section {section_id!r}")


class KnowledgeChunk(_Frozen):
    id: str
    doc_id: str
    kind: ChunkKind
    title: str
    text: str
    metadata: dict[str, str]


class KnowledgeBase(_Frozen):
    products: tuple[Product, ...]
    disclosures: tuple[Disclosure, ...]
    policies: tuple[PolicyDocument, ...]

    @model_validator(mode="after")
    def _check_references(self) -> KnowledgeBase:
        problems = []
        for label, ids in (
            ("product code", [p.code for p in self.products]),
            ("disclosure id", [d.id for d in self.disclosures]),
            ("policy id", [p.id for p in self.policies]),
        ):
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            if duplicates:
                problems.append(f"duplicate {label}(s): {', '.join(duplicates)}")
        disclosures = {d.id: d for d in self.disclosures}
        policy_ids = {p.id for p in self.policies}
        for product in self.products:
            for disclosure_id in product.disclosures:
                disclosure = disclosures.get(disclosure_id)
                if disclosure is None:
                    problems.append(f"product {product.code!r}: unknown disclosure {disclosure_id!r}")
                elif product.type not in disclosure.applies_to:
                    problems.append(
                        f"product {product.code!r}: disclosure {disclosure_id!r} "
                        f"does not apply to type {product.type!r}"
                    )
            for doc_id in product.documents:
                if doc_id not in policy_ids:
                    problems.append(f"product {product.code!r}: unknown policy document {doc_id!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @cached_property
    def _products_by_code(self) -> dict[str, Product]:
        return {p.code: p for p in self.products}

    @cached_property
    def _disclosures_by_id(self) -> dict[str, Disclosure]:
        return {d.id: d for d in self.disclosures}

    @cached_property
    def _policies_by_id(self) -> dict[str, PolicyDocument]:
        return {p.id: p for p in self.policies}

    def product(self, code: str) -> Product:
        try:
            return self._products_by_code[code]
        except KeyError:
            raise KeyError(f"unknown product code {code!r}") from None

    def products_of_type(self, product_type: ProductType) -> tuple[Product, ...]:
        return tuple(p for p in self.products if p.type == product_type)

    def disclosure(self, disclosure_id: str) -> Disclosure:
        try:
            return self._disclosures_by_id[disclosure_id]
        except KeyError:
            raise KeyError(f"unknown disclosure id {disclosure_id!r}") from None

    def policy(self, doc_id: str) -> PolicyDocument:
        try:
            return self._policies_by_id[doc_id]
        except KeyError:
            raise KeyError(f"unknown policy document {doc_id!r}") from None

    def section(self, doc_id: str, section_id: str) -> PolicySection:
        return self.policy(doc_id).section(section_id)

    def chunks(self) -> Iterator[KnowledgeChunk]:
        """Retrieval chunks: one per product, per policy section and per disclosure."""
        for product in self.products:
            yield _product_chunk(product, self)
        for policy in self.policies:
            for section in policy.sections:
                yield _policy_chunk(section)
        for disclosure in self.disclosures:
            yield _disclosure_chunk(disclosure)


# --- loading -------------------------------------------------------------------------------


def default_knowledge_root() -> Path:
    """The repository's ``knowledge/`` folder."""
    return Path(__file__).resolve().parents[1] / "knowledge"


def load_knowledge_base(root: Path | None = None) -> KnowledgeBase:
    """Load and validate the knowledge base under ``root`` (default: the repo's knowledge/).

    Results are cached per resolved folder; raises ``KnowledgeBaseError`` naming the file
    (and the product) at fault.
    """
    return _load_cached((root or default_knowledge_root()).resolve())


@lru_cache(maxsize=8)
def _load_cached(root: Path) -> KnowledgeBase:
    products_path = root / PRODUCTS_FILE
    products = load_products(products_path)
    disclosures = load_disclosures(root / DISCLOSURES_FILE)
    policies = load_policies(root / POLICIES_DIR)
    try:
        return KnowledgeBase(products=products, disclosures=disclosures, policies=policies)
    except ValidationError as error:
        raise KnowledgeBaseError(f"{products_path}: {_describe(error)}") from error


def load_products(path: Path) -> tuple[Product, ...]:
    records = _yaml_list(path, "products")
    products: dict[str, Product] = {}
    for position, record in enumerate(records, start=1):
        code = record.get("code", "<no code>") if isinstance(record, dict) else "<not a mapping>"
        try:
            product = Product.model_validate(record)
        except ValidationError as error:
            raise KnowledgeBaseError(
                f"{path}: product {code!r} (entry {position}): {_describe(error)}"
            ) from error
        if product.code in products:
            raise KnowledgeBaseError(f"{path}: product {product.code!r} (entry {position}) is defined twice")
        products[product.code] = product
    return tuple(products.values())


def load_disclosures(path: Path) -> tuple[Disclosure, ...]:
    records = _yaml_list(path, "disclosures")
    disclosures: dict[str, Disclosure] = {}
    for position, record in enumerate(records, start=1):
        disclosure_id = record.get("id", "<no id>") if isinstance(record, dict) else "<not a mapping>"
        try:
            disclosure = Disclosure.model_validate(record)
        except ValidationError as error:
            raise KnowledgeBaseError(
                f"{path}: disclosure {disclosure_id!r} (entry {position}): {_describe(error)}"
            ) from error
        if disclosure.id in disclosures:
            raise KnowledgeBaseError(
                f"{path}: disclosure {disclosure.id!r} (entry {position}) is defined twice"
            )
        disclosures[disclosure.id] = disclosure
    return tuple(disclosures.values())


def load_policies(folder: Path) -> tuple[PolicyDocument, ...]:
    paths = sorted(folder.glob("*.md"))
    if not paths:
        raise KnowledgeBaseError(f"{folder}: no policy documents (*.md) found")
    policies: dict[str, tuple[Path, PolicyDocument]] = {}
    for path in paths:
        policy = load_policy(path)
        if policy.id in policies:
            first_path = policies[policy.id][0]
            raise KnowledgeBaseError(f"{path}: policy id {policy.id!r} is already used by {first_path}")
        policies[policy.id] = (path, policy)
    return tuple(policy for _, policy in policies.values())


def load_policy(path: Path) -> PolicyDocument:
    header, body = _split_front_matter(path)
    doc_id = str(header.get("id", ""))
    title = str(header.get("title", ""))
    try:
        sections = _parse_sections(body, doc_id=doc_id, doc_title=title)
        return PolicyDocument.model_validate({**header, "sections": sections})
    except ValidationError as error:
        raise KnowledgeBaseError(f"{path}: policy {doc_id!r}: {_describe(error)}") from error
    except ValueError as error:
        raise KnowledgeBaseError(f"{path}: policy {doc_id!r}: {error}") from error


def _yaml_list(path: Path, key: str) -> list[Any]:
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KnowledgeBaseError(f"{path}: file not found") from None
    except yaml.YAMLError as error:
        raise KnowledgeBaseError(f"{path}: invalid YAML: {error}") from error
    if not isinstance(content, dict) or not isinstance(content.get(key), list):
        raise KnowledgeBaseError(f"{path}: expected a top-level '{key}:' list")
    return content[key]


def _split_front_matter(path: Path) -> tuple[dict[str, Any], str]:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise KnowledgeBaseError(f"{path}: missing front matter (a '---' block at the top)")
    try:
        end = next(i for i, line in enumerate(lines[1:], start=1) if line.strip() == "---")
    except StopIteration:
        raise KnowledgeBaseError(f"{path}: front matter is not closed by '---'") from None
    try:
        header = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as error:
        raise KnowledgeBaseError(f"{path}: invalid front matter YAML: {error}") from error
    if not isinstance(header, dict):
        raise KnowledgeBaseError(f"{path}: front matter must be a mapping")
    return header, "\n".join(lines[end + 1:])


def _parse_sections(body: str, doc_id: str, doc_title: str) -> list[dict[str, Any]]:
    """Split a policy body into sections: every '###' and every '##' without subsections.

    A '##' section that has subsections becomes a section of its own only when it has
    text before its first subsection. Text above the first '##' (the title) is dropped.
    """
    headings: list[tuple[int, str, str, list[str]]] = []  # level, number, heading, lines
    for line in body.splitlines():
        match = _HEADING.match(line)
        if match:
            numbered = _NUMBERED_HEADING.match(match.group(2))
            if not numbered:
                raise ValueError(f"heading {line.strip()!r} is not numbered like '## 3. Title'")
            headings.append((len(match.group(1)), numbered.group(1), numbered.group(2), []))
        elif headings:
            headings[-1][3].append(line)
    if not headings:
        raise ValueError("no numbered '## ' sections")

    sections: list[dict[str, Any]] = []
    seen: set[str] = set()
    parent: tuple[str, str] | None = None
    for index, (level, number, heading, lines) in enumerate(headings):
        text = "\n".join(lines).strip()
        if number in seen:
            raise ValueError(f"section {number} appears twice")
        seen.add(number)
        if level == 2:
            if "." in number:
                raise ValueError(f"'##' section {number} must have a whole number")
            parent = (number, heading)
            has_subsections = index + 1 < len(headings) and headings[index + 1][0] == 3
            if has_subsections and not text:
                continue
            if not text:
                raise ValueError(f"section {number} has no text")
            sections.append(_section(doc_id, doc_title, number, heading, text, None))
        else:
            if parent is None or not number.startswith(parent[0] + "."):
                raise ValueError(f"subsection {number} is not inside its '##' section")
            if not text:
                raise ValueError(f"section {number} has no text")
            sections.append(_section(doc_id, doc_title, number, heading, text, parent[1]))
    return sections


def _section(doc_id: str, doc_title: str, number: str, heading: str, text: str,
             parent_heading: str | None) -> dict[str, Any]:
    return {"doc_id": doc_id, "doc_title": doc_title, "section_id": number, "heading": heading,
            "text": text, "parent_heading": parent_heading}


def _describe(error: ValidationError) -> str:
    parts = []
    for detail in error.errors():
        location = ".".join(str(part) for part in detail["loc"])
        parts.append(f"{location}: {detail['msg']}" if location else detail["msg"])
    return "; ".join(parts)


# --- retrieval chunks ----------------------------------------------------------------------


def _product_chunk(product: Product, knowledge: KnowledgeBase) -> KnowledgeChunk:
    return KnowledgeChunk(
        id=f"product:{product.code}",
        doc_id=product.code,
        kind="product",
        title=product.name,
        text=render_product(product, knowledge),
        metadata={"doc_id": product.code, "kind": "product", "product_code": product.code,
                  "section": ""},
    )


def _policy_chunk(section: PolicySection) -> KnowledgeChunk:
    context = f" (part of {section.parent_heading})" if section.parent_heading else ""
    text = (f"{section.doc_title} ({section.doc_id}) §{section.section_id} "
            f"{section.heading}{context}\n\n{section.text}")
    return KnowledgeChunk(
        id=f"policy:{section.doc_id}:{section.section_id}",
        doc_id=section.doc_id,
        kind="policy",
        title=f"{section.citation} {section.heading}",
        text=text,
        metadata={"doc_id": section.doc_id, "kind": "policy", "product_code": "",
                  "section": section.section_id},
    )


def _disclosure_chunk(disclosure: Disclosure) -> KnowledgeChunk:
    applies = ", ".join(_TYPE_LABELS[t] for t in disclosure.applies_to)
    return KnowledgeChunk(
        id=f"disclosure:{disclosure.id}",
        doc_id=disclosure.id,
        kind="disclosure",
        title=disclosure.title,
        text=f"Disclosure {disclosure.id}: {disclosure.title}. Applies to: {applies}.\n\n{disclosure.text}",
        metadata={"doc_id": disclosure.id, "kind": "disclosure", "product_code": "", "section": ""},
    )


def render_product(product: Product, knowledge: KnowledgeBase) -> str:
    """A product as readable prose; the most distinctive facts come first."""
    lines = [f"{product.name} ({product.code}), {_TYPE_LABELS[product.type]}. {product.summary}"]
    if product.apr_min is not None and product.apr_max is not None:
        if product.apr_min == product.apr_max:
            lines.append(f"APR: {product.apr_min:g}%.")
        else:
            lines.append(f"APR: {product.apr_min:g}% to {product.apr_max:g}% depending on the "
                         "customer's risk band (band A lowest, band E highest).")
    if product.interest_rate is not None:
        lines.append(f"Interest rate: {product.interest_rate:.2f}% AER.")
    if product.risk_level is not None:
        lines.append(f"Investment risk level: {product.risk_level} on a scale of 1 (lowest) to 7 (highest).")
    if product.fees:
        lines.append("Fees: " + "; ".join(_render_fee(k, v) for k, v in product.fees.items()) + ".")
    if product.rewards:
        lines.append(f"Rewards and benefits: {product.rewards}")
    lines.append(product.representative_example)
    ranges = []
    if product.term_months_min is not None or product.term_months_max is not None:
        ranges.append(f"term {_range(product.term_months_min, product.term_months_max, _months)}")
    if product.amount_min is not None or product.amount_max is not None:
        ranges.append(f"{_AMOUNT_LABELS[product.type]} "
                      f"{_range(product.amount_min, product.amount_max, _eur)}")
    if ranges:
        lines.append("Limits: " + "; ".join(ranges) + ".")
    lines.append("Eligibility: " + _render_eligibility(product.eligibility) + ".")
    lines.append("Suits customer needs: " + ", ".join(n.replace("_", " ") for n in product.needs) + ".")
    titles = [f"{knowledge.disclosure(d).title} ({d})" for d in product.disclosures]
    lines.append("Required disclosures: " + "; ".join(titles) + ".")
    lines.append("Policies: " + ", ".join(product.documents) + ".")
    return "\n".join(lines)


def _render_eligibility(rules: Eligibility) -> str:
    parts = [f"minimum annual income {_eur(rules.min_income)}" if rules.min_income
             else "no minimum income"]
    if rules.max_dti is not None:
        parts.append(f"debt-to-income ratio at most {rules.max_dti:.2f} including the new payment")
    parts.append(f"risk band {rules.max_risk_band} or better" if rules.max_risk_band != "E"
                 else "any risk band")
    parts.append(f"minimum age {rules.min_age}")
    if rules.min_tenure_months:
        parts.append(f"at least {rules.min_tenure_months} months as a Northbridge customer")
    parts.append("marketing consent required" if rules.requires_marketing_consent
                 else "no marketing consent required")
    if rules.max_existing_utilisation is not None:
        parts.append(f"existing credit utilisation at most {rules.max_existing_utilisation:.0%}")
    parts.extend(rules.other)
    return "; ".join(parts)


def _render_fee(name: str, value: float | str) -> str:
    label = name.removesuffix("_pct").removesuffix("_months").replace("_", " ")
    if isinstance(value, str):
        return f"{label}: {value}"
    if name.endswith("_pct"):
        if not any(word in label for word in ("fee", "rate", "charge")):
            label += " fee"
        return f"{label}: {value:g}%"
    if name.endswith("_months"):
        return f"{label}: {_months(value)}"
    return f"{label}: {_eur(value)}"


def _range(low: float | None, high: float | None, fmt: Callable[[float], str]) -> str:
    if low is not None and high is not None:
        return fmt(low) if low == high else f"{fmt(low)} to {fmt(high)}"
    if low is not None:
        return f"from {fmt(low)}"
    return f"up to {fmt(high)}"


def _eur(amount: float) -> str:
    return f"EUR {amount:,.0f}" if float(amount).is_integer() else f"EUR {amount:,.2f}"


def _months(months: float) -> str:
    return f"{months:g} months"
