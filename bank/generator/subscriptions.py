"""Subscriptions with true periodicity, and their ground truth.

A monthly subscription is charged on the same day of the month (± 2 days) for the
same amount, except one price rise for some; an annual one is charged once a year on
its anniversary. Some customers pay the same service twice from two accounts
(duplicates) or hold two services of one family (overlaps).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bank.generator import catalog as cat
from bank.generator.accounts import account_ids
from bank.generator.batch import Batch, Chunk, make_batch, seconds_of_day
from bank.generator.streams import stream

MONTHLY, ANNUAL = 0, 1
SUBSCRIPTION_LABEL_COLUMNS = (
    "customer_id",
    "merchant",
    "account_id",
    "period",
    "amount",
    "amount_after_rise",
    "price_rise_date",
    "first_date",
    "last_date",
    "n_charges",
    "active_at_end",
    "families",
    "duplicate",
    "overlap",
    "overlap_with",
)


def _service_arrays() -> dict[str, np.ndarray]:
    s = cat.SERVICES
    return {
        "monthly": np.array([x.monthly_price if x.monthly_price is not None else np.nan for x in s]),
        "annual": np.array([x.annual_price if x.annual_price is not None else np.nan for x in s]),
        "risen": np.array([x.risen_price if x.risen_price is not None else np.nan for x in s]),
        "weight": np.array([x.weight for x in s]),
        "young": np.array([any(f in ("gaming", "dating") for f in x.families) for x in s]),
        "gym": np.array(["gym" in x.families for x in s]),
    }


def subscriptions(chunk: Chunk) -> tuple[list[Batch], pd.DataFrame]:
    rng = stream(chunk.seed, chunk.index, "subscriptions")
    p, h, w, m = chunk.people, chunk.accounts.holdings, chunk.window, chunk.merchants
    n, months, services = len(p), w.months, _service_arrays()
    n_services = len(cat.SERVICES)

    age_factor = np.interp(p.age, [18, 30, 45, 60, 75, 90], [1.35, 1.3, 1.0, 0.6, 0.35, 0.25])
    wanted = np.minimum(rng.poisson(2.1 * age_factor * np.clip(p.spend_scale, 0.5, 2.0) ** 0.3), 8)
    log_weight = np.log(services["weight"])[None, :] + np.where(
        services["young"][None, :] & (p.age[:, None] > 40), -1.5, 0.0
    )
    keys = log_weight + rng.gumbel(size=(n, n_services))
    order = np.argsort(-keys, axis=1, kind="stable")
    customer, rank = np.nonzero(np.arange(n_services)[None, :] < wanted[:, None])
    service = order[customer, rank]
    k = len(customer)

    has_monthly = ~np.isnan(services["monthly"][service])
    has_annual = ~np.isnan(services["annual"][service])
    period = np.where(~has_monthly | (has_annual & (rng.random(k) < 0.22)), ANNUAL, MONTHLY)
    card_ok = (h.card[customer] >= 0) & (h.card_open_day[customer] <= 0)
    account = np.where(card_ok & (rng.random(k) < 0.45), h.card[customer], h.checking[customer])
    start = np.where(rng.random(k) < 0.8, 0, rng.integers(1, max(months, 2), k))
    cancels = (rng.random(k) < 0.12) & (start + 3 < months)
    end = np.where(cancels, start + 2 + (rng.random(k) * (months - start - 3)).astype(np.int64), months - 1)
    anchor = rng.integers(1, 29, k)
    anniversary = np.where(start > 0, start, rng.integers(0, 12, k))

    # a second charge of one monthly service from another account of the same customer
    other_account = np.where(h.second_checking >= 0, h.second_checking, np.where(h.card_open_day <= 0, h.card, -1))
    other = other_account[customer]
    candidates = (period == MONTHLY) & (other >= 0) & (account != other)
    first_candidate = np.zeros(k, bool)
    _, first_index = np.unique(customer[candidates], return_index=True)
    first_candidate[np.flatnonzero(candidates)[first_index]] = True
    dup_source = np.flatnonzero(first_candidate & (rng.random(k) < 0.2))
    customer = np.concatenate([customer, customer[dup_source]])
    service = np.concatenate([service, service[dup_source]])
    period = np.concatenate([period, period[dup_source]])
    account = np.concatenate([account, other[dup_source]])
    start = np.concatenate(
        [start, np.maximum(start[dup_source], rng.integers(0, max(months - 2, 1), len(dup_source)))]
    )
    end = np.concatenate([end, end[dup_source]])
    anchor = np.concatenate([anchor, rng.integers(1, 29, len(dup_source))])
    anniversary = np.concatenate([anniversary, anniversary[dup_source]])
    k = len(customer)

    price = np.where(period == MONTHLY, services["monthly"][service], services["annual"][service])
    risen = services["risen"][service]
    rises = (period == MONTHLY) & ~np.isnan(risen) & (end - start >= 4) & (rng.random(k) < 0.18)
    rise_month = np.where(rises, start + 2 + (rng.random(k) * (end - start - 2)).astype(np.int64), months + 1)

    # charges: every month for monthly, every anniversary for annual
    sub = np.repeat(np.arange(k), months)
    month = np.tile(np.arange(months), k)
    active = (month >= start[sub]) & (month <= end[sub])
    annual = period[sub] == ANNUAL
    active &= ~annual | ((month - anniversary[sub]) % 12 == 0)
    sub, month = sub[active], month[active]
    jitter = np.where(period[sub] == MONTHLY, rng.integers(-2, 3, len(sub)), 0)
    dom = np.clip(anchor[sub] + jitter, 1, w.month_length[month])
    day = w.month_start[month] + dom - 1
    keep = (day < w.n_days) & (day >= chunk.accounts.opened_day_of(account[sub]))
    sub, month, day = sub[keep], month[keep], day[keep]
    amount = np.where(month >= rise_month[sub], risen[sub], price[sub])
    merchant = np.array([m.code[s.name] for s in cat.SERVICES])[service[sub]]
    channel = np.where(services["gym"][service[sub]], cat.CHANNEL_CODE["direct_debit"], cat.CHANNEL_CODE["online"])
    batch = make_batch(
        chunk, customer[sub], account[sub], day, seconds_of_day(rng, len(sub), "day"), -amount, merchant, channel
    )

    labels = _labels(chunk, customer, service, account, period, price, risen, rise_month, sub, day, month)
    return [batch], labels


def _labels(
    chunk: Chunk,
    customer: np.ndarray,
    service: np.ndarray,
    account: np.ndarray,
    period: np.ndarray,
    price: np.ndarray,
    risen: np.ndarray,
    rise_month: np.ndarray,
    sub: np.ndarray,
    day: np.ndarray,
    month: np.ndarray,
) -> pd.DataFrame:
    w, p = chunk.window, chunk.people
    k = len(customer)
    n_charges = np.bincount(sub, minlength=k)
    first = np.full(k, w.n_days, np.int64)
    last = np.full(k, -1, np.int64)
    np.minimum.at(first, sub, day)
    np.maximum.at(last, sub, day)
    rise_day = np.full(k, w.n_days, np.int64)
    risen_charge = month >= rise_month[sub]
    np.minimum.at(rise_day, sub[risen_charge], day[risen_charge])
    charged = n_charges > 0
    risen_only = (rise_day < w.n_days) & (first >= rise_day)  # charged only after the rise: no rise to see
    has_rise = (rise_day < w.n_days) & ~risen_only

    families = [cat.SERVICES[s].families for s in service]
    names = [cat.SERVICES[s].name for s in service]
    overlap_with: list[str] = []
    by_customer: dict[int, list[int]] = {}
    for i in np.flatnonzero(charged):
        by_customer.setdefault(int(customer[i]), []).append(int(i))
    for i in range(k):
        peers = by_customer.get(int(customer[i]), []) if charged[i] else []
        same_family = sorted(
            {names[j] for j in peers if names[j] != names[i] and set(families[j]) & set(families[i])}
        )
        overlap_with.append(";".join(same_family))
    frame = pd.DataFrame(
        {
            "customer_id": p.customer_id[customer],
            "merchant": names,
            "account_id": account_ids(account),
            "period": np.where(period == MONTHLY, "monthly", "annual"),
            "amount": np.where(risen_only, risen, price),
            "amount_after_rise": np.where(has_rise, risen, np.nan),
            "price_rise_date": np.where(has_rise, w.dates(np.minimum(rise_day, w.n_days - 1)), None),
            "first_date": w.dates(np.clip(first, 0, w.n_days - 1)),
            "last_date": w.dates(np.clip(last, 0, w.n_days - 1)),
            "n_charges": n_charges,
            "active_at_end": last >= w.n_days - 1 - np.where(period == MONTHLY, 33, 366),
            "families": [";".join(f) for f in families],
            "duplicate": False,
            "overlap": np.array([bool(x) for x in overlap_with]),
            "overlap_with": overlap_with,
            "_customer": customer,
        }
    )
    frame = frame[charged].sort_values(["_customer", "merchant", "account_id"], kind="stable")
    # the same service charged from two accounts, both inside the window
    frame["duplicate"] = frame.groupby(["_customer", "merchant"])["account_id"].transform("nunique").to_numpy() > 1
    return frame.drop(columns="_customer").reset_index(drop=True)
