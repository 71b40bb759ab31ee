"""Injected suspicious transactions, one kind per episode.

About 1.5 % of customers get one to three episodes in the later part of the window
(so there is normal history before): an unusually large purchase, a card payment in
a country no ordinary customer visits, a purchase between 02:00 and 04:00 (ordinary
activity never happens before 06:00), a burst of 5-8 online card payments within ten
minutes, or a payment to a merchant no ordinary customer uses.
"""

from __future__ import annotations

import numpy as np

from bank.generator import catalog as cat
from bank.generator.batch import Batch, Chunk, make_batch, seconds_of_day, spending_account
from bank.generator.streams import stream

ANOMALY_RATE = 0.015
KIND = {name: code for code, name in enumerate(cat.ANOMALY_KINDS)}
BIG_TICKET = ("Harvey Norman", "Currys", "Apple Store", "DID Electrical", "Power City", "Brown Thomas")
BURST_SHOPS = ("Amazon.ie Marketplace", "eBay", "ASOS", "Zalando", "Argos", "Steam Purchase", "PlayStation Store")


def anomalies(chunk: Chunk) -> list[Batch]:
    rng = stream(chunk.seed, chunk.index, "anomalies")
    p, h, w, m, places = chunk.people, chunk.accounts.holdings, chunk.window, chunk.merchants, chunk.places
    n = len(p)
    victims = np.flatnonzero(rng.random(n) < ANOMALY_RATE)
    episodes = np.minimum(1 + rng.poisson(0.6, len(victims)), 3)
    customer = np.repeat(victims, episodes)
    kind = rng.integers(0, len(cat.ANOMALY_KINDS), len(customer))
    first_day = np.maximum(
        w.month_start[min(max(1, w.months // 3), w.months - 1)],
        chunk.accounts.opened_day_of(h.checking[customer]) + 21,
    )
    first_day = np.minimum(first_day, w.n_days - 1)
    day = first_day + (rng.random(len(customer)) * (w.n_days - first_day)).astype(np.int64)
    typical = 42.0 * p.spend_scale[customer] ** 0.8
    out: list[Batch] = []

    def emit(
        sel: np.ndarray,
        merchant: np.ndarray,
        amount: np.ndarray,
        channel: np.ndarray | int,
        second: np.ndarray,
        city: np.ndarray | int,
        code: int,
    ) -> None:
        c, d = customer[sel], day[sel]
        account = spending_account(rng, chunk, c, d)
        out.append(make_batch(chunk, c, account, d, second, -np.round(amount, 2), merchant, channel, city, code))

    sel = kind == KIND["large_amount"]
    codes = np.array([m.code[x] for x in BIG_TICKET])
    amount = np.maximum(1_200.0, 18 * typical[sel]) * (1 + 1.5 * rng.random(int(sel.sum())))
    emit(
        sel,
        codes[rng.integers(0, len(codes), int(sel.sum()))],
        amount,
        cat.CHANNEL_CODE["card_present"],
        seconds_of_day(rng, int(sel.sum()), "shop"),
        chunk.home_city[customer[sel]],
        KIND["large_amount"],
    )

    sel = kind == KIND["foreign_country"]
    pool = m.codes(cat.ABROAD_SHOPS)
    city = places.unusual_start + rng.integers(0, places.unusual_count, int(sel.sum()))
    emit(
        sel,
        pool[rng.integers(0, len(pool), int(sel.sum()))],
        typical[sel] * (1 + 3 * rng.random(int(sel.sum()))),
        cat.CHANNEL_CODE["card_present"],
        seconds_of_day(rng, int(sel.sum()), "shop"),
        city,
        KIND["foreign_country"],
    )

    sel = kind == KIND["odd_hour"]
    pool = m.codes(cat.SHOPPING + cat.DINING[-3:])  # shops and delivery apps that sell online
    emit(
        sel,
        pool[rng.integers(0, len(pool), int(sel.sum()))],
        typical[sel] * (0.5 + 2 * rng.random(int(sel.sum()))),
        cat.CHANNEL_CODE["online"],
        2 * 3600 + rng.integers(0, 7200, int(sel.sum())),
        0,
        KIND["odd_hour"],
    )

    sel = kind == KIND["new_merchant"]
    pool = m.codes(cat.UNSEEN_MERCHANTS)
    emit(
        sel,
        pool[rng.integers(0, len(pool), int(sel.sum()))],
        40 + 360 * rng.random(int(sel.sum())),
        cat.CHANNEL_CODE["online"],
        seconds_of_day(rng, int(sel.sum()), "shop"),
        0,
        KIND["new_merchant"],
    )

    bursts = np.flatnonzero(kind == KIND["velocity_burst"])
    size = rng.integers(5, 9, len(bursts))
    member = np.repeat(bursts, size)
    start = np.repeat(seconds_of_day(rng, len(bursts), "day"), size)
    offset = rng.integers(0, 600, len(member))
    pool = np.array([m.code[x] for x in BURST_SHOPS])
    c, d = customer[member], day[member]
    account = np.repeat(spending_account(rng, chunk, customer[bursts], day[bursts]), size)
    out.append(
        make_batch(
            chunk,
            c,
            account,
            d,
            start + offset,
            -np.round(20 + 130 * rng.random(len(member)), 2),
            pool[rng.integers(0, len(pool), len(member))],
            cat.CHANNEL_CODE["online"],
            0,
            KIND["velocity_burst"],
        )
    )
    return out
