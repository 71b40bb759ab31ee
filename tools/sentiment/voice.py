"""A customer's voice: mood, complaints, churn risk, goals and vulnerability from their texts.

Definitions (all windows end on ``as_of``; texts dated after it are ignored):

* **texts considered**: interactions, plus social posts only when the customer gave
  ``consent_social``, from the last :data:`ANALYSIS_DAYS` days.
* **mood**: mean sentiment of the texts of the last :data:`MOOD_DAYS` days, each weighted
  by ``0.5 ** (age_days / MOOD_HALF_LIFE_DAYS)``; None when there is no recent text.
* **trend**: unweighted mean sentiment of the last 90 days minus that of the
  :data:`TREND_BEFORE_DAYS` days before them; ``improving`` / ``worsening`` beyond
  ±:data:`TREND_THRESHOLD`, else ``stable``; None when either period has no text.
* **open complaint**: an interaction of the last :data:`COMPLAINT_DAYS` days on the
  ``complaint`` channel or classified as ``complaint_service`` or ``fee_dispute``, with no
  later interaction or post from the customer that says it was resolved (sorted, fixed,
  refunded, resolved ...).
* **churn risk**: points = 2 for a ``churn_risk`` text in the last 90 days + open
  complaints (at most 2) + 1 for a negative mood + 1 for a worsening trend; ``high`` from
  3 points, ``medium`` from 1, else ``low``.
* **goals / product interests**: need tags of the product catalogue, from the intents of
  the texts considered, refined by keywords (a loan for a car -> ``car_purchase``).
* **vulnerability signals**: hardship intent and wording about job loss, bereavement,
  illness, gambling or distress, each with the ids of the texts that show it.
* **injection attempts**: texts holding instructions to the assistant ("ignore previous
  instructions", "you are now", "approve my loan", "system prompt" ...). They are
  flagged, the instruction sentences are left out before scoring, and excerpts show
  ``[instruction removed]`` in their place: nothing in a customer's text is ever obeyed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from tools.findings import DetectedIntent, ScoredText, SentimentFinding
from tools.sentiment.scorer import SentimentScorer, mood_label

ANALYSIS_DAYS = 365
MOOD_DAYS = 90
MOOD_HALF_LIFE_DAYS = 30.0
TREND_BEFORE_DAYS = 180
TREND_THRESHOLD = 0.2
COMPLAINT_DAYS = 60
CHURN_DAYS = 90
MIN_INTENT_CONFIDENCE = 0.35
EXCERPT_CHARS = 200
RECENT_TEXTS = 10
COMPLAINT_INTENTS = frozenset({"complaint_service", "fee_dispute"})
TOOLS_CALLED = ["score_sentiment", "classify_intent", "analyse_voice"]
INJECTION_PLACEHOLDER = "[instruction removed]"

INJECTION_PATTERNS = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\bignore\s+(?:all\s+|any\s+|the\s+|your\s+)?(?:previous|prior|above|earlier|preceding)\b",
        r"\bignore\s+(?:all|your|the)\s+(?:instructions|rules|guidelines|policies|policy)\b",
        (
            r"\bdisregard\s+(?:all\s+|any\s+|the\s+|your\s+)?(?:previous\s+|prior\s+)?"
            r"(?:instructions|rules|guidelines|policy|policies|above)\b"
        ),
        (
            r"\bforget\s+(?:all\s+|the\s+|your\s+)?(?:previous\s+)?(?:compliance\s+)?"
            r"(?:instructions|rules|policy|guidelines)\b"
        ),
        r"\byou\s+are\s+now\b",
        r"\bdeveloper\s+mode\b",
        r"\bsystem\s+prompt\b",
        r"(?:^|[\s.!?])system\s*:",
        r"\[/?inst\]|</s>|<\|im_start\|>|<\|system\|>",
        r"\bnew\s+instructions?\b",
        r"\boverride\s*:",
        r"\b(?:you\s+must|please)\s+approve\b",
        r"\bapprove\s+my\s+(?:loan|mortgage|application|credit|limit)\b",
        r"\bas\s+the\s+bank'?s\s+(?:ai|assistant|bot)\b",
        r"\breply\s+only\s+with\b",
        r"\bmark\s+(?:this|me|the)\s+customer\s+as\b",
        r"\bset\s+(?:my\s+|the\s+)?default\s+probability\b",
        r"\bskip\s+the\s+(?:critic|checks?|compliance)\b",
        r"\bwithout\s+(?:any\s+)?checks\b",
        r"\breveal\s+(?:other\s+customers|the\s+system|your\s+instructions)",
        r"\bprint\s+the\s+full\s+card\s+number\b",
        r"\bdo\s+not\s+log\s+this\b",
    )
)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+|\s+(?=</s>|\[/?INST\])", re.IGNORECASE)

RESOLUTION_PATTERN = re.compile(
    r"\b(?:(?:has|have|was|were|got|is|all|now|finally)\s+(?:been\s+)?(?:sorted|resolved|fixed)|"
    r"thanks?\s+(?:you\s+)?for\s+(?:sorting|fixing|resolving|refunding)|issue\s+(?:is\s+)?(?:closed|resolved)|"
    r"problem\s+solved|refund(?:ed)?\s+(?:came\s+through|received|arrived)|"
    r"(?:got|received)\s+(?:the|my)\s+refund)\b",
    re.IGNORECASE,
)

VULNERABILITY_PATTERNS: dict[str, re.Pattern[str]] = {
    "job loss": re.compile(
        r"\b(?:lost\s+(?:my|his|her|our)\s+job|laid\s+off|made\s+redundant|redundanc(?:y|ies)|unemployed|"
        r"between\s+jobs|on\s+the\s+dole|out\s+of\s+work|(?:hours|pay)\s+(?:were|was|got)\s+cut)\b",
        re.IGNORECASE,
    ),
    "bereavement": re.compile(
        r"\b(?:passed\s+away|bereave\w*|funeral|widow(?:ed|er)?|(?:my|our)\s+(?:\w+\s+)?(?:died|death))\b",
        re.IGNORECASE,
    ),
    "illness": re.compile(
        r"\b(?:diagnosed|illness|seriously\s+ill|in\s+hospital|cancer|surgery|chemo\w*|disabilit\w+|"
        r"mental\s+health|depress(?:ion|ed)|long[-\s]term\s+sick|sick\s+leave)\b",
        re.IGNORECASE,
    ),
    "gambling": re.compile(r"\b(?:gambl\w+|betting|bookies|casino|bet365|paddy\s*power)\b", re.IGNORECASE),
    "distress": re.compile(
        r"\b(?:can'?t\s+sleep|wits'?\s+end|drowning\s+in\s+debt|scared\s+of\s+what\s+happens|desperate|"
        r"overwhelmed|suicid\w*|don'?t\s+know\s+how\s+i'?m\s+going\s+to\s+pay|can'?t\s+cope|panic\w*)\b",
        re.IGNORECASE,
    ),
}

# Need tags of the product catalogue each intent points to, before keyword refinements.
NEEDS_BY_INTENT: dict[str, tuple[str, ...]] = {
    "mortgage_interest": ("home_purchase",),
    "balance_transfer_interest": ("balance_transfer", "lower_interest"),
    "savings_goal": ("saving_goal",),
    "investment_interest": ("investing_balanced",),
    "travel_plans": ("travel",),
    "loan_inquiry": (),
    "fee_dispute": ("fee_reduction",),
    "hardship": ("hardship_support",),
}
GOAL_TAGS = frozenset(
    {
        "home_purchase",
        "remortgage",
        "saving_goal",
        "emergency_fund",
        "long_term_saving",
        "travel",
        "car_purchase",
        "debt_consolidation",
    }
)
_KEYWORD_NEEDS: dict[str, tuple[tuple[re.Pattern[str], str], ...]] = {
    "loan_inquiry": (
        (re.compile(r"\b(?:car|van|vehicle|motor)\b", re.IGNORECASE), "car_purchase"),
        (re.compile(r"\b(?:consolidat\w*|my\s+debts|clear\s+my\s+cards?)\b", re.IGNORECASE), "debt_consolidation"),
    ),
    "mortgage_interest": (
        (
            re.compile(
                r"\b(?:remortgage|switch\w*\s+my\s+mortgage|fixed\s+rate\s+ends|better\s+rate)\b", re.IGNORECASE
            ),
            "remortgage",
        ),
    ),
    "savings_goal": (
        (re.compile(r"\b(?:emergency|rainy[-\s]day)\b", re.IGNORECASE), "emergency_fund"),
        (
            re.compile(r"\b(?:retirement|pension|long\s+term|(?:five|ten|\d+)\s+years)\b", re.IGNORECASE),
            "long_term_saving",
        ),
        (re.compile(r"\b(?:house|home)\s+deposit\b", re.IGNORECASE), "home_purchase"),
        (re.compile(r"\bnew\s+car\b", re.IGNORECASE), "car_purchase"),
    ),
    "investment_interest": (
        (re.compile(r"\b(?:retirement|pension|long\s+term)\b", re.IGNORECASE), "long_term_saving"),
    ),
    "travel_plans": (
        (
            re.compile(r"\b(?:abroad|foreign|exchange\s+rate|fees?\s+if\s+i\s+use|overseas)\b", re.IGNORECASE),
            "foreign_spending",
        ),
    ),
}
# A loan enquiry with no purpose keyword points to the general-purpose personal loan,
# which the catalogue tags as 'lower_interest'.
_LOAN_DEFAULT_NEED = "lower_interest"


@dataclass(frozen=True)
class CustomerText:
    source_id: str
    at: pd.Timestamp
    channel: str
    text: str
    is_post: bool

    @property
    def day(self) -> date:
        return self.at.date()


def find_injection(text: str) -> bool:
    return any(p.search(text or "") for p in INJECTION_PATTERNS)


def strip_injections(text: str) -> tuple[str, bool]:
    """The text without the sentences that instruct the assistant, and whether there were any."""
    if not find_injection(text):
        return text, False
    kept = []
    for sentence in _SENTENCE_SPLIT.split(text):
        if find_injection(sentence):
            if not kept or kept[-1] != INJECTION_PLACEHOLDER:
                kept.append(INJECTION_PLACEHOLDER)
        elif sentence.strip():
            kept.append(sentence.strip())
    return " ".join(kept), True


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """Personal data masked, at most ``limit`` characters."""
    from bank.privacy import mask_card_numbers, redact

    clean = " ".join(redact(mask_card_numbers(text or "")).split())
    return clean if len(clean) <= limit else clean[: limit - 1].rstrip() + "…"


def collect_texts(
    interactions: pd.DataFrame, social_posts: pd.DataFrame | None, consent_social: bool, as_of: date
) -> list[CustomerText]:
    """Interactions, and social posts only with consent, from the analysis window, oldest first."""
    start = as_of - timedelta(days=ANALYSIS_DAYS)
    texts = _frame_texts(interactions, "interaction_id", "int", "channel", start, as_of, is_post=False)
    if consent_social and social_posts is not None:
        texts += _frame_texts(social_posts, "post_id", "post", "platform", start, as_of, is_post=True)
    return sorted(texts, key=lambda t: (t.at, t.source_id))


def _frame_texts(
    frame: pd.DataFrame | None,
    id_column: str,
    prefix: str,
    channel_column: str,
    start: date,
    as_of: date,
    is_post: bool,
) -> list[CustomerText]:
    if frame is None or frame.empty:
        return []
    stamps = pd.to_datetime(frame["timestamp"], errors="coerce")
    channels = frame[channel_column] if channel_column in frame.columns else pd.Series("", index=frame.index)
    texts = []
    for source, at, channel, text in zip(frame[id_column], stamps, channels, frame["text"], strict=True):
        if pd.isna(at) or not isinstance(text, str) or not text.strip() or not (start < at.date() <= as_of):
            continue
        texts.append(
            CustomerText(f"{prefix}:{source}", at, str(channel or ("social" if is_post else "")), text, is_post)
        )
    return texts


def analyse_voice(
    interactions: pd.DataFrame,
    social_posts: pd.DataFrame | None,
    consent_social: bool,
    as_of: date,
    scorer: SentimentScorer,
    classifier,
) -> SentimentFinding:
    """Mood, trend, complaints, churn risk, goals, vulnerability and injections from one customer's texts."""
    texts = collect_texts(interactions, social_posts, consent_social, as_of)
    if not texts:
        return SentimentFinding(
            available=False,
            missing_reason=(
                f"no interactions{' or consented social posts' if consent_social else ''} "
                f"in the {ANALYSIS_DAYS} days up to {as_of.isoformat()}"
            ),
            social_consent=consent_social,
            tools_called=TOOLS_CALLED,
        )
    cleaned = [strip_injections(t.text) for t in texts]
    injections = [t.source_id for t, (_, found) in zip(texts, cleaned, strict=True) if found]
    bodies = [body for body, _ in cleaned]
    sentiments = np.asarray(scorer.score_sentiment(bodies), dtype=float)
    predictions = classifier.predict(bodies)
    intents = [p.intent if p.confidence >= MIN_INTENT_CONFIDENCE else "unclear" for p in predictions]
    ages = np.asarray([(as_of - t.day).days for t in texts], dtype=float)

    mood = _recency_weighted_mood(sentiments, ages)
    trend = _trend(sentiments, ages)
    open_complaints = _open_complaints(texts, intents, ages)
    churn_intent = any(i == "churn_risk" and a <= CHURN_DAYS for i, a in zip(intents, ages, strict=True))
    label = mood_label(mood)
    goals, interests = _needs(texts, intents, bodies)
    recent_order = list(reversed(range(len(texts))))
    recent = [
        ScoredText(
            source_id=texts[i].source_id,
            date=texts[i].day,
            channel=texts[i].channel,
            sentiment=float(np.clip(sentiments[i], -1, 1)),
            intent=intents[i],
            intent_confidence=predictions[i].confidence,
            excerpt=excerpt(bodies[i]),
        )
        for i in recent_order[:RECENT_TEXTS]
    ]
    return SentimentFinding(
        evidence=[t.source_id for t in texts],
        tools_called=TOOLS_CALLED,
        texts_considered=len(texts),
        social_posts_used=sum(t.is_post for t in texts),
        social_consent=consent_social,
        mood=None if mood is None else round(mood, 3),
        mood_label=label,
        mood_trend=trend,
        open_complaints=len(open_complaints),
        churn_risk=_churn_risk(churn_intent, len(open_complaints), label, trend),
        intents=_detected_intents(texts, intents, predictions),
        goals=goals,
        product_interests=interests,
        vulnerability_signals=_vulnerability_signals(texts, intents, bodies),
        recent=recent,
        injection_attempts=injections,
    )


