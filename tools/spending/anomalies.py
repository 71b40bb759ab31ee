"""Suspicious transactions, judged against the customer's own history and, when given,
the book's merchant profiles (:class:`tools.spending.book.BookReference`).

Candidates are customer-initiated money-out transactions (card, online, cash
machine) in the window that are not part of a recognised recurring payment. Tests:

* amount: robust z-score of log(amount) against the customer's purchases (median and
  MAD) at least ``AMOUNT_Z`` and the amount at least ``AMOUNT_RATIO`` times the
  customer's usual large purchase (their 95th percentile); with a book reference, also
  at least ``MERCHANT_RATIO`` times the book's usual payment there (95th percentile at
  the merchant, its merchant category code or its category: a large payment where large
  payments are normal, such as a car dealer, is not odd).
* place: a card payment in person (card present or cash machine) in a country the
  customer never pays in on any other day, and no trip around it (fewer than
  ``TRIP_SUPPORT`` other payments there within ``TRIP_DAYS`` days). Online payments
  carry the merchant's country, not the customer's, and are left out.
* time: a night hour (0-5 h) when the customer almost never pays (under
  ``ODD_HOUR_SHARE`` of their other payments fall within an hour of it).
* velocity: at least ``BURST_COUNT`` card payments within ``BURST_MINUTES`` minutes.
* new merchant: a merchant the customer pays on no other day. With a book reference:
  a payment not made in person, to a merchant hardly any customer of the bank pays
  (``BookReference.rare_reach``), of at least the customer's median purchase (a first
  visit to a shop few customers know is ordinary in person, on holiday say). Without
  one, a first payment is only noted on a payment the amount test flags: customers pay
  new merchants all the time, and only the book can tell a fraud-only merchant apart.

Each test gives a strength in 0..1; the score is their noisy-or. A customer with fewer
than ``MIN_HISTORY`` such payments has no baseline to judge against and gets no flags.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.findings import SuspiciousTransaction
from tools.spending.book import BookReference
from tools.spending.ledger import (
    CARD_CHANNELS,
    CUSTOMER_INITIATED_CHANNELS,
    IN_PERSON_CHANNELS,
    NON_SPEND_CATEGORIES,
    Ledger,
)

AMOUNT_Z = 4.0
AMOUNT_RATIO = 5.0
MERCHANT_RATIO = 3.0
MIN_HISTORY = 20
TRIP_SUPPORT = 2
TRIP_DAYS = 3
NIGHT_HOURS = np.arange(0, 6)
ODD_HOUR_SHARE = 0.02
BURST_COUNT = 4
BURST_MINUTES = 10
MAX_REPORTED = 20


@dataclass(frozen=True)
class Baseline:
    log_median: float
    log_scale: float
    usual_large: float
    median: float


def _baseline(amounts: np.ndarray) -> Baseline:
    logs = np.log(amounts)
    median = float(np.median(logs))
    mad = float(np.median(np.abs(logs - median)))
    return Baseline(median, max(1.4826 * mad, 0.25), float(np.quantile(amounts, 0.95)), float(np.exp(median)))


def _money(value: float) -> str:
    return f"EUR {value:,.2f}"


def _other_day_support(keys: np.ndarray, days: np.ndarray) -> np.ndarray:
    """For each row, on how many other days the customer used the same key."""
    names, position = np.unique(keys, return_inverse=True)
    pairs = np.unique(position.astype(np.int64) * 1_000_000 + (days - days.min()))
    days_per_key = np.bincount(pairs // 1_000_000, minlength=len(names))
    return days_per_key[position] - 1


def _trip_support(countries: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Other payments in the same country within ``TRIP_DAYS`` days of each row (sorted times)."""
    support = np.zeros(len(countries), dtype=int)
    horizon = TRIP_DAYS * 86_400
    for country in np.unique(countries):
        where = np.flatnonzero(countries == country)
        times = seconds[where]
        lower = np.searchsorted(times, times - horizon, side="left")
        upper = np.searchsorted(times, times + horizon, side="right")
        support[where] = upper - lower - 1
    return support


def _bursts(seconds: np.ndarray) -> np.ndarray:
    """Rows inside any ``BURST_MINUTES`` window holding at least ``BURST_COUNT`` rows (sorted times)."""
    horizon = BURST_MINUTES * 60
    start_of_window = np.searchsorted(seconds, seconds - horizon, side="left")
    counts = np.arange(len(seconds)) - start_of_window + 1
    in_burst = np.zeros(len(seconds), dtype=bool)
    for end in np.flatnonzero(counts >= BURST_COUNT):
        in_burst[start_of_window[end]:end + 1] = True
    return in_burst


def _hour_share(hours: np.ndarray) -> np.ndarray:
    """Share of the customer's *other* payments within an hour of each row's hour."""
    histogram = np.bincount(hours, minlength=24).astype(float)
    near = histogram + np.roll(histogram, 1) + np.roll(histogram, -1)
    return (near[hours] - 1) / max(len(hours) - 1, 1)


