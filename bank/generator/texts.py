"""Customer texts: interactions with the bank and social posts, with their ground truth.

How often a customer writes, and about what, follows their situation: customers in
financial trouble or after a job loss write more and about hardship, fees and leaving;
victims of suspicious transactions report fraud a few days after it; people about to
marry, move or buy a car ask about loans, mortgages and savings; frequent travellers
post about trips. About 1 % of texts carry a card number, an e-mail address or a
phone number typed by the customer, and about 0.5 % a prompt-injection attempt.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bank.generator import catalog as cat
from bank.generator import templates as tpl
from bank.generator.batch import Batch, Chunk
from bank.generator.streams import pick, stream

PII_RATE = 0.01
INJECTION_RATE = 0.005
INTERACTION_CHANNELS = ("call", "chat", "email", "branch", "review", "complaint")
PLATFORMS = ("x", "facebook", "reddit", "instagram", "trustpilot")
TEXT_LABEL_COLUMNS = (
    "text_id",
    "source",
    "customer_id",
    "channel",
    "intent",
    "sentiment",
    "consent_social",
    "usable",
    "contains_pii",
    "pii_types",
    "injection",
)
_INTENT = {name: i for i, name in enumerate(tpl.INTENTS)}
_SENTENCE_START = re.compile(r"([.!?] )([a-z])")
_WORD_SWAPS = [(re.compile(rf"\b{re.escape(a)}\b", re.IGNORECASE), b) for a, b in tpl.INFORMAL_SWAPS]


@dataclass
class Situation:
    """Per customer facts the texts react to (day offsets; -1 where absent)."""

    troubled: np.ndarray
    first_trouble_day: np.ndarray
    anomaly_day: np.ndarray
    high_utilisation: np.ndarray
    join_day: np.ndarray
    job_loss_day: np.ndarray


def situation(chunk: Chunk, transactions: Batch) -> Situation:
    p, w, acc = chunk.people, chunk.window, chunk.accounts
    trouble = acc.trouble
    troubled = trouble.any(axis=1)
    first_month = np.where(troubled, trouble.argmax(axis=1), -1)
    first_trouble_day = np.where(troubled, w.month_start[np.maximum(first_month, 0)], -1)
    anomaly_day = np.full(len(p), -1, np.int64)
    flagged = transactions.anomaly >= 0
    np.maximum.at(anomaly_day, transactions.customer[flagged], transactions.day[flagged])
    table = acc.table
    cards = table[(table["type"] == "credit_card") & (table["status"] != "closed")]
    utilisation = (cards["balance"] / cards["credit_limit"]).to_numpy()
    high = np.zeros(len(p), bool)
    high[cards["_owner"].to_numpy()[utilisation > 0.7]] = True
    join_day = np.maximum(acc.opened_day_of(acc.holdings.checking), 0)
    job_loss_day = np.where(p.has_event("job_loss"), p.event_day, -1)
    return Situation(troubled, first_trouble_day, anomaly_day, high, join_day, job_loss_day)


def _intent_weights(chunk: Chunk, s: Situation, social: bool) -> np.ndarray:
    p = chunk.people
    n = len(p)
    base = {
        "general_inquiry": 3.0 if not social else 1.0,
        "card_problem": 1.2,
        "complaint_service": 0.8,
        "fee_dispute": 0.6,
        "loan_inquiry": 0.8,
        "mortgage_interest": 0.6,
        "investment_interest": 0.5,
        "savings_goal": 0.8,
        "churn_risk": 0.4,
        "fraud_report": 0.15,
        "hardship": 0.15,
        "balance_transfer_interest": 0.4,
        "travel_plans": 0.3 if not social else 2.5,
    }
    w = np.tile(np.array([base[name] for name in tpl.INTENTS]), (n, 1))

    def add(intent: str, mask: np.ndarray, amount: float) -> None:
        w[:, _INTENT[intent]] += amount * mask

    lost = p.has_event("job_loss")
    add("hardship", s.troubled, 6.0)
    add("hardship", lost, 5.0)
    add("fee_dispute", s.troubled, 1.5)
    add("complaint_service", s.troubled, 1.0)
    add("churn_risk", s.troubled, 1.0)
    add("fraud_report", s.anomaly_day >= 0, 5.0)
    add("balance_transfer_interest", s.high_utilisation, 2.0)
    renter = p.housing_before == cat.HOUSING.index("renter")
    add("mortgage_interest", renter & (p.age >= 25) & (p.age < 46) & (p.salary_income > 40_000), 2.5)
    add("mortgage_interest", p.has_event("moving_house"), 4.0)
    wealthy = (p.salary_income > 70_000) & (p.risk < 0.5)
    add("investment_interest", wealthy, 2.5)
    add("savings_goal", wealthy | p.has_event("new_baby") | p.has_event("wedding"), 2.5)
    add("loan_inquiry", p.has_event("new_car") | p.has_event("wedding"), 3.0)
    add("travel_plans", p.travel_affinity > 1.3, 2.0)
    add("fee_dispute", chunk.accounts.holdings.plus_account, 0.5)
    return w


class _Slots(dict):
    """Fills template slots on demand and remembers the feeling used."""

    def __init__(self, rnd: random.Random):
        super().__init__()
        self.rnd = rnd
        self.valence = 0.0

    def __missing__(self, key: str) -> str:
        rnd = self.rnd
        if key == "neg":
            text, self.valence = rnd.choice(tpl.FEELINGS_NEGATIVE)
            value = text
        elif key == "pos":
            text, self.valence = rnd.choice(tpl.FEELINGS_POSITIVE)
            value = text
        elif key == "purpose_cap":
            value = rnd.choice(tpl.FILLERS["purpose"]).capitalize()
        elif key in tpl.AMOUNT_RANGES:
            low, high, step = tpl.AMOUNT_RANGES[key]
            value = _money(rnd, rnd.randrange(low, high, step))
        else:
            value = rnd.choice(tpl.FILLERS[key])
        self[key] = value
        return value


def _money(rnd: random.Random, amount: int) -> str:
    style = rnd.random()
    if style < 0.55:
        return f"€{amount:,}"
    if style < 0.8:
        return f"{amount} euro"
    if style < 0.9:
        return f"EUR {amount:,}"
    return f"{amount:,} eur" if amount >= 1000 else f"€{amount}"


def _typos(rnd: random.Random, text: str, count: int) -> str:
    words = text.split(" ")
    for _ in range(count):
        i = rnd.randrange(len(words))
        word = words[i]
        if len(word) < 4 or not word.isalpha():
            continue
        j = rnd.randrange(1, len(word) - 1)
        kind = rnd.random()
        if kind < 0.4:
            word = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
        elif kind < 0.7:
            word = word[:j] + word[j + 1 :]
        else:
            word = word[:j] + word[j] + word[j:]
        words[i] = word
    return " ".join(words)


def _informal(rnd: random.Random, text: str) -> str:
    for pattern, replacement in _WORD_SWAPS:
        if rnd.random() < 0.5:
            text = pattern.sub(replacement, text)
    if rnd.random() < 0.5:
        text = text.lower()
    if rnd.random() < 0.3:
        text = text.replace(", ", " ").rstrip(".")
    if rnd.random() < 0.35:
        text = _typos(rnd, text, rnd.randint(1, 2))
    if rnd.random() < 0.1:
        text = text.rstrip(".!?") + "!!"
    return text


def luhn_card_number(rnd: random.Random) -> str:
    digits = [rnd.choice((4, 5))] + [rnd.randrange(10) for _ in range(14)]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    digits.append((10 - total % 10) % 10)
    return "".join(map(str, digits))


def _pii(rnd: random.Random, email: str, phone: str) -> tuple[str, str]:
    kind = rnd.choice(("card", "card", "email", "phone"))
    if kind == "card":
        number = luhn_card_number(rnd)
        separator = rnd.choice(("", " ", "-"))
        shown = separator.join(number[i : i + 4] for i in range(0, 16, 4))
        phrase = rnd.choice(
            (
                "My card number is {x}.",
                "card {x} is the one affected",
                "The card ending is on {x} btw.",
                "here's the card: {x}",
                "Card no. {x}",
            )
        )
    elif kind == "email":
        shown = email
        phrase = rnd.choice(
            ("You can email me at {x}.", "reply to {x} pls", "My email is {x}", "contact me on {x}")
        )
    else:
        shown = phone
        phrase = rnd.choice(("Call me back on {x}.", "my number is {x}", "Ring me on {x} please", "Phone: {x}"))
    return phrase.format(x=shown), kind


@dataclass
class ComposedText:
    text: str
    sentiment: float
    pii: str
    injection: bool


def compose(
    rnd: random.Random,
    intent: str,
    register: str,
    mood: float,
    email: str,
    phone: str,
    with_pii: bool,
    with_injection: bool,
) -> ComposedText:
    """One text for an intent; register is 'email', 'call', 'branch', 'chat', 'review', 'complaint' or 'social'."""
    slots = _Slots(rnd)
    body = rnd.choice(tpl.TEMPLATES[intent]).format_map(slots)
    informal = register in ("chat", "social")
    style = "INFORMAL" if informal else "SPOKEN" if register in ("call", "branch") else "FORMAL"
    opening = rnd.choice(getattr(tpl, f"OPENINGS_{style}"))
    closing = rnd.choice(getattr(tpl, f"CLOSINGS_{style}"))
    if opening and len(body) > 1 and body[1].islower() and not body.startswith(tpl.KEEP_CAPITAL):
        body = body[0].lower() + body[1:]
    if closing and not informal and body[-1] not in ".!?":
        body += "."
    text = opening + body + closing
    if not informal:
        text = _SENTENCE_START.sub(lambda match: match.group(1) + match.group(2).upper(), text)
    if register in tpl.NOTE_PREFIXES:
        text = rnd.choice(tpl.NOTE_PREFIXES[register]) + text
    if register == "social":
        text = rnd.choice(tpl.SOCIAL_MENTIONS) + text
        tags = tpl.HASHTAGS.get(intent)
        if tags and rnd.random() < 0.5:
            text += " " + " ".join(rnd.sample(tags, rnd.randint(1, min(2, len(tags)))))
    if informal:
        text = _informal(rnd, text)
    pii = ""
    if with_pii:
        sentence, pii = _pii(rnd, email, phone)
        text = f"{text} {sentence}"
    if with_injection:
        injection = rnd.choice(tpl.INJECTIONS)
        text = f"{injection} {text}" if rnd.random() < 0.4 else f"{text} {injection}"
    sentiment = tpl.BASE_SENTIMENT[intent] + 0.35 * slots.valence + mood + rnd.gauss(0.0, 0.08)
    return ComposedText(
        text=text.strip(), sentiment=round(max(-1.0, min(1.0, sentiment)), 2), pii=pii, injection=with_injection
    )


def _text_day(rnd: random.Random, intent: str, c: int, chunk: Chunk, s: Situation) -> int:
    p, last = chunk.people, chunk.window.n_days - 1
    start = int(s.join_day[c])
    if intent == "fraud_report" and s.anomaly_day[c] >= 0:
        return min(int(s.anomaly_day[c]) + rnd.randint(0, 3), last)
    if intent == "hardship":
        anchor = int(s.job_loss_day[c]) if s.job_loss_day[c] >= 0 else int(s.first_trouble_day[c])
        if anchor >= 0:
            begin = max(anchor, start)
            return rnd.randint(min(begin, last), last)
    if intent in ("mortgage_interest", "loan_inquiry", "savings_goal") and p.event_day[c] >= 0:
        return max(start, int(p.event_day[c]) - rnd.randint(5, 90), 0)
    return rnd.randint(min(start, last), last)


def _second(rnd: random.Random) -> int:
    return rnd.randint(7, 22) * 3600 + rnd.randrange(3600)


@dataclass
class Texts:
    interactions: pd.DataFrame  # customer position, day, second, channel, text (ids are given when written)
    posts: pd.DataFrame
    interaction_labels: pd.DataFrame
    post_labels: pd.DataFrame


def _channel(rnd: random.Random, intent: str) -> str:
    if intent == "complaint_service":
        return rnd.choices(INTERACTION_CHANNELS, weights=(0.2, 0.1, 0.1, 0.0, 0.2, 0.4))[0]
    if intent == "fraud_report":
        return rnd.choices(INTERACTION_CHANNELS, weights=(0.6, 0.3, 0.05, 0.05, 0, 0))[0]
    if intent in ("churn_risk", "fee_dispute"):
        return rnd.choices(INTERACTION_CHANNELS, weights=(0.3, 0.25, 0.2, 0.05, 0.1, 0.1))[0]
    return rnd.choices(INTERACTION_CHANNELS, weights=(0.32, 0.32, 0.22, 0.1, 0.04, 0.0))[0]


def compose_texts(chunk: Chunk, transactions: Batch) -> Texts:
    rng = stream(chunk.seed, chunk.index, "texts")
    p, w = chunk.people, chunk.window
    n = len(p)
    s = situation(chunk, transactions)
    length_factor = min(max(w.months / 12, 0.5), 3.0)
    rate = (2.4 + 3.0 * s.troubled + 1.5 * (s.anomaly_day >= 0) + 0.8 * (p.event >= 0)) * length_factor
    interaction_counts = rng.poisson(rate)
    posting = rng.random(n) < 0.4
    post_counts = np.where(posting, 1 + rng.poisson(1.0, n), 0)
    interaction_intents = pick(rng, np.repeat(_intent_weights(chunk, s, social=False), interaction_counts, axis=0))
    post_intents = pick(rng, np.repeat(_intent_weights(chunk, s, social=True), post_counts, axis=0))
    # the situations the specialists must notice always leave a trace in the texts
    lost_job = (s.job_loss_day >= 0) & (s.job_loss_day < w.n_days - 1)
    hardship = np.flatnonzero(lost_job | (chunk.accounts.trouble.sum(axis=1) >= 2))
    fraud = np.flatnonzero((s.anomaly_day >= 0) & (rng.random(n) < 0.6))
    interaction_owners = np.concatenate([np.repeat(np.arange(n), interaction_counts), hardship, fraud])
    interaction_intents = np.concatenate(
        [
            interaction_intents,
            np.full(len(hardship), _INTENT["hardship"]),
            np.full(len(fraud), _INTENT["fraud_report"]),
        ]
    )
    rnd = random.Random(int(rng.integers(0, 2**62)))
    mood = np.where(s.troubled, -0.15, 0.0) + np.where(p.has_event("job_loss"), -0.1, 0.0)

    def build(owners: np.ndarray, intents: np.ndarray, social: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
        rows: dict[str, list] = {k: [] for k in ("_customer", "_day", "_second", "channel", "text")}
        labels: dict[str, list] = {
            k: [] for k in ("intent", "sentiment", "contains_pii", "pii_types", "injection")
        }
        for c, code in zip(owners.tolist(), intents.tolist(), strict=True):
            intent = tpl.INTENTS[code]
            if social:
                channel = rnd.choices(PLATFORMS, weights=(0.3, 0.2, 0.2, 0.15, 0.15))[0]
                register = "social"
            else:
                channel = _channel(rnd, intent)
                register = channel
            composed = compose(
                rnd,
                intent,
                register,
                float(mood[c]),
                p.email[c],
                p.phone[c],
                rnd.random() < PII_RATE,
                rnd.random() < INJECTION_RATE,
            )
            rows["_customer"].append(c)
            rows["_day"].append(_text_day(rnd, intent, c, chunk, s))
            rows["_second"].append(_second(rnd))
            rows["channel"].append(channel)
            rows["text"].append(composed.text)
            labels["intent"].append(intent)
            labels["sentiment"].append(composed.sentiment)
            labels["contains_pii"].append(bool(composed.pii))
            labels["pii_types"].append(composed.pii)
            labels["injection"].append(composed.injection)
        frame = pd.DataFrame(rows)
        label_frame = pd.DataFrame(labels)
        order = (
            np.lexsort((frame["_second"].to_numpy(), frame["_day"].to_numpy(), frame["_customer"].to_numpy()))
            if len(frame)
            else []
        )
        return frame.iloc[order].reset_index(drop=True), label_frame.iloc[order].reset_index(drop=True)

    interactions, interaction_labels = build(interaction_owners, interaction_intents, social=False)
    posts, post_labels = build(np.repeat(np.arange(n), post_counts), post_intents, social=True)
    return Texts(interactions, posts, interaction_labels, post_labels)