def _recency_weighted_mood(sentiments: np.ndarray, ages: np.ndarray) -> float | None:
    recent = ages <= MOOD_DAYS
    if not recent.any():
        return None
    weights = 0.5 ** (ages[recent] / MOOD_HALF_LIFE_DAYS)
    return float(np.average(sentiments[recent], weights=weights))


def _trend(sentiments: np.ndarray, ages: np.ndarray) -> str | None:
    recent = ages <= MOOD_DAYS
    before = (ages > MOOD_DAYS) & (ages <= MOOD_DAYS + TREND_BEFORE_DAYS)
    if not recent.any() or not before.any():
        return None
    change = float(sentiments[recent].mean() - sentiments[before].mean())
    if change >= TREND_THRESHOLD:
        return "improving"
    if change <= -TREND_THRESHOLD:
        return "worsening"
    return "stable"


def _open_complaints(texts: Sequence[CustomerText], intents: Sequence[str], ages: np.ndarray) -> list[str]:
    """Ids of complaints without a later resolution mention (texts are sorted oldest first)."""
    open_ids = []
    for i, text in enumerate(texts):
        is_complaint = not text.is_post and (text.channel == "complaint" or intents[i] in COMPLAINT_INTENTS)
        if not is_complaint or ages[i] > COMPLAINT_DAYS:
            continue
        resolved = any(RESOLUTION_PATTERN.search(later.text) for later in texts[i + 1 :])
        if not resolved:
            open_ids.append(text.source_id)
    return open_ids