def suspicious_transactions(ledger: Ledger, book: BookReference | None = None,
                            expected: np.ndarray | None = None,
                            limit: int = MAX_REPORTED) -> list[SuspiciousTransaction]:
    """``expected``: ledger positions of recognised recurring payments, never flagged."""
    eligible = ((ledger.amount < 0) & np.isin(ledger.channel, list(CUSTOMER_INITIATED_CHANNELS))
                & ~np.isin(ledger.category, list(NON_SPEND_CATEGORIES)))
    rows = np.flatnonzero(eligible)
    if len(rows) < MIN_HISTORY:
        return []
    amounts = -ledger.amount[rows]
    base = _baseline(amounts)
    seconds = ledger.seconds[rows]
    days = ledger.day[rows]
    hours = ledger.hour[rows]
    merchants = ledger.merchant[rows]
    countries = ledger.country[rows]
    channels = ledger.channel[rows]
    reportable = ledger.in_window[rows]
    if expected is not None and len(expected):
        reportable &= ~np.isin(rows, expected)

    z = (np.log(amounts) - base.log_median) / base.log_scale
    ratio = amounts / max(base.usual_large, 0.01)
    amount_flag = (z >= AMOUNT_Z) & (ratio >= AMOUNT_RATIO)
    if book is not None:
        reach = book.merchant_reach(merchants)
        merchant_ratio = amounts / book.usual_amount(merchants, ledger.mcc[rows], ledger.category[rows])
        amount_flag &= ~(merchant_ratio < MERCHANT_RATIO)  # unknown merchants (NaN) keep the flag
        rare = (merchants != "") & (reach <= book.rare_reach)
    else:
        reach = merchant_ratio = None
        rare = np.zeros(len(rows), dtype=bool)

    in_person = np.isin(channels, list(IN_PERSON_CHANNELS))
    names, counts = np.unique(countries[in_person] if in_person.any() else countries, return_counts=True)
    home = str(names[np.argmax(counts)]) if len(names) else ""
    place_flag = np.zeros(len(rows), dtype=bool)
    if in_person.any():
        person_rows = np.flatnonzero(in_person)
        person_countries = countries[person_rows]
        support = _other_day_support(person_countries, days[person_rows])
        trip = _trip_support(person_countries, seconds[person_rows])
        place_flag[person_rows] = ((person_countries != "") & (person_countries != home) & (support == 0)
                                   & (trip < TRIP_SUPPORT))

    hour_share = _hour_share(hours)
    time_flag = np.isin(hours, NIGHT_HOURS) & (hour_share < ODD_HOUR_SHARE)

    card_positions = np.flatnonzero(np.isin(channels, list(CARD_CHANNELS)))
    velocity_flag = np.zeros(len(rows), dtype=bool)
    velocity_flag[card_positions] = _bursts(seconds[card_positions])

    first_time = (merchants != "") & (_other_day_support(merchants, days) == 0)
    if book is not None:
        new_merchant_flag = first_time & rare & ~in_person & (amounts >= base.median)
    else:
        new_merchant_flag = first_time & amount_flag

    flagged = reportable & (amount_flag | place_flag | time_flag | velocity_flag | new_merchant_flag)
    results: list[SuspiciousTransaction] = []
    for i in np.flatnonzero(flagged):
        row = rows[i]
        reasons: list[str] = []
        kinds: list[str] = []
        strengths: list[float] = []
        if amount_flag[i]:
            kinds.append("amount")
            merchant_note = (f", {merchant_ratio[i]:.1f}x the bank's customers' usual large payment there"
                             if merchant_ratio is not None and np.isfinite(merchant_ratio[i]) else "")
            reasons.append(f"amount {_money(amounts[i])} is {ratio[i]:.1f}x the customer's usual large purchase "
                           f"({_money(base.usual_large)}; robust z-score {z[i]:.1f}){merchant_note}")
            strengths.append(min(0.95, 0.5 + 0.05 * z[i]))
        if place_flag[i]:
            kinds.append("place")
            city = ledger.city[row]
            where = f"{city}, {countries[i]}" if city else countries[i]
            reasons.append(f"paid in person in {where}, a country the customer never pays in otherwise "
                           f"(home {home})")
            strengths.append(0.8)
        if time_flag[i]:
            kinds.append("time")
            reasons.append(f"at {str(ledger.timestamp[row])[11:16]}, an hour when the customer makes "
                           f"{100 * hour_share[i]:.0f}% of payments")
            strengths.append(0.6)
        if velocity_flag[i]:
            near = int((np.abs(seconds[card_positions] - seconds[i]) <= BURST_MINUTES * 60).sum())
            kinds.append("velocity")
            reasons.append(f"one of {near} card payments within {BURST_MINUTES} minutes")
            strengths.append(0.7)
        if new_merchant_flag[i]:
            kinds.append("new_merchant")
            if rare[i]:
                reasons.append(f"first payment to {merchants[i]}, a merchant only {int(reach[i])} of the bank's "
                               f"{book.customers:,} customers pay")
            else:
                reasons.append(f"first payment to {merchants[i]}")
            strengths.append(0.6)
        score = 1.0 - float(np.prod([1.0 - s for s in strengths]))
        results.append(SuspiciousTransaction(
            transaction_id=str(ledger.transaction_id[row]),
            timestamp=str(ledger.timestamp[row]),
            amount=round(float(ledger.amount[row]), 2),
            merchant=str(merchants[i]) or None,
            reasons=reasons,
            kinds=kinds,
            score=round(score, 3),
        ))
    results.sort(key=lambda s: (-s.score, s.timestamp))
    return results[:limit]
