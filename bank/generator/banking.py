"""Money moved by the bank itself: repayments, fees, interest and savings transfers.

Repayment transactions are drawn from the repayment history, so every paid
instalment in payments.csv has its debit in transactions.csv on the paid date.
"""

from __future__ import annotations

import numpy as np

from bank.generator import catalog as cat
from bank.generator.accounts import TYPE_ORDER
from bank.generator.batch import Batch, Chunk, make_batch, seconds_of_day
from bank.generator.streams import sigmoid, stream

CH = cat.CHANNEL_CODE
REPAYMENT_MERCHANT = {
    "credit_card": f"{cat.BANK_NAME} Credit Card",
    "personal_loan": f"{cat.BANK_NAME} Personal Loan",
    "auto_loan": f"{cat.BANK_NAME} Car Finance",
    "mortgage": f"{cat.BANK_NAME} Mortgage",
}


def banking(chunk: Chunk) -> list[Batch]:
    rng = stream(chunk.seed, chunk.index, "fees")
    return _repayments(chunk, rng) + _fees(chunk, rng) + _savings(chunk, rng)


def _repayments(chunk: Chunk, rng: np.random.Generator) -> list[Batch]:
    pay = chunk.accounts.payments
    h, m = chunk.accounts.holdings, chunk.merchants
    owner = pay["_owner"].to_numpy()
    kind = pay["_type"].to_numpy()
    paid_day = pay["_paid_day"].to_numpy()
    partial_day = pay["_partial_day"].to_numpy()
    amount = pay["amount_paid"].to_numpy()
    merchant_of_type = np.zeros(len(TYPE_ORDER), np.int32)
    channel_of_type = np.zeros(len(TYPE_ORDER), np.int8)
    for name, merchant in REPAYMENT_MERCHANT.items():
        merchant_of_type[TYPE_ORDER.index(name)] = m.code[merchant]
        channel_of_type[TYPE_ORDER.index(name)] = CH["transfer"] if name == "credit_card" else CH["direct_debit"]
    day = np.where(paid_day >= 0, paid_day, partial_day)
    keep = (day >= 0) & (amount > 0)
    c, k, day, amount = owner[keep], kind[keep], day[keep], amount[keep]
    out = [
        make_batch(
            chunk,
            c,
            h.checking[c],
            day,
            seconds_of_day(rng, len(c), "bank"),
            -amount,
            merchant_of_type[k],
            channel_of_type[k],
        )
    ]

    late = pay["days_late"].to_numpy() > 3
    fee_day = pay["_due_day"].to_numpy() + 3
    keep = late & (fee_day < chunk.window.n_days)
    fee = np.array([cat.LATE_FEE.get(t, 0.0) for t in TYPE_ORDER])[kind[keep]]
    c = owner[keep]
    out.append(
        make_batch(
            chunk,
            c,
            pay["_number"].to_numpy()[keep],
            fee_day[keep],
            np.full(len(c), 6 * 3600 + 1800),
            -fee,
            m.code["Late payment fee"],
            CH["transfer"],
        )
    )
    return out


def _fees(chunk: Chunk, rng: np.random.Generator) -> list[Batch]:
    p, h, w, m = chunk.people, chunk.accounts.holdings, chunk.window, chunk.merchants
    n = len(p)
    trouble = chunk.accounts.trouble
    month_end = w.month_start + w.month_days - 1
    out = []
    prone = sigmoid(-3.0 + 1.2 * p.risk)[:, None]
    overdrawn = trouble | (rng.random((n, w.months)) < prone)
    c, month = np.nonzero(overdrawn)
    amount = np.round(1.5 + 20 * rng.random(len(c)) * (1 + trouble[c, month]), 2)
    out.append(
        make_batch(
            chunk,
            c,
            h.checking[c],
            month_end[month],
            np.full(len(c), 22 * 3600),
            -amount,
            m.code["Overdraft interest"],
            CH["transfer"],
        )
    )

    c, month = np.nonzero(np.broadcast_to(h.plus_account[:, None], (n, w.months)))
    out.append(
        make_batch(
            chunk,
            c,
            h.checking[c],
            w.month_start[month],
            np.full(len(c), 6 * 3600),
            np.full(len(c), -cat.PLUS_MONTHLY_FEE),
            m.code["Plus account monthly fee"],
            CH["transfer"],
        )
    )

    fee_payers = np.flatnonzero((h.card_annual_fee > 0) & (h.card >= 0))
    opened = w.start_datetime64 + h.card_open_day[fee_payers].astype("timedelta64[D]")
    opened_month = opened.astype("datetime64[M]").astype(np.int64) % 12 + 1
    opened_dom = (opened - opened.astype("datetime64[M]")).astype(np.int64) + 1
    for month in range(w.months):
        due = fee_payers[
            (opened_month == w.month_of_year[month]) & (h.card_open_day[fee_payers] < w.month_start[month])
        ]
        dom = opened_dom[np.searchsorted(fee_payers, due)]
        day = w.month_start[month] + np.minimum(dom, w.month_length[month]) - 1
        keep = day < w.n_days
        c = due[keep]
        out.append(
            make_batch(
                chunk,
                c,
                h.card[c],
                day[keep],
                np.full(len(c), 7 * 3600),
                -h.card_annual_fee[c],
                m.code["Card annual fee"],
                CH["transfer"],
            )
        )
    return out


def _savings(chunk: Chunk, rng: np.random.Generator) -> list[Batch]:
    p, h, w, m = chunk.people, chunk.accounts.holdings, chunk.window, chunk.merchants
    n = len(p)
    trouble = chunk.accounts.trouble
    saver = (h.savings >= 0) & (rng.random(n) < 0.65) & (p.salary_income > 15_000)
    monthly = np.round(np.clip(p.salary_income * (0.02 + 0.06 * rng.random(n)) / 12, 25, 1_500), -1)
    dom = np.clip(p.pay_day + 1, 1, 28)
    months = np.arange(w.months)[None, :]
    lost = p.has_event("job_loss")[:, None] & (months >= p.event_month[:, None])
    active = saver[:, None] & ~trouble & ~lost
    c, month = np.nonzero(active)
    day = w.month_start[month] + np.minimum(dom[c], w.month_length[month]) - 1
    keep = day < w.n_days
    c, day = c[keep], day[keep]
    second = seconds_of_day(rng, len(c), "bank")
    out = [
        make_batch(
            chunk,
            c,
            h.checking[c],
            day,
            second,
            -monthly[c],
            m.code[f"Transfer to {cat.BANK_NAME} Savings"],
            CH["transfer"],
        ),
        make_batch(
            chunk,
            c,
            h.savings[c],
            day,
            second + 1,
            monthly[c],
            m.code["Transfer from current account"],
            CH["transfer"],
        ),
    ]
    december = np.flatnonzero(w.month_of_year == 12)
    if len(december):
        day = w.month_start[december[-1]] + 30
        holders = np.flatnonzero(h.savings >= 0)
        if day < w.n_days:
            interest = np.round(
                2 + 60 * rng.random(len(holders)) * np.clip(p.salary_income[holders] / 45_000, 0.2, 3), 2
            )
            out.append(
                make_batch(
                    chunk,
                    holders,
                    h.savings[holders],
                    np.full(len(holders), day),
                    np.full(len(holders), 6 * 3600),
                    interest,
                    m.code["Savings interest"],
                    CH["transfer"],
                )
            )
    return out