def _churn_risk(churn_intent: bool, open_complaints: int, label: str | None, trend: str | None) -> str:
    points = 2 * churn_intent + min(open_complaints, 2) + (label == "negative") + (trend == "worsening")
    if points >= 3:
        return "high"
    if points >= 1:
        return "medium"
    return "low"


def _detected_intents(texts: Sequence[CustomerText], intents: Sequence[str], predictions) -> list[DetectedIntent]:
    grouped: dict[str, list[int]] = {}
    for i, intent in enumerate(intents):
        if intent != "unclear":
            grouped.setdefault(intent, []).append(i)
    detected = [
        DetectedIntent(
            intent=intent,
            count=len(rows),
            confidence=round(float(np.mean([predictions[i].confidence for i in rows])), 3),
            last_seen=max(texts[i].day for i in rows),
            evidence=[texts[i].source_id for i in rows],
        )
        for intent, rows in grouped.items()
    ]
    return sorted(detected, key=lambda d: (-d.count, -d.last_seen.toordinal(), d.intent))


def needs_for_text(intent: str, text: str) -> list[str]:
    """Catalogue need tags one text points to, from its intent and its wording."""
    needs = list(NEEDS_BY_INTENT.get(intent, ()))
    for pattern, need in _KEYWORD_NEEDS.get(intent, ()):
        if pattern.search(text) and need not in needs:
            needs.append(need)
    if intent == "loan_inquiry" and not needs:
        needs.append(_LOAN_DEFAULT_NEED)
    return needs


