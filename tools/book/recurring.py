"""Recurring payments of every customer of a book at once, equal to ``detect_recurring``.

``tools.spending.recurring.detect_recurring`` works on one customer's ledger and builds its
chains charge by charge. Here the same method runs over the transactions of the whole book:

* candidate charges, merchant keys and (customer, merchant, account) groups come from one
  sort of the book's arrays; merchant names are normalised once per distinct name;
* chains are built for all groups together, charge ``p`` of every group in one numpy step
  (groups in buckets of similar length, so the chain state stays small). Each step gives
  every charge the chain ``Chain.fit_cost`` would give it: the same costs in the same
  floating-point operations, the first of equal costs winning;
* the billing test (``_carries``), the activity and in-person tests are reductions per
  group and per chain.

Python objects are made only for the series that survive (``Stream``), and the per-customer
steps after detection (duplicates, overlaps, subscriptions) are the spending specialist's own.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from operator import itemgetter

import numpy as np
import pandas as pd

from tools.spending.ledger import (
    IN_PERSON_CHANNELS,
    NON_SPEND_CATEGORIES,
    NON_SUBSCRIPTION_CATEGORIES,
    SECONDS_PER_DAY,
    SUBSCRIPTION_SERVICE_CATEGORIES,
)
from tools.spending.recurring import (
    ANNUAL,
    FIXED_PRICE_TOLERANCE,
    BILL_TOLERANCE,
    LONG_STREAM,
    MAX_PARALLEL_STREAMS,
    MAX_PRICE_STEP,
    MIN_MERCHANT_SHARE,
    MIN_MERCHANT_SHARE_LONG,
    MONTHLY,
    RECURRING_LOOKBACK_DAYS,
    Cadence,
    Stream,
    _few_charges,
    _mark_duplicates,
    _mark_overlaps,
)
from tools.spending.services import normalise_merchant

# Cells of chain state (groups x chains) held at once while building chains.
CHAIN_STATE_CELLS = 4_000_000


@dataclass
class _Chains:
    """Chains built over the charges of many groups (charges laid out group after group)."""

    chain: np.ndarray  # per charge: index of its chain within its group, in order of creation
    step: np.ndarray  # per charge: it joined its chain as a price step
    kept: np.ndarray  # per charge: its chain is a series the group keeps (the group carries it)
    carries: np.ndarray  # per group


def _build_chains(starts: np.ndarray, lengths: np.ndarray, days: np.ndarray, amounts: np.ndarray,
                  tolerance: np.ndarray, cadence: Cadence) -> _Chains:
    """``_build_chains`` and ``_carries`` of ``tools.spending.recurring`` for every group at once:
    group ``g`` holds charges ``starts[g]:starts[g] + lengths[g]`` of ``days`` and ``amounts``."""
    size = len(days)
    chain = np.zeros(size, dtype=np.int64)
    step = np.zeros(size, dtype=bool)
    kept = np.zeros(size, dtype=bool)
    carries = np.zeros(len(starts), dtype=bool)
    order = np.argsort(lengths, kind="stable")
    ordered = lengths[order]
    first = 0
    while first < len(order):
        # Groups of similar length, so that a few long groups do not widen the state of many short ones.
        last = int(np.searchsorted(ordered, 2 * ordered[first], side="right"))
        last = max(first + 1, min(last, first + CHAIN_STATE_CELLS // max(int(ordered[last - 1]), 1)))
        bucket = order[first:last]
        longest = int(lengths[bucket[-1]])
        _bucket_chains(bucket, starts, lengths, days, amounts, tolerance, cadence, longest,
                       chain, step, kept, carries)
        first = last
    return _Chains(chain, step, kept, carries)


def _bucket_chains(groups, starts, lengths, days, amounts, tolerance, cadence, longest,
                   chain_out, step_out, kept_out, carries_out) -> None:
    count = len(groups)
    lengths_b = lengths[groups]  # ascending
    starts_b = starts[groups]
    tolerance_b = tolerance[groups]
    fixed_b = tolerance_b == FIXED_PRICE_TOLERANCE
    first_day = np.zeros((count, longest), dtype=np.int64)
    last_day = np.zeros((count, longest), dtype=np.int64)
    price = np.zeros((count, longest), dtype=np.float64)
    stepped = np.zeros((count, longest), dtype=bool)
    members = np.zeros((count, longest), dtype=np.int64)
    chains = np.zeros(count, dtype=np.int64)
    expected = (cadence.min_gap + cadence.max_gap) / 2
    for p in range(longest):
        lo = int(np.searchsorted(lengths_b, p, side="right"))  # groups with more than p charges
        if lo == count:
            break
        rows = np.arange(lo, count)
        at = starts_b[lo:] + p
        day, amount = days[at], amounts[at]
        open_chains = chains[lo:]
        width = int(open_chains.max())
        chosen = open_chains.copy()
        is_step = np.zeros(len(rows), dtype=bool)
        if width:
            gap = day[:, None] - last_day[lo:, :width]
            current = price[lo:, :width]
            timing = np.abs(gap - expected) / expected
            difference = np.abs(amount[:, None] - current)
            relative = difference / np.maximum(current, 0.01)
            same = difference <= np.maximum(0.01, tolerance_b[lo:, None] * current)
            may_step = (fixed_b[lo:, None] & ~stepped[lo:, :width] & (relative <= MAX_PRICE_STEP)
                        & (members[lo:, :width] >= cadence.charges_before_step))
            cost = np.where(same, timing + relative, np.where(may_step, timing + 1.0 + relative, np.inf))
            fits = (gap >= cadence.min_gap) & (gap <= cadence.max_gap) & (np.arange(width) < open_chains[:, None])
            cost[~fits] = np.inf
            best = np.argmin(cost, axis=1)
            found = np.isfinite(cost[np.arange(len(rows)), best])
            chosen = np.where(found, best, open_chains)
            is_step = found & ~same[np.arange(len(rows)), best]
        opened = chosen == open_chains
        chains[lo:] += opened
        first_day[rows[opened], chosen[opened]] = day[opened]
        last_day[rows, chosen] = day
        price[rows, chosen] = amount
        members[rows, chosen] += 1
        stepped[rows, chosen] |= is_step
        chain_out[at] = chosen
        step_out[at] = is_step

    valid = members >= cadence.min_charges
    series = valid.sum(axis=1)
    span_first = np.where(valid, first_day, np.iinfo(np.int64).max).min(axis=1)
    span_last = np.where(valid, last_day, np.iinfo(np.int64).min).max(axis=1)
    charged = np.where(valid, members, 0).sum(axis=1)
    longest_series = np.where(valid, members, 0).max(axis=1)
    group_of = np.repeat(np.arange(count), lengths_b)
    at = np.repeat(starts_b, lengths_b) + (np.arange(len(group_of)) - np.repeat(np.cumsum(lengths_b) - lengths_b,
                                                                                lengths_b))
    inside = (days[at] >= span_first[group_of]) & (days[at] <= span_last[group_of])
    in_span = np.bincount(group_of, weights=inside, minlength=count)
    share = np.divide(charged, in_span, out=np.zeros(count), where=in_span > 0)
    carries = ((series >= 1) & (series <= MAX_PARALLEL_STREAMS)
               & ((share >= MIN_MERCHANT_SHARE) | ((longest_series >= LONG_STREAM) & (share >= MIN_MERCHANT_SHARE_LONG))))
    carries_out[groups] = carries
    kept_out[at] = carries[group_of] & valid[group_of, chain_out[at]]


def _may_carry(first_day: np.ndarray, last_day: np.ndarray, counts: np.ndarray, cadence: Cadence) -> np.ndarray:
    """``tools.spending.recurring._may_carry`` per group."""
    periods = (last_day - first_day) // cadence.min_gap + 1
    return (counts >= cadence.min_charges) & (MAX_PARALLEL_STREAMS * periods >= MIN_MERCHANT_SHARE_LONG * counts)


def _isin(values: np.ndarray, names: frozenset[str]) -> np.ndarray:
    """``np.isin`` for text arrays, by hashing rather than sorting."""
    return pd.Series(values, dtype=object).isin(names).to_numpy(dtype=bool)


def _members(group: np.ndarray, chosen: np.ndarray, groups: int) -> np.ndarray:
    """Whether each entry of ``group`` is one of the ``chosen`` groups."""
    mask = np.zeros(groups, dtype=bool)
    mask[chosen] = True
    return mask[group]


def _ranks(names: np.ndarray) -> np.ndarray:
    """Each name's position in sorted order."""
    ranks = np.empty(len(names), dtype=np.int64)
    ranks[np.argsort(names, kind="stable")] = np.arange(len(names))
    return ranks


