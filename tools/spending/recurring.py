"""Recurring payments and subscriptions, found from the timing and amounts of charges.

Method, per merchant (normalised name) and paying account, over money-out charges in
time order:

1. Chains. Each charge joins the open chain whose last charge lies one period earlier
   (monthly: 25 to 36 days; annual: 355 to 375 days) at a compatible amount, else it
   opens a chain. A compatible amount is the chain's current price within a tolerance
   (fixed prices: 3 % or 1 cent; bills such as utilities: 60 %) or, once per chain of a
   fixed price, a step of at most +/-100 % (a price change; for annual chains only after
   two charges at the old price).
2. A chain is a recurring series when it has at least 3 monthly charges, or 2 charges
   a year apart. The series of a merchant and account must also look like billing
   rather than shopping: at most two of them, holding at least 75 % of the charges over
   their span (40 % when a series has 6 charges or more: a long regular series does not
   arise by chance, though a merchant may also sell one-offs). Series of payments made
   in person (card present, cash machine) are habits, not commitments, and are dropped.
3. Subscription services with too few charges for a series: where the bank's category
   marks the merchant as a subscription service (``SUBSCRIPTION_SERVICE_CATEGORIES``),
   two charges a month apart at one price are a new monthly plan, and a single charge is
   a monthly plan while less than a month has passed since it, else an annual plan (a
   monthly one would have charged again). With 12 months of data an annual plan shows
   one charge, so this is the only way to see one; no list of merchants is used.
4. A series is active when its next charge is not overdue (monthly: last charge within
   45 days of ``as_of``; annual: within 375 days). Only active series are reported.
5. Subscriptions are the active series outside bills, housing and debt service
   (``NON_SUBSCRIPTION_CATEGORIES``); the others are recurring payments. Two series of
   one merchant running at the same time are a duplicate when they come from two
   accounts, or from one account at one price (one account paying two prices to one
   merchant holds two plans); active subscriptions sharing a service family
   (``services.SERVICE_FAMILIES``) overlap; a step up in price is a price rise with its
   date and the old price.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import combinations
from typing import Literal

import numpy as np

from tools.findings import Subscription
from tools.spending.ledger import (
    IN_PERSON_CHANNELS,
    NON_SPEND_CATEGORIES,
    NON_SUBSCRIPTION_CATEGORIES,
    SUBSCRIPTION_SERVICE_CATEGORIES,
    Ledger,
    evidence_ids,
)
from tools.spending.services import normalise_merchant, service_families

Period = Literal["monthly", "annual"]


@dataclass(frozen=True)
class Cadence:
    period: Period
    min_gap: int
    max_gap: int
    min_charges: int
    active_days: int
    per_month: float  # charges of this period in a month
    charges_before_step: int  # charges at the old price before a price step is believed


MONTHLY = Cadence("monthly", 25, 36, 3, 45, 1.0, 1)
ANNUAL = Cadence("annual", 355, 375, 2, 375, 1.0 / 12.0, 2)
FIXED_PRICE_TOLERANCE = 0.03
BILL_TOLERANCE = 0.6
MAX_PRICE_STEP = 1.0
MIN_MERCHANT_SHARE = 0.75
LONG_STREAM = 6
MIN_MERCHANT_SHARE_LONG = 0.4
MAX_PARALLEL_STREAMS = 2
RECURRING_LOOKBACK_DAYS = 2 * 366


def _same_price(a: float, b: float, tolerance: float = FIXED_PRICE_TOLERANCE) -> bool:
    return abs(a - b) <= max(0.01, tolerance * b)


@dataclass
class Chain:
    positions: list[int]
    days: list[int]
    amounts: list[float]
    step_at: int | None = None  # index into ``positions`` of the first charge at the new price

    @property
    def price(self) -> float:
        return self.amounts[-1]

    def fit_cost(self, day: int, amount: float, cadence: Cadence, tolerance: float) -> tuple[float, bool]:
        """(cost of adding the charge, lower is better, inf when it does not fit; is a price step)."""
        gap = day - self.days[-1]
        if not cadence.min_gap <= gap <= cadence.max_gap:
            return np.inf, False
        expected = (cadence.min_gap + cadence.max_gap) / 2
        timing = abs(gap - expected) / expected
        relative = abs(amount - self.price) / max(self.price, 0.01)
        if _same_price(amount, self.price, tolerance):
            return timing + relative, False
        if (tolerance == FIXED_PRICE_TOLERANCE and self.step_at is None and relative <= MAX_PRICE_STEP
                and len(self.positions) >= cadence.charges_before_step):
            return timing + 1.0 + relative, True
        return np.inf, False


@dataclass
class Stream:
    """One recurring series of charges (``rows``: ledger positions)."""

    key: str
    merchant: str
    category: str
    account: str
    cadence: Cadence
    rows: np.ndarray
    amounts: np.ndarray
    dates: list[date]
    transaction_ids: list[str]
    step_at: int | None
    in_person: bool = False
    duplicate: bool = False
    families: tuple[str, ...] = ()
    overlaps_with: list[str] = field(default_factory=list)

    @property
    def last_seen(self) -> date:
        return self.dates[-1]

    @property
    def first_seen(self) -> date:
        return self.dates[0]

    @property
    def price(self) -> float:
        return float(self.amounts[-1])

    @property
    def is_subscription(self) -> bool:
        return self.category not in NON_SUBSCRIPTION_CATEGORIES

    def monthly_cost(self) -> float:
        return self.price * self.cadence.per_month

    def to_model(self) -> Subscription:
        rise_from = rise_date = None
        if self.step_at is not None and self.amounts[self.step_at] > self.amounts[self.step_at - 1]:
            rise_from = round(float(self.amounts[self.step_at - 1]), 2)
            rise_date = self.dates[self.step_at]
        return Subscription(
            merchant=self.merchant,
            period=self.cadence.period,
            amount=round(self.price, 2),
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            charges=len(self.rows),
            price_rise_from=rise_from,
            price_rise_date=rise_date,
            duplicate=self.duplicate,
            overlaps_with=sorted(set(self.overlaps_with)),
            family=self.families[0] if self.families else None,
            evidence=evidence_ids(self.transaction_ids),
        )


def _build_chains(days: np.ndarray, amounts: np.ndarray, cadence: Cadence, tolerance: float) -> list[Chain]:
    chains: list[Chain] = []
    for position, (day, amount) in enumerate(zip(days.tolist(), amounts.tolist())):
        best: tuple[float, Chain, bool] | None = None
        for chain in chains:
            cost, is_step = chain.fit_cost(day, amount, cadence, tolerance)
            if cost < np.inf and (best is None or cost < best[0]):
                best = (cost, chain, is_step)
        if best is None:
            chains.append(Chain([position], [day], [amount]))
            continue
        _, chain, is_step = best
        if is_step:
            chain.step_at = len(chain.positions)
        chain.positions.append(position)
        chain.days.append(day)
        chain.amounts.append(amount)
    return [c for c in chains if len(c.positions) >= cadence.min_charges]


def _may_carry(days: np.ndarray, cadence: Cadence) -> bool:
    """Whether series of this cadence could hold the share of the charges ``_carries`` asks
    for: a cheap test that spares shops visited every week the chain building."""
    if len(days) < cadence.min_charges:
        return False
    periods = (int(days[-1]) - int(days[0])) // cadence.min_gap + 1
    return MAX_PARALLEL_STREAMS * periods >= MIN_MERCHANT_SHARE_LONG * len(days)


def _carries(chains: list[Chain], days: np.ndarray) -> bool:
    """The chains look like billing, not shopping: at most two, holding most of the charges
    over their span (a long series may share its merchant with one-off purchases)."""
    if not chains or len(chains) > MAX_PARALLEL_STREAMS:
        return False
    first = min(c.days[0] for c in chains)
    last = max(c.days[-1] for c in chains)
    in_span = int(((days >= first) & (days <= last)).sum())
    share = sum(len(c.positions) for c in chains) / in_span
    longest = max(len(c.positions) for c in chains)
    return share >= MIN_MERCHANT_SHARE or (longest >= LONG_STREAM and share >= MIN_MERCHANT_SHARE_LONG)


def _few_charges(days: np.ndarray, amounts: np.ndarray, as_of_day: int) -> list[tuple[Chain, Cadence]]:
    """A subscription service's charges too few for a series (see step 3 of the method)."""
    if len(days) == 2:
        chains = _build_chains(days, amounts, replace(MONTHLY, min_charges=2), FIXED_PRICE_TOLERANCE)
        return [(chains[0], MONTHLY)] if chains else []
    if len(days) == 1:
        single = Chain([0], [int(days[0])], [float(amounts[0])])
        return [(single, MONTHLY if as_of_day - int(days[0]) <= MONTHLY.max_gap else ANNUAL)]
    return []