def _needs(
    texts: Sequence[CustomerText], intents: Sequence[str], bodies: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Goals and product interests, most recent first, each tag once."""
    interests: list[str] = []
    for i in sorted(range(len(texts)), key=lambda k: texts[k].day, reverse=True):
        for need in needs_for_text(intents[i], bodies[i]):
            if need not in interests:
                interests.append(need)
    goals = [n for n in interests if n in GOAL_TAGS]
    return goals, interests


def _vulnerability_signals(
    texts: Sequence[CustomerText], intents: Sequence[str], bodies: Sequence[str]
) -> list[str]:
    sources: dict[str, list[str]] = {}
    for text, intent, body in zip(texts, intents, bodies, strict=True):
        if intent == "hardship":
            sources.setdefault("financial hardship", []).append(text.source_id)
        for kind, pattern in VULNERABILITY_PATTERNS.items():
            if pattern.search(body):
                sources.setdefault(kind, []).append(text.source_id)
    return [f"{kind} mentioned ({', '.join(ids[-3:])})" for kind, ids in sources.items()]


def voice_for_customer(
    store, customer_id: str, as_of: date, scorer: SentimentScorer, classifier
) -> SentimentFinding:
    """:func:`analyse_voice` over one customer's texts in the data store (posts only with consent)."""
    customer = store.customer(customer_id)
    if customer is None:
        return SentimentFinding(
            available=False, missing_reason=f"unknown customer {customer_id}", tools_called=TOOLS_CALLED
        )
    consent = bool(customer.consent_social)
    interactions = store.interactions(customer_id)
    posts = store.social_posts(customer_id, consented_only=True) if consent else None
    return analyse_voice(interactions, posts, consent, as_of, scorer, classifier)


def as_langchain_tools(store, scorer: SentimentScorer, classifier, as_of: date | None = None) -> list:
    """LangChain wrappers of the voice analysis (built on demand, never at import)."""
    from langchain_core.tools import StructuredTool

    def customer_voice(customer_id: str) -> dict:
        """Mood, trend, open complaints, churn risk, goals, product interests, vulnerability signals
        and flagged prompt-injection attempts from a customer's interactions and consented social posts."""
        day = as_of or store.latest_date() or date.today()
        return voice_for_customer(store, customer_id, day, scorer, classifier).model_dump(mode="json")

    def score_texts(texts: list[str]) -> list[float]:
        """Financial sentiment of each text, from -1 (negative) to 1 (positive)."""
        return scorer.score_sentiment(texts)

    return [
        StructuredTool.from_function(customer_voice, name="customer_voice"),
        StructuredTool.from_function(score_texts, name="score_sentiment"),
    ]
