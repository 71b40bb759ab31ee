"""Reference data: service keywords -> service families, to spot overlapping subscriptions.

A merchant belongs to a family when one of the family's keywords is a whole word (or
run of words) of its normalised name. A service may sit in two families (a video
service bundled with music, an office suite bundled with cloud storage).
"""

from __future__ import annotations

import re
from functools import lru_cache

SERVICE_FAMILIES: dict[str, tuple[str, ...]] = {
    "video_streaming": (
        "netflix", "disney+", "disney plus", "amazon prime", "prime video", "apple tv+", "apple tv",
        "now", "now tv", "youtube premium", "hbo max", "max", "paramount+", "crunchyroll", "mubi",
        "discovery+", "rte player", "virgin media play", "dazn",
    ),
    "music_streaming": (
        "spotify", "apple music", "deezer", "tidal", "youtube premium", "youtube music", "amazon music",
        "soundcloud go",
    ),
    "cloud_storage": (
        "icloud", "icloud+", "apple icloud+", "google one", "dropbox", "onedrive", "microsoft 365", "box",
    ),
    "productivity": ("microsoft 365", "office 365", "adobe", "adobe creative cloud", "notion", "canva pro"),
    "audiobooks": ("audible", "storytel", "kobo plus"),
    "gym": (
        "gym", "gym plus", "flyefit", "puregym", "energie fitness", "ben dunne gym", "fitness", "leisure centre",
    ),
    "news": ("irish times", "irish independent", "economist", "financial times", "new york times", "guardian"),
    "gaming": ("playstation plus", "xbox game pass", "game pass", "nintendo switch online", "ea play"),
    "meal_kit": ("hellofresh", "gousto", "mindful chef"),
    "dating": ("tinder", "bumble", "hinge", "match.com"),
    "wellbeing": ("headspace", "calm", "strava", "fitbit premium", "peloton"),
    "learning": ("duolingo", "babbel", "masterclass", "linkedin learning"),
    "shopping_membership": ("amazon prime", "costco"),
}


@lru_cache(maxsize=65536)
def normalise_merchant(name: str) -> str:
    """Lower case, reference numbers and punctuation noise removed, spaces collapsed."""
    text = name.lower()
    text = re.sub(r"\b\d{4,}\b|[#*]+\w*", " ", text)
    text = re.sub(r"\.(com|ie|co\.uk|net)\b", " ", text)
    return re.sub(r"\s+", " ", text).strip()


@lru_cache(maxsize=4096)
def service_families(merchant: str) -> tuple[str, ...]:
    """The families a merchant's name places it in (empty when none)."""
    name = f" {normalise_merchant(merchant)} "
    found: list[str] = []
    for family, keywords in SERVICE_FAMILIES.items():
        for keyword in keywords:
            if re.search(rf"(?<![\w+]){re.escape(keyword)}(?![\w+])", name):
                found.append(family)
                break
    return tuple(found)
