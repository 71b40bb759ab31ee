"""The supervised fine-tuning set, built from the audit trail.

Positives are answers that compliance signed off or an advisor rated up, with no
negative signal. Negatives (kept apart, for preference tuning) are answers that
compliance flagged, an advisor rated down or the critic blocked. A later review of the
same kind replaces an earlier one; a sign-off counts only for the exact answer it names.

The audit record keeps the findings, the (redacted) question and the answer, but not the
composer's prompt text, only the hashes of its templates. So each prompt is rebuilt with
the composer's own prompt builder (:func:`agents.composer.composer_messages`) from the
recorded findings. Two things differ from the prompt the model saw: the retrieved
documents are left out (the record keeps only their ids), and the customer id is written
as ``[CUSTOMER]``. Every string then goes through the project's redaction with the
customer's known identifiers, so names, e-mails, phones and card numbers do not leave.

Near-duplicates (the same text up to case, punctuation and spacing, or the same figures
with a cosine similarity of word 1-3-grams at or above a threshold) are dropped, the
first kept.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

CUSTOMER_PLACEHOLDER = "[CUSTOMER]"
_FALLBACK_NOTE = re.compile(r"\s*_Written by the offline composer:[^\n]*_\s*$")
_WORDS = re.compile(r"\w+")
_FIGURES = re.compile(r"\d+(?:[.,]\d+)*")
_SIMILARITY_CHUNK = 256

IdentifiersFor = Callable[[str], Sequence[str]]


class SftExample(BaseModel):
    trace_id: str
    messages: list[dict[str, str]] = Field(
        description="system, user (the composer prompt), assistant (the answer)")
    approved_by: list[str] = Field(description="signoff and/or rated_up")
    topic: str = Field(description="The agents the question was routed to, joined by '+'.")


class NegativeExample(BaseModel):
    trace_id: str
    prompt: list[dict[str, str]] = Field(description="system and user messages")
    rejected: str | None = Field(description="The answer that was turned down; None when the critic blocked it "
                                             "(the audit keeps only the block notice, not the draft).")
    chosen: str | None = Field(None, description="An approved answer to the same prompt, when there is one.")
    reasons: list[str] = Field(description="flagged, rated_down and/or blocked")
    issues: list[str] = Field(default_factory=list, description="The critic's issues for a blocked answer.")


class ExportCounts(BaseModel):
    answers: int = 0
    approved: int = 0
    positives: int = 0
    negatives: int = 0
    preference_pairs: int = Field(0, description="Negatives with both a rejected and a chosen answer.")
    unreviewed: int = 0
    duplicates_removed: int = 0
    skipped_erased: int = 0
    skipped_unreadable: int = 0
    prompt_templates_changed: int = Field(
        0, description="Examples whose answer was written with other composer templates than today's.")
    by_topic: dict[str, int] = Field(default_factory=dict)


class ExportSet(BaseModel):
    positives: list[SftExample]
    negatives: list[NegativeExample]
    counts: ExportCounts
    largest_customer_share: float = 0.0


class ExportFiles(BaseModel):
    sft: Path
    negatives: Path
    manifest: Path


@dataclass
class _Trace:
    answer: Any = None
    review: str | None = None  # the latest of signoff / flag for this answer
    feedback: int | None = None  # the latest thumbs up (1) or down (0)
    reasons: list[str] = field(default_factory=list)


def _traces(records: Iterable[Any]) -> dict[str, _Trace]:
    traces: dict[str, _Trace] = {}
    for record in sorted(records, key=lambda r: r.seq):
        trace = traces.setdefault(record.trace_id, _Trace())
        if record.kind == "answer":
            trace.answer, trace.review, trace.feedback = record, None, None
        elif record.kind in ("signoff", "flag") and trace.answer is not None:
            if record.payload.get("reviewed_hash") in (None, trace.answer.hash):
                trace.review = record.kind
        elif record.kind == "feedback" and trace.answer is not None:
            value = record.payload.get("value")
            if value is not None:
                trace.feedback = int(value)
    return {trace_id: trace for trace_id, trace in traces.items() if trace.answer is not None}


def composer_prompt(payload: dict[str, Any], has_customer: bool) -> list[dict[str, str]]:
    """The composer's system and user messages for a recorded answer, rebuilt from its findings."""
    from agents.composer import composer_messages
    from tools.findings import Findings

    findings = Findings.model_validate(payload.get("findings") or {})
    messages, _ = composer_messages(payload["question"], findings, [], lambda _messages: True,
                                    customer_id=CUSTOMER_PLACEHOLDER if has_customer else None)
    return messages