def _most_common(values: np.ndarray) -> str:
    return str(Counter(values.tolist()).most_common(1)[0][0])


def _group_streams(ledger: Ledger, key: str, rows: np.ndarray, as_of_day: int) -> list[Stream]:
    """The recurring series among one merchant's charges to one account."""
    days = ledger.day[rows]
    amounts = -ledger.amount[rows]
    category = _most_common(ledger.category[rows])
    tolerance = BILL_TOLERANCE if category in NON_SUBSCRIPTION_CATEGORIES else FIXED_PRICE_TOLERANCE
    found: list[tuple[Chain, np.ndarray, Cadence]] = []
    everything = np.arange(len(rows))
    if _may_carry(days, MONTHLY):
        monthly = _build_chains(days, amounts, MONTHLY, tolerance)
        if _carries(monthly, days):
            found += [(chain, everything, MONTHLY) for chain in monthly]
    used = np.zeros(len(rows), dtype=bool)
    for chain, positions, _ in found:
        used[positions[chain.positions]] = True
    remaining = np.flatnonzero(~used)
    if _may_carry(days[remaining], ANNUAL):
        annual = _build_chains(days[remaining], amounts[remaining], ANNUAL, tolerance)
        if _carries(annual, days[remaining]):
            found += [(chain, remaining, ANNUAL) for chain in annual]
    if not found and category in SUBSCRIPTION_SERVICE_CATEGORIES:
        found += [(chain, everything, cadence) for chain, cadence in _few_charges(days, amounts, as_of_day)]

    streams = []
    for chain, positions, cadence in found:
        chosen = rows[positions[chain.positions]]
        if as_of_day - int(ledger.day[chosen[-1]]) > cadence.active_days:
            continue
        streams.append(Stream(
            key=key,
            merchant=_most_common(ledger.merchant[chosen]),
            category=category,
            account=str(ledger.account_id[chosen[0]]),
            cadence=cadence,
            rows=chosen,
            amounts=amounts[positions[chain.positions]],
            dates=[d.astype(object) for d in ledger.timestamp[chosen].astype("datetime64[D]")],
            transaction_ids=[str(t) for t in ledger.transaction_id[chosen]],
            step_at=chain.step_at,
            in_person=bool(np.isin(ledger.channel[chosen], list(IN_PERSON_CHANNELS)).mean() > 0.5),
        ))
    return streams


