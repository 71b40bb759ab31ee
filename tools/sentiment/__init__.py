"""The sentiment specialist's tools: financial sentiment scoring and a customer's voice.

``SentimentScorer.score_sentiment(texts)`` scores texts in [-1, 1] (VADER with the
financial lexicon, optionally ridge-calibrated); ``analyse_voice`` and
``voice_for_customer`` turn a customer's interactions and consented social posts into a
:class:`tools.findings.SentimentFinding`. Intent classification lives in :mod:`tools.intent`.
"""

from tools.sentiment.scorer import (
    FINANCIAL_LEXICON_PATH,
    CalibrationReport,
    FinancialLexicon,
    SentimentCalibration,
    SentimentEvaluation,
    SentimentScorer,
    evaluate_scorer,
    load_financial_lexicon,
    load_scored_texts,
    load_sentiment_scorer,
    mood_label,
    pearson,
    sentiment_model_dir,
    train_calibration,
)
from tools.sentiment.voice import (
    analyse_voice,
    as_langchain_tools,
    find_injection,
    needs_for_text,
    strip_injections,
    voice_for_customer,
)

__all__ = [
    "FINANCIAL_LEXICON_PATH",
    "CalibrationReport",
    "FinancialLexicon",
    "SentimentCalibration",
    "SentimentEvaluation",
    "SentimentScorer",
    "analyse_voice",
    "as_langchain_tools",
    "evaluate_scorer",
    "find_injection",
    "load_financial_lexicon",
    "load_scored_texts",
    "load_sentiment_scorer",
    "mood_label",
    "needs_for_text",
    "pearson",
    "sentiment_model_dir",
    "strip_injections",
    "train_calibration",
    "voice_for_customer",
]