def _current_template_hashes() -> dict[str, str]:
    from agents.composer import COMPOSER_PROMPTS
    from prompts import prompt_hash

    return {name: prompt_hash(name) for name in COMPOSER_PROMPTS}


def _scrub(value: Any, customer_id: str | None, identifiers: Sequence[str]) -> Any:
    from bank.privacy import redact_mapping

    if customer_id:
        pattern = re.compile(re.escape(customer_id), re.IGNORECASE)
        value = json.loads(pattern.sub(CUSTOMER_PLACEHOLDER, json.dumps(value, ensure_ascii=False)))
    return redact_mapping(value, identifiers)


def _normalised(text: str) -> str:
    return " ".join(_WORDS.findall(text.casefold()))


def unique_indices(texts: Sequence[str], similarity: float) -> list[int]:
    """Indices of the texts to keep: the first of each group of equal or near-equal texts.

    Near-equal means: the same figures, in the same order, and a cosine similarity of word
    1-3-grams of at least ``similarity``. Texts that state other figures describe other
    facts (another customer, another month) and are never duplicates, however alike.
    """
    normalised = [_normalised(text) for text in texts]
    seen: set[str] = set()
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, text in enumerate(normalised):
        digest = hashlib.sha256(text.encode()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            groups.setdefault(tuple(_FIGURES.findall(texts[index])), []).append(index)
    if similarity >= 1:
        return sorted(index for members in groups.values() for index in members)
    from sklearn.feature_extraction.text import HashingVectorizer

    vectoriser = HashingVectorizer(ngram_range=(1, 3), alternate_sign=False, binary=True, norm="l2",
                                   n_features=2**20)
    keep: list[int] = []
    for members in groups.values():
        if len(members) == 1:
            keep.extend(members)
            continue
        vectors = vectoriser.transform([normalised[i] for i in members])
        kept_rows: list[int] = []
        for start in range(0, vectors.shape[0], _SIMILARITY_CHUNK):
            block = (vectors[start:start + _SIMILARITY_CHUNK] @ vectors.T).toarray()
            for offset, row in enumerate(block):
                if not kept_rows or row[kept_rows].max() < similarity:
                    kept_rows.append(start + offset)
        keep.extend(members[row] for row in kept_rows)
    return sorted(keep)


def build_export(records: Iterable[Any], identifiers_for: IdentifiersFor, similarity: float = 0.95) -> ExportSet:
    """Positives and negatives from audit records (see the module docstring)."""
    counts = ExportCounts()
    current_hashes = _current_template_hashes()
    positives: list[tuple[SftExample, str | None]] = []
    negatives: list[NegativeExample] = []
    for trace_id, trace in _traces(records).items():
        counts.answers += 1
        record, payload = trace.answer, trace.answer.payload
        reasons = []
        if trace.review == "flag":
            reasons.append("flagged")
        if trace.feedback == 0:
            reasons.append("rated_down")
        if record.verdict == "blocked" or (payload.get("critic") or {}).get("verdict") == "blocked":
            reasons.append("blocked")
        approvals = [name for name, given in (("signoff", trace.review == "signoff"),
                                              ("rated_up", trace.feedback == 1)) if given]
        if not reasons and not approvals:
            counts.unreviewed += 1
            continue
        if not payload.get("question") or "findings" not in payload or "answer" not in payload:
            counts.skipped_erased += 1
            continue
        identifiers = list(identifiers_for(record.customer_id)) if record.customer_id else []
        try:
            prompt = _scrub(composer_prompt(payload, record.customer_id is not None), record.customer_id,
                            identifiers)
        except (ValueError, KeyError, TypeError):
            counts.skipped_unreadable += 1
            continue
        recorded = payload.get("prompt_hashes") or {}
        if any(recorded.get(name) not in (None, digest) for name, digest in current_hashes.items()):
            counts.prompt_templates_changed += 1
        answer = _scrub(_FALLBACK_NOTE.sub("", payload.get("answer") or "").strip(), record.customer_id,
                        identifiers)
        if reasons:
            issues = ((payload.get("critic") or {}).get("issues") or []) if "blocked" in reasons else []
            negatives.append(NegativeExample(
                trace_id=trace_id, prompt=prompt, rejected=None if "blocked" in reasons else answer,
                reasons=reasons, issues=_scrub(list(issues), record.customer_id, identifiers)))
            continue
        counts.approved += 1
        if not answer:
            counts.skipped_unreadable += 1
            continue
        topic = "+".join(payload.get("routed") or payload.get("agents") or []) or "general"
        example = SftExample(trace_id=trace_id, messages=[*prompt, {"role": "assistant", "content": answer}],
                             approved_by=approvals, topic=topic)
        positives.append((example, record.customer_id))

    keep = unique_indices([_example_text(example.messages) for example, _ in positives], similarity)
    counts.duplicates_removed = len(positives) - len(keep)
    positives = [positives[index] for index in keep]
    negative_texts = [_example_text([*n.prompt, {"role": "assistant", "content": n.rejected or ""}])
                      for n in negatives]
    negatives = [negatives[index] for index in unique_indices(negative_texts, 1.0)]

    chosen_for_prompt = {_normalised(example.messages[1]["content"]): example.messages[-1]["content"]
                         for example, _ in positives}
    for negative in negatives:
        negative.chosen = chosen_for_prompt.get(_normalised(negative.prompt[1]["content"]))
    counts.positives = len(positives)
    counts.negatives = len(negatives)
    counts.preference_pairs = sum(1 for n in negatives if n.rejected and n.chosen)
    counts.by_topic = dict(Counter(example.topic for example, _ in positives).most_common())
    customers = Counter(customer for _, customer in positives if customer)
    largest = customers.most_common(1)[0][1] / len(positives) if customers else 0.0
    return ExportSet(positives=[example for example, _ in positives], negatives=negatives, counts=counts,
                     largest_customer_share=round(largest, 4))


def _example_text(messages: Sequence[dict[str, str]]) -> str:
    return "\n".join(message["content"] for message in messages if message["role"] != "system")


def refusal(export: ExportSet, min_examples: int, max_share: float) -> str | None:
    """Why this set must not be used for training, or None when it may."""
    counts = export.counts
    if counts.positives < min_examples:
        return (f"too small: {counts.positives} approved answers after removing duplicates "
                f"({counts.approved} approved, {counts.duplicates_removed} duplicates), at least {min_examples} "
                f"needed")
    topic, largest = next(iter(counts.by_topic.items()))
    if largest / counts.positives > max_share:
        return (f"unbalanced: {largest / counts.positives:.0%} of the examples are about {topic} "
                f"(at most {max_share:.0%} allowed); approve answers on other topics first")
    if export.largest_customer_share > max_share:
        return (f"unbalanced: one customer accounts for {export.largest_customer_share:.0%} of the examples "
                f"(at most {max_share:.0%} allowed)")
    return None


def export_paths(out: Path) -> ExportFiles:
    out = Path(out)
    stem = out.name.removesuffix(".jsonl")
    return ExportFiles(sft=out, negatives=out.with_name(f"{stem}.negatives.jsonl"),
                       manifest=out.with_name(f"{stem}.manifest.json"))


def write_export(export: ExportSet, out: Path, manifest: dict[str, Any]) -> ExportFiles:
    """The SFT file (one ``{"messages": ...}`` per line), the negatives beside it, and a manifest."""
    files = export_paths(out)
    files.sft.parent.mkdir(parents=True, exist_ok=True)
    with files.sft.open("w", encoding="utf-8") as handle:
        for example in export.positives:
            handle.write(json.dumps({"messages": example.messages, "trace_id": example.trace_id,
                                     "approved_by": example.approved_by}, ensure_ascii=False) + "\n")
    with files.negatives.open("w", encoding="utf-8") as handle:
        for negative in export.negatives:
            handle.write(negative.model_dump_json() + "\n")
    files.manifest.write_text(json.dumps({**manifest, "counts": export.counts.model_dump(),
                                          "largest_customer_share": export.largest_customer_share},
                                         indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return files


def read_manifest(sft_file: Path) -> dict[str, Any] | None:
    path = export_paths(sft_file).manifest
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