def _mark_duplicates(streams: list[Stream], as_of_day: int) -> None:
    """Series of one merchant and period running at the same time, from two accounts (at any
    price: one may have risen) or from one account at one price."""
    as_of = date.fromordinal(date(1970, 1, 1).toordinal() + as_of_day)
    for a, b in combinations(streams, 2):
        if a.key != b.key or a.cadence is not b.cadence:
            continue
        if a.account == b.account and not _same_price(a.price, b.price):
            continue  # one account paying two plans of one merchant: two services
        spans_meet = a.first_seen <= b.last_seen and b.first_seen <= a.last_seen
        both_current = all((as_of - s.last_seen).days <= s.cadence.max_gap for s in (a, b))
        if spans_meet or both_current:
            a.duplicate = b.duplicate = True


def _mark_overlaps(subscriptions: list[Stream]) -> None:
    for stream in subscriptions:
        stream.families = service_families(stream.merchant)
    for stream in subscriptions:
        stream.overlaps_with = [
            other.merchant for other in subscriptions
            if other.key != stream.key and set(other.families) & set(stream.families)
        ]


def detect_recurring(ledger: Ledger) -> list[Stream]:
    """Active recurring series (subscriptions and bills) up to ``ledger.as_of``."""
    as_of_day = int(np.datetime64(ledger.as_of, "D").astype(np.int64))
    candidates = np.flatnonzero(
        (ledger.amount < 0) & (ledger.merchant != "") & (ledger.day >= as_of_day - RECURRING_LOOKBACK_DAYS)
        & ~np.isin(ledger.category, list(NON_SPEND_CATEGORIES))
    )
    if not len(candidates):
        return []
    keys = np.array([normalise_merchant(m) for m in ledger.merchant[candidates]], dtype=object)
    groups = np.array([f"{k}\x1f{a}" for k, a in zip(keys, ledger.account_id[candidates])], dtype=object)
    names, position, counts = np.unique(groups, return_inverse=True, return_counts=True)
    is_service = np.isin(ledger.category[candidates], list(SUBSCRIPTION_SERVICE_CATEGORIES))
    service = np.bincount(position, weights=is_service, minlength=len(names)) > 0
    order = np.argsort(position, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(counts)])
    streams: list[Stream] = []
    for k in np.flatnonzero((counts >= ANNUAL.min_charges) | service):
        members = candidates[order[bounds[k]:bounds[k + 1]]]
        streams += _group_streams(ledger, str(names[k]).split("\x1f")[0], members, as_of_day)
    streams = [s for s in streams if not s.in_person]
    _mark_duplicates(streams, as_of_day)
    _mark_overlaps([s for s in streams if s.is_subscription])
    return streams