def _layout(group: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(starts, lengths) of ``size`` groups for charges sorted by group (absent groups: length 0)."""
    lengths = np.bincount(group, minlength=size)
    return np.cumsum(lengths) - lengths, lengths


def _most_common_per_group(group: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per group, the most frequent value (ties: the one seen first), as ``Counter.most_common``;
    rows of each group in time order."""
    codes, names = pd.factorize(values)
    frame = pd.DataFrame({"group": group, "value": codes, "position": np.arange(len(group))})
    counted = frame.groupby(["group", "value"], sort=False).agg(n=("position", "size"), first=("position", "min"))
    counted = counted.reset_index().sort_values(["group", "n", "first"], ascending=[True, False, True])
    winners = counted.drop_duplicates("group")
    out = np.empty(int(group.max()) + 1 if len(group) else 0, dtype=object)
    out[winners["group"].to_numpy()] = np.asarray(names, dtype=object)[winners["value"].to_numpy()]
    return out


def book_streams(starts: np.ndarray, ends: np.ndarray, columns: dict[str, np.ndarray],
                 as_of: date) -> list[list[Stream]]:
    """``detect_recurring`` of every customer: customer ``k``'s ledger is rows
    ``starts[k]:ends[k]`` of ``columns`` (the ledger's arrays, each customer's rows in time order)."""
    customers = len(starts)
    result: list[list[Stream]] = [[] for _ in range(customers)]
    amount = columns["amount"]
    if not len(amount) or not customers:
        return result
    as_of_day = int(np.datetime64(as_of, "D").astype(np.int64))
    day = columns["timestamp"].astype("datetime64[s]").astype(np.int64) // SECONDS_PER_DAY
    owner = np.repeat(np.arange(customers), ends - starts)
    merchant, category, account = columns["merchant"], columns["category"], columns["account_id"]
    candidate = np.flatnonzero((amount < 0) & (merchant != "") & (day >= as_of_day - RECURRING_LOOKBACK_DAYS)
                               & ~_isin(category, NON_SPEND_CATEGORIES))
    if not len(candidate):
        return result

    # Groups: customer, then "key\x1faccount" in string order (as np.unique orders them), then time.
    # Keys hold no "\x1f" (it is whitespace to normalise_merchant), so that order is the order of
    # key + "\x1f", then of the account.
    merchant_codes, merchant_names = pd.factorize(merchant[candidate])
    key_of_merchant, key_names = pd.factorize(np.array([normalise_merchant(m) for m in merchant_names], dtype=object))
    key_names = np.asarray(key_names, dtype=object)
    key_rank = _ranks(np.array([f"{k}\x1f" for k in key_names.tolist()], dtype=object))
    account_codes, account_names = pd.factorize(account[candidate])
    account_rank = _ranks(np.asarray(account_names, dtype=object))
    key_codes = key_of_merchant[merchant_codes]
    order = np.lexsort((candidate, account_rank[account_codes], key_rank[key_codes], owner[candidate]))
    rows = candidate[order]
    key_of_row, account_of_row = key_codes[order], account_codes[order]
    boundary = np.flatnonzero((np.diff(owner[rows]) != 0) | (np.diff(key_of_row) != 0)
                              | (np.diff(account_of_row) != 0)) + 1
    group = np.zeros(len(rows), dtype=np.int64)
    group[boundary] = 1
    group = np.cumsum(group)
    groups = int(group[-1]) + 1
    counts = np.bincount(group, minlength=groups)
    is_service = _isin(category[rows], SUBSCRIPTION_SERVICE_CATEGORIES)
    service = np.bincount(group, weights=is_service, minlength=groups) > 0

    eligible = (counts >= ANNUAL.min_charges) | service
    keep = eligible[group]
    rows, group, key_of_row = rows[keep], group[keep], key_of_row[keep]
    old = np.flatnonzero(eligible)
    renumber = np.full(groups, -1, dtype=np.int64)
    renumber[old] = np.arange(len(old))
    group = renumber[group]
    groups, service, counts = len(old), service[old], counts[old]
    starts_g, _ = _layout(group, groups)
    group_customer = owner[rows[starts_g]]
    group_key = key_names[key_of_row[starts_g]]
    group_category = _most_common_per_group(group, category[rows])
    tolerance = np.where(_isin(group_category, NON_SUBSCRIPTION_CATEGORIES), BILL_TOLERANCE,
                         FIXED_PRICE_TOLERANCE)
    days = day[rows]
    price = -amount[rows]

    # Monthly series over all of a group's charges, where they may carry it.
    ends_g = starts_g + counts
    monthly_groups = np.flatnonzero(_may_carry(days[starts_g], days[ends_g - 1], counts, MONTHLY))
    kept_monthly = np.zeros(len(rows), dtype=bool)
    chain_monthly = np.zeros(len(rows), dtype=np.int64)
    step_monthly = np.zeros(len(rows), dtype=bool)
    if len(monthly_groups):
        at = np.flatnonzero(_members(group, monthly_groups, groups))
        sub_group = np.searchsorted(monthly_groups, group[at])
        sub_starts, sub_lengths = _layout(sub_group, len(monthly_groups))
        built = _build_chains(sub_starts, sub_lengths, days[at], price[at], tolerance[monthly_groups], MONTHLY)
        kept_monthly[at], chain_monthly[at], step_monthly[at] = built.kept, built.chain, built.step

    # Annual series over the charges left.
    remaining = np.flatnonzero(~kept_monthly)
    left = np.bincount(group[remaining], minlength=groups)
    first_left = np.full(groups, 0, dtype=np.int64)
    last_left = np.full(groups, 0, dtype=np.int64)
    if len(remaining):
        group_left = group[remaining]
        change = np.concatenate([[True], group_left[1:] != group_left[:-1]])
        first_left[group_left[change]] = days[remaining[change]]
        ends_left = np.concatenate([change[1:], [True]])
        last_left[group_left[ends_left]] = days[remaining[ends_left]]
    annual_groups = np.flatnonzero(_may_carry(first_left, last_left, left, ANNUAL))
    kept_annual = np.zeros(len(rows), dtype=bool)
    chain_annual = np.zeros(len(rows), dtype=np.int64)
    step_annual = np.zeros(len(rows), dtype=bool)
    if len(annual_groups):
        at = remaining[_members(group[remaining], annual_groups, groups)]
        sub_group = np.searchsorted(annual_groups, group[at])
        sub_starts, sub_lengths = _layout(sub_group, len(annual_groups))
        built = _build_chains(sub_starts, sub_lengths, days[at], price[at], tolerance[annual_groups], ANNUAL)
        kept_annual[at], chain_annual[at], step_annual[at] = built.kept, built.chain, built.step

    # Series: (group, phase 0 monthly / 1 annual, chain); charges of each in time order.
    in_series = kept_monthly | kept_annual
    at = np.flatnonzero(in_series)
    phase = np.where(kept_monthly[at], 0, 1)
    chain = np.where(kept_monthly[at], chain_monthly[at], chain_annual[at])
    step = np.where(kept_monthly[at], step_monthly[at], step_annual[at])
    order = np.lexsort((at, chain, phase, group[at]))
    at, phase, chain, step = at[order], phase[order], chain[order], step[order]
    found = np.zeros(groups, dtype=bool)
    found[group[at]] = True
    if len(at):
        new = np.concatenate([[True], (np.diff(group[at]) != 0) | (np.diff(phase) != 0) | (np.diff(chain) != 0)])
    else:
        new = np.zeros(0, dtype=bool)
    series_id = np.cumsum(new) - 1
    series = int(series_id[-1]) + 1 if len(at) else 0
    series_start = np.flatnonzero(new)
    series_count = np.bincount(series_id, minlength=series)
    series_last = np.zeros(series, dtype=np.int64)
    if series:
        series_last = days[at[series_start + series_count - 1]]
    series_phase = phase[series_start] if series else np.zeros(0, dtype=np.int64)
    active_days = np.where(series_phase == 0, MONTHLY.active_days, ANNUAL.active_days)
    in_person_share = np.bincount(series_id, weights=_isin(columns["channel"][rows[at]], IN_PERSON_CHANNELS),
                                  minlength=series) / np.maximum(series_count, 1)
    reported = np.flatnonzero((as_of_day - series_last <= active_days) & ~(in_person_share > 0.5))

    # (customer, group, phase) order of the streams, as detect_recurring lists them. The charges'
    # fields are turned into Python values once for all series, then sliced per series.
    streams: list[tuple[int, Stream]] = []  # (3 x group + 0 monthly / 1 annual / 2 few charges, series)
    charged = rows[at]
    local_rows = charged - starts[owner[charged]]
    dates = columns["timestamp"][charged].astype("datetime64[D]").tolist()
    transaction_ids = [str(t) for t in columns["transaction_id"][charged].tolist()]
    accounts = columns["account_id"][charged].tolist()
    first_step = np.full(series, -1)
    stepped = np.flatnonzero(step)
    first_step[series_id[stepped[::-1]]] = (stepped - series_start[series_id[stepped]])[::-1]
    series_merchant = _most_common_per_group(series_id, columns["merchant"][charged])
    for s, start, n, phase_of in zip(reported.tolist(), series_start[reported].tolist(),
                                     series_count[reported].tolist(), series_phase[reported].tolist()):
        end = start + n
        g = int(group[at[start]])
        streams.append((3 * g + phase_of, Stream(
            key=str(group_key[g]),
            merchant=str(series_merchant[s]),
            category=str(group_category[g]),
            account=str(accounts[start]),
            cadence=MONTHLY if phase_of == 0 else ANNUAL,
            rows=local_rows[start:end],
            amounts=price[at[start:end]],
            dates=dates[start:end],
            transaction_ids=transaction_ids[start:end],
            step_at=int(first_step[s]) if first_step[s] >= 0 else None,
            in_person=False,
        )))

    # Subscription services with too few charges for a series.
    service_category = _isin(group_category, SUBSCRIPTION_SERVICE_CATEGORIES)
    for g in np.flatnonzero(service_category & ~found).tolist():
        part = slice(starts_g[g], starts_g[g] + counts[g])
        for few, cadence in _few_charges(days[part], price[part], as_of_day):
            chosen = np.arange(part.start, part.stop)[few.positions]
            if as_of_day - int(days[chosen[-1]]) > cadence.active_days:
                continue
            stream = _stream(rows[chosen], starts[group_customer[g]], str(group_key[g]), str(group_category[g]),
                             cadence, price[chosen], few.step_at, columns)
            if not stream.in_person:
                streams.append((3 * g + 2, stream))

    streams.sort(key=itemgetter(0))  # stable: series of one group and period stay in order
    for place, stream in streams:
        result[int(group_customer[place // 3])].append(stream)
    for customer_streams in result:
        if customer_streams:
            _mark_duplicates(customer_streams, as_of_day)
            _mark_overlaps([s for s in customer_streams if s.is_subscription])
    return result


def _stream(rows: np.ndarray, customer_start: int, key: str, category: str, cadence: Cadence, amounts: np.ndarray,
            step_at: int | None, columns: dict[str, np.ndarray], in_person: bool | None = None) -> Stream:
    """The ``Stream`` of these rows of the book (``in_person`` when already known)."""
    merchants = columns["merchant"][rows]
    if in_person is None:
        in_person = bool(np.isin(columns["channel"][rows], list(IN_PERSON_CHANNELS)).mean() > 0.5)
    return Stream(
        key=key,
        merchant=str(Counter(merchants.tolist()).most_common(1)[0][0]),
        category=category,
        account=str(columns["account_id"][rows[0]]),
        cadence=cadence,
        rows=rows - customer_start,
        amounts=amounts,
        dates=columns["timestamp"][rows].astype("datetime64[D]").tolist(),
        transaction_ids=[str(t) for t in columns["transaction_id"][rows].tolist()],
        step_at=step_at,
        in_person=in_person,
    )
