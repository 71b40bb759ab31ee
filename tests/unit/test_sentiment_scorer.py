"""The financial sentiment scorer: lexicon, phrases, range, calibration."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.sentiment import (
    FINANCIAL_LEXICON_PATH,
    SentimentCalibration,
    SentimentScorer,
    load_financial_lexicon,
    load_sentiment_scorer,
    mood_label,
    pearson,
    train_calibration,
)

NEGATIVE = [
    "The company filed for bankruptcy this morning",
    "Shares plunge after a profit warning",
    "Analysts downgrade the bank to sell",
    "Retailer announces layoffs across its stores",
    "I missed a payment and the overdraft fees keep piling up",
    "I've been scammed, there's fraud on my card",
    "My card was declined at the shop again",
    "I lost my job and can't afford the repayments",
    "They defaulted on the bond",
    "Why was I charged a fee twice?",
]
POSITIVE = [
    "My loan was approved!",
    "Profits soar as the company beats estimates",
    "Analysts upgrade the stock after a record profit",
    "Got a pay rise and finally paid off my credit card",
    "Can't wait for the trip, the fees were waived",
]


@pytest.fixture(scope="module")
def scorer() -> SentimentScorer:
    return SentimentScorer()


def test_lexicon_file_is_versioned_and_well_formed():
    lexicon = load_financial_lexicon()
    assert lexicon.version == "v1"
    assert FINANCIAL_LEXICON_PATH.name.endswith("_v1.tsv")
    assert len(lexicon.entries) >= 150
    assert all(-4 <= e.valence <= 4 for e in lexicon.entries)
    assert "bankruptcy" in lexicon.words and "missed payment" in lexicon.phrases
    assert lexicon.words["plunge"] < 0 < lexicon.words["soar"]


@pytest.mark.parametrize("text", NEGATIVE)
def test_finance_bad_news_scores_negative(scorer, text):
    assert scorer.score_one(text) < -0.05


@pytest.mark.parametrize("text", POSITIVE)
def test_finance_good_news_scores_positive(scorer, text):
    assert scorer.score_one(text) > 0.05


def test_lexicon_fixes_what_plain_vader_misses(scorer):
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    plain = SentimentIntensityAnalyzer()
    texts = [
        "Shares plunge after a profit warning",
        "Retailer announces layoffs",
        "Company beats estimates, shares soar",
        "I can't afford the repayments",
        "My card was declined",
    ]
    gold = [-1, -1, 1, -1, -1]
    plain_right = sum(np.sign(plain.polarity_scores(t)["compound"]) == g for t, g in zip(texts, gold))
    ours_right = sum(np.sign(s) == g for s, g in zip(scorer.score_sentiment(texts), gold))
    assert ours_right == len(texts)
    assert plain_right < ours_right


def test_phrases_match_any_apostrophe_and_case(scorer):
    straight, curly, none, upper = scorer.score_sentiment(
        ["I can't afford it", "I can\u2019t afford it", "i cant afford it", "I CAN'T AFFORD IT"]
    )
    assert straight < 0 and curly == straight and none < 0 and upper < 0


def test_vader_negation_still_applies_around_finance_words(scorer):
    assert scorer.score_one("The loan was approved") > 0
    assert scorer.score_one("The loan was not approved") < 0
    assert scorer.score_one("I am not struggling at all") > scorer.score_one("I am struggling")


def test_empty_inputs(scorer):
    assert scorer.score_sentiment([]) == []
    assert scorer.score_sentiment([""]) == [0.0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=300), min_size=1, max_size=5))
def test_scores_are_always_in_range(texts):
    scores = _SCORER.score_sentiment(texts)
    assert len(scores) == len(texts)
    assert all(-1.0 <= s <= 1.0 for s in scores)


_SCORER = SentimentScorer()


def test_calibration_is_deterministic_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    texts = NEGATIVE * 4 + POSITIVE * 8
    gold = [-0.6 + rng.normal(0, 0.05) for _ in NEGATIVE * 4] + [0.5 + rng.normal(0, 0.05) for _ in POSITIVE * 8]
    first, report = train_calibration(texts, gold, trained_on="unit", folds=3)
    second, _ = train_calibration(texts, gold, trained_on="unit", folds=3)
    assert first.coefficients == second.coefficients and first.intercept == second.intercept
    assert report.cv_pearson > 0.8
    first.save(tmp_path / "sentiment")
    loaded = SentimentCalibration.load(tmp_path / "sentiment")
    calibrated = SentimentScorer(calibration=loaded)
    assert calibrated.method == "calibrated"
    scores = calibrated.score_sentiment(texts)
    assert all(-1 <= s <= 1 for s in scores)
    assert pearson(scores, gold) > 0.8


def test_calibration_of_another_lexicon_version_is_refused(tmp_path):
    calibration, _ = train_calibration(
        NEGATIVE + POSITIVE, [-0.5] * len(NEGATIVE) + [0.5] * len(POSITIVE), trained_on="unit", folds=3
    )
    stale = calibration.model_copy(update={"lexicon_version": "v0"})
    with pytest.raises(ValueError, match="lexicon"):
        SentimentScorer(calibration=stale)
    stale.save(tmp_path / "sentiment")
    assert load_sentiment_scorer(tmp_path).method == "lexicon"


def test_without_a_calibration_the_lexicon_scorer_is_used(tmp_path):
    assert load_sentiment_scorer(tmp_path).method == "lexicon"
    assert load_sentiment_scorer(None).method == "lexicon"


def test_settings_locate_the_saved_calibration(tmp_path):
    from advisor.settings import Settings

    settings = Settings(home=tmp_path / "home")
    assert load_sentiment_scorer(settings).method == "lexicon"
    calibration, _ = train_calibration(
        NEGATIVE + POSITIVE, [-0.5] * len(NEGATIVE) + [0.5] * len(POSITIVE), trained_on="unit", folds=3
    )
    calibration.save(settings.models_dir / "sentiment")
    assert load_sentiment_scorer(settings).method == "calibrated"


def test_mood_labels():
    assert mood_label(-0.5) == "negative"
    assert mood_label(0.0) == "neutral"
    assert mood_label(0.4) == "positive"
    assert mood_label(None) is None