def subscriptions_of(streams: list[Stream]) -> list[Subscription]:
    """One entry per merchant and period; parallel series of one merchant merge into one
    entry marked duplicate, with every charge as evidence."""
    merged: dict[tuple[str, str], list[Stream]] = {}
    for stream in streams:
        if stream.is_subscription:
            merged.setdefault((stream.key, stream.cadence.period), []).append(stream)
    result = []
    for group in merged.values():
        main = max(group, key=lambda s: (s.last_seen, len(s.rows)))
        model = main.to_model()
        if len(group) > 1:
            dated = sorted((d, t) for s in group for d, t in zip(s.dates, s.transaction_ids))
            rises = sorted((m.price_rise_date, m.price_rise_from) for m in (s.to_model() for s in group)
                           if m.price_rise_date is not None)
            model = model.model_copy(update={
                "charges": len(dated),
                "first_seen": dated[0][0],
                "duplicate": any(s.duplicate for s in group),
                "evidence": evidence_ids([t for _, t in dated]),
                "price_rise_date": rises[-1][0] if rises else None,
                "price_rise_from": rises[-1][1] if rises else None,
            })
        result.append(model)
    return sorted(result, key=lambda s: (-s.amount, s.merchant))


def recurring_payments_of(streams: list[Stream]) -> list[Subscription]:
    """Recurring bills, housing and debt payments (not subscriptions), largest first."""
    return sorted((s.to_model() for s in streams if not s.is_subscription), key=lambda s: (-s.amount, s.merchant))


def subscriptions_monthly_cost(streams: list[Stream]) -> float:
    return round(sum(s.monthly_cost() for s in streams if s.is_subscription), 2)


def stream_rows(streams: list[Stream]) -> np.ndarray:
    """Ledger positions of every charge of the given series."""
    return np.concatenate([s.rows for s in streams]) if streams else np.array([], dtype=np.int64)
