"""Ordinary money movements: income, housing, bills, everyday spending, travel, life events.

Every stream is drawn for a whole chunk of customers at once; counts come from
Poisson rates per (customer, month) that carry the customer's habits, the season
and the effect of a life event from its month onward.
"""

from __future__ import annotations

import numpy as np

from bank.generator import catalog as cat
from bank.generator.batch import (
    Batch,
    Chunk,
    card_channel,
    choose_merchant,
    day_in_month,
    favourites,
    make_batch,
    monthly_events,
    present_city,
    seconds_of_day,
    spending_account,
)
from bank.generator.merchants import FAMILY_SUPPORT, atm_merchant, salary_merchant
from bank.generator.people import JOBSEEKER_WEEKLY, monthly_net_income
from bank.generator.streams import stream

CH = cat.CHANNEL_CODE
SEASON = {  # January .. December
    "travel": np.array([0.6, 0.6, 0.8, 0.9, 1.0, 1.4, 2.2, 2.2, 1.1, 0.9, 0.7, 1.6]),
    "shopping": np.array([1.2, 0.8, 0.9, 0.9, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.4, 2.0]),
    "dining": np.array([0.85, 0.9, 0.95, 1.0, 1.0, 1.05, 1.1, 1.1, 1.0, 1.0, 1.0, 1.35]),
    "groceries": np.array([1.0, 0.95, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.2]),
    "transport": np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.95, 0.85, 0.85, 1.05, 1.0, 1.0, 0.95]),
}
STATE_PENSION_MONTHLY = 1_253.63
STUDENT_EMPLOYERS = (
    "Tesco Ireland",
    "Dunnes Stores",
    "Primark",
    "Lidl Ireland",
    "Aldi Ireland",
    "SuperValu",
    "Circle K Ireland",
)


def _season(chunk: Chunk, name: str) -> np.ndarray:
    return SEASON[name][chunk.window.month_of_year - 1][None, :]


def _from_event(chunk: Chunk, name: str) -> np.ndarray:
    """(customers, months) bool: the life event ``name`` has happened by this month."""
    p = chunk.people
    months = np.arange(chunk.window.months)[None, :]
    return p.has_event(name)[:, None] & (months >= p.event_month[:, None])


def _in_window(day: np.ndarray, chunk: Chunk) -> np.ndarray:
    return (day >= 0) & (day < chunk.window.n_days)


def _amounts(rng: np.random.Generator, median: float, sigma: float, scale: np.ndarray) -> np.ndarray:
    return np.maximum(np.round(median * scale * np.exp(sigma * rng.standard_normal(len(scale))), 2), 0.5)


def _series(start: np.ndarray, step: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and days of events every ``step`` days from ``start`` (per row) up to ``end``."""
    counts = np.where(start <= end, (end - start) // step + 1, 0)
    row = np.repeat(np.arange(len(start)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return row, start[row] + step * offsets


def _monthly(
    chunk: Chunk, who: np.ndarray, day_of_month: np.ndarray, rng: np.random.Generator, jitter: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One event per month for the customers in ``who`` on their day of the month (± jitter)."""
    months = chunk.window.months
    customer = np.repeat(who, months)
    month = np.tile(np.arange(months), len(who))
    dom = np.repeat(day_of_month, months) + rng.integers(-jitter, jitter + 1, len(customer))
    day = day_in_month(chunk.window, month, dom)
    keep = day < chunk.window.n_days
    return customer[keep], month[keep], day[keep]


# --------------------------------------------------------------------------- income
def income(chunk: Chunk) -> list[Batch]:
    rng = stream(chunk.seed, chunk.index, "income")
    p, h, w, m = chunk.people, chunk.accounts.holdings, chunk.window, chunk.merchants
    n = len(p)
    status = p.employment_before
    lost = p.has_event("job_loss")
    end = w.n_days - 1
    out: list[Batch] = []

    salaried = np.flatnonzero(status == cat.EMPLOYMENT_STATUSES.index("employed"))
    c, month, day = _monthly(chunk, salaried, p.pay_day[salaried], rng)
    keep = ~lost[c] | (day < p.event_day[c])
    c, month, day = c[keep], month[keep], day[keep]
    bonus = (w.month_of_year[month] == 12) & (rng.random(n) < 0.15)[c]
    net = p.salary_income[c] * 0.71 / 12 * (1 + 0.004 * rng.standard_normal(len(c))) * np.where(bonus, 1.5, 1.0)
    employer_codes = np.array([m.code[salary_merchant(e)] for e in cat.EMPLOYERS])
    out.append(
        make_batch(
            chunk,
            c,
            h.checking[c],
            day,
            seconds_of_day(rng, len(c), "bank"),
            np.round(net, 2),
            employer_codes[p.employer[c]],
            CH["transfer"],
        )
    )

    self_employed = status == cat.EMPLOYMENT_STATUSES.index("self_employed")
    rates = np.where(self_employed[:, None], 2.2, 0.0) * ~_from_event(chunk, "job_loss")
    c, month, day = monthly_events(rng, rates, w)
    clients = np.array([m.code[f"Client payment {x}"] for x in cat.CLIENT_NAMES])
    fav = favourites(rng, n, clients, np.full(len(clients), 1 / len(clients)), 3)
    amount = _amounts(rng, 1.0, 0.55, p.salary_income[c] * 0.75 / 12 / 2.2)
    out.append(
        make_batch(
            chunk,
            c,
            h.checking[c],
            day,
            seconds_of_day(rng, len(c), "day"),
            amount,
            choose_merchant(rng, c, fav, clients, np.full(len(clients), 1 / len(clients))),
            CH["transfer"],
        )
    )

    unemployed = status == cat.EMPLOYMENT_STATUSES.index("unemployed")
    start = np.where(
        unemployed, rng.integers(0, 7, n), np.where(lost, p.event_day + 14 + rng.integers(0, 14, n), end + 1)
    )
    row, day = _series(start, 7, end)
    out.append(
        make_batch(
            chunk,
            row,
            h.checking[row],
            day,
            seconds_of_day(rng, len(row), "bank"),
            np.full(len(row), JOBSEEKER_WEEKLY),
            m.code["DSP Jobseeker's Allowance"],
            CH["transfer"],
        )
    )

    retired = np.flatnonzero(status == cat.EMPLOYMENT_STATUSES.index("retired"))
    c, month, day = _monthly(chunk, retired, p.pay_day[retired], rng, jitter=0)
    out.append(
        make_batch(
            chunk,
            c,
            h.checking[c],
            day,
            seconds_of_day(rng, len(c), "bank"),
            np.full(len(c), STATE_PENSION_MONTHLY),
            m.code["DSP State Pension"],
            CH["transfer"],
        )
    )
    private = retired[
        (p.salary_income[retired] > STATE_PENSION_MONTHLY * 12 + 2_000) & (rng.random(len(retired)) < 0.6)
    ]
    c, month, day = _monthly(chunk, private, np.full(len(private), 27), rng, jitter=0)
    amount = np.round(np.maximum(p.salary_income[c] / 12 - STATE_PENSION_MONTHLY, 150.0), 2)
    out.append(
        make_batch(
            chunk,
            c,
            h.checking[c],
            day,
            seconds_of_day(rng, len(c), "bank"),
            amount,
            m.code["Irish Life Pension"],
            CH["transfer"],
        )
    )

    student = status == cat.EMPLOYMENT_STATUSES.index("student")
    working = np.flatnonzero(student & (rng.random(n) < 0.55))
    shop_codes = np.array([m.code[salary_merchant(e)] for e in STUDENT_EMPLOYERS])
    shop = shop_codes[rng.integers(0, len(shop_codes), n)]
    for dom in (14, 28):
        c, month, day = _monthly(chunk, working, np.full(len(working), dom), rng)
        out.append(
            make_batch(
                chunk,
                c,
                h.checking[c],
                day,
                seconds_of_day(rng, len(c), "bank"),
                _amounts(rng, 320.0, 0.3, np.ones(len(c))),
                shop[c],
                CH["transfer"],
            )
        )
    supported = np.flatnonzero(student & (rng.random(n) < 0.7))
    c, month, day = _monthly(chunk, supported, rng.integers(1, 6, len(supported)), rng)
    out.append(
        make_batch(
            chunk,
            c,
            h.checking[c],
            day,
            seconds_of_day(rng, len(c), "evening"),
            np.round(200 + 300 * rng.random(n), -1)[c],
            m.code[FAMILY_SUPPORT],
            CH["transfer"],
        )
    )
    grant = np.flatnonzero(student & (rng.random(n) < 0.3))
    c, month, day = _monthly(chunk, grant, np.full(len(grant), 20), rng, jitter=0)
    term_time = ~np.isin(w.month_of_year[month], (6, 7, 8))
    grant_amount = np.round(300 + 300 * rng.random(n), -1)
    c, day = c[term_time], day[term_time]
    out.append(
        make_batch(
            chunk,
            c,
            h.checking[c],
            day,
            seconds_of_day(rng, len(c), "bank"),
            grant_amount[c],
            m.code["SUSI Grant"],
            CH["transfer"],
        )
    )

    refund = np.flatnonzero((status <= 1) & (rng.random(n) < 0.06))
    c, month, day = _monthly(chunk, refund, rng.integers(1, 28, len(refund)), rng)
    spring = w.month_of_year[month] == 4
    c, day = c[spring], day[spring]
    out.append(
        make_batch(
            chunk,
            c,
            h.checking[c],
            day,
            seconds_of_day(rng, len(c), "day"),
            _amounts(rng, 350.0, 0.6, np.ones(len(c))),
            m.code["Revenue Tax Refund"],
            CH["transfer"],
        )
    )
    return out


# --------------------------------------------------------------------------- housing and bills
def housing_and_bills(chunk: Chunk) -> list[Batch]:
    rng = stream(chunk.seed, chunk.index, "housing")
    p, h, w, m = chunk.people, chunk.accounts.holdings, chunk.window, chunk.merchants
    n = len(p)
    months = np.arange(w.months)[None, :]
    moved = p.has_event("moving_house")[:, None] & (months >= p.event_month[:, None])
    housing = np.where(moved, p.housing_after[:, None], p.housing_before[:, None])
    out: list[Batch] = []

    rent_median = np.array([r.rent_median for r in cat.REGIONS])[p.region]
    share = np.where(p.age < 27, 0.55, np.where(p.has_children, 1.15, 0.85))
    affordable = np.maximum(0.45 * monthly_net_income(p.salary_income, p.employment_before), 350.0)
    rent_before = np.round(np.minimum(rent_median * share * np.exp(0.18 * rng.standard_normal(n)), affordable), -1)
    rent_after = np.round(rent_before * (0.95 + 0.35 * rng.random(n)), -1)
    landlords = np.array([m.code[f"Rent {x}"] for x in cat.LANDLORDS])
    landlord_before = landlords[rng.integers(0, len(landlords), n)]
    landlord_after = landlords[rng.integers(0, len(landlords), n)]
    rent_dom = rng.integers(1, 6, n)
    rent_channel = np.where(rng.random(n) < 0.4, CH["direct_debit"], CH["transfer"])
    renting = housing == cat.HOUSING.index("renter")
    c, month = np.nonzero(renting)
    day = day_in_month(w, month, rent_dom[c])
    after = moved[c, month]
    keep = day < w.n_days
    c, month, day, after = c[keep], month[keep], day[keep], after[keep]
    out.append(
        make_batch(
            chunk,
            c,
            h.checking[c],
            day,
            seconds_of_day(rng, len(c), "bank"),
            -np.where(after, rent_after[c], rent_before[c]),
            np.where(after, landlord_after[c], landlord_before[c]),
            rent_channel[c],
        )
    )

    household = housing != cat.HOUSING.index("with_parents")
    energy_codes = np.array(
        [m.code[x] for x in ("Electric Ireland", "Bord Gáis Energy", "SSE Airtricity", "Energia", "Flogas")]
    )
    energy_before = energy_codes[rng.integers(0, len(energy_codes), n)]
    energy_after = energy_codes[rng.integers(0, len(energy_codes), n)]
    energy_base = 75 + 70 * rng.random(n) * (1 + 0.3 * p.has_children)
    energy_dom = rng.integers(3, 27, n)
    c, month = np.nonzero(household)
    day = day_in_month(w, month, energy_dom[c] + rng.integers(-1, 2, len(c)))
    keep = day < w.n_days
    c, month, day = c[keep], month[keep], day[keep]
    winter = 1 + 0.45 * np.cos(2 * np.pi * (w.month_of_year[month] - 1) / 12)
    amount = -np.round(energy_base[c] * winter * (1 + 0.05 * rng.standard_normal(len(c))), 2)
    provider = np.where(moved[c, month], energy_after[c], energy_before[c])
    out.append(
        make_batch(
            chunk, c, h.checking[c], day, seconds_of_day(rng, len(c), "bank"), amount, provider, CH["direct_debit"]
        )
    )

    def fixed_bill(
        members: np.ndarray, codes: np.ndarray, low: float, high: float, start_month: np.ndarray | None = None
    ) -> Batch:
        who = np.flatnonzero(members)
        provider = codes[rng.integers(0, len(codes), n)]
        price = np.round(low + (high - low) * rng.random(n), 0) - 0.01
        dom = rng.integers(1, 28, n)
        c, month, day = _monthly(chunk, who, dom[who], rng)
        if start_month is not None:
            keep = month >= start_month[c]
            c, month, day = c[keep], month[keep], day[keep]
        return make_batch(
            chunk,
            c,
            h.checking[c],
            day,
            seconds_of_day(rng, len(c), "bank"),
            -price[c],
            provider[c],
            CH["direct_debit"],
        )

    has_home = household.any(axis=1)
    out.append(fixed_bill(has_home & (rng.random(n) < 0.5), np.array([m.code["Panda Waste"]]), 22, 36))
    mobile = np.array([m.code[x] for x in ("Vodafone", "Three Ireland", "Eir", "GoMo", "Tesco Mobile")])
    out.append(fixed_bill(np.ones(n, bool), mobile, 15, 50))
    broadband = np.array([m.code[x] for x in ("Eir", "Virgin Media", "Sky Ireland", "Vodafone")])
    out.append(fixed_bill(has_home & (rng.random(n) < 0.75), broadband, 40, 80))
    health = np.array([m.code[x] for x in ("VHI Healthcare", "Laya Healthcare", "Irish Life Health")])
    insured = rng.random(n) < np.clip(0.05 + p.salary_income / 110_000, 0.05, 0.8)
    out.append(fixed_bill(insured, health, 55, 220))
    motor = np.array([m.code[x] for x in ("Aviva Insurance", "AXA Insurance", "FBD Insurance", "Allianz Ireland")])
    car_from = np.where(p.has_car_before, 0, np.where(p.has_event("new_car"), p.event_month, w.months))
    out.append(fixed_bill(p.has_car_after, motor, 45, 120, start_month=car_from))
    home_cover = np.array([m.code[x] for x in ("Zurich Insurance", "Aviva Insurance", "FBD Insurance")])
    owns = np.isin(p.housing_before, [cat.HOUSING.index("mortgage"), cat.HOUSING.index("owner")])
    out.append(fixed_bill(owns, home_cover, 22, 50))
    return out


# --------------------------------------------------------------------------- everyday spending
_EVERYDAY = {
    # name: (merchant group, median EUR, sigma, hour profile, favourites)
    "groceries": (cat.GROCERS, 34.0, 0.6, "shop", 3),
    "dining": (cat.DINING, 19.0, 0.6, "dining", 5),
    "shopping": (cat.SHOPPING, 36.0, 0.9, "shop", 6),
    "entertainment": (cat.ENTERTAINMENT, 26.0, 0.6, "evening", 4),
    "health": (cat.HEALTH, 22.0, 0.75, "day", 3),
    "transport": (cat.TRANSPORT, 8.0, 0.8, "commute", 3),
    "fuel": (cat.FUEL, 58.0, 0.3, "commute", 2),
    "travel": (cat.DOMESTIC_TRAVEL, 170.0, 0.6, "evening", 3),
    "gambling": (cat.GAMBLING, 15.0, 1.1, "evening", 2),
    "education": (cat.EDUCATION[3:], 30.0, 0.7, "evening", 2),
    "children": (cat.CHILDREN_SHOPS, 35.0, 0.7, "shop", 2),
}


def _everyday_rates(chunk: Chunk, trouble: np.ndarray) -> dict[str, np.ndarray]:
    p = chunk.people
    col = lambda x: np.asarray(x, float)[:, None]  # noqa: E731
    lost = _from_event(chunk, "job_loss")
    baby = _from_event(chunk, "new_baby")
    moving = _from_event(chunk, "moving_house") & (
        np.arange(chunk.window.months)[None, :] <= p.event_month[:, None] + 1
    )
    car = p.has_car_before[:, None] | _from_event(chunk, "new_car")
    squeeze = np.where(trouble, 0.7, 1.0) * np.where(lost, 0.6, 1.0)
    means = col(np.clip(p.spend_scale, 0.3, 2.5))
    with_parents = p.housing_before == cat.HOUSING.index("with_parents")
    young = p.age < 35
    return {
        "groceries": 6.2
        * means**0.2
        * col(1 + 0.35 * p.has_children)
        * col(np.where(with_parents, 0.6, 1.0))
        * np.where(baby, 1.3, 1.0)
        * _season(chunk, "groceries"),
        "dining": 3.6
        * means**0.5
        * col(p.dining_affinity * np.where(young, 1.3, 1.0))
        * _season(chunk, "dining")
        * squeeze
        * np.where(baby, 0.6, 1.0),
        "shopping": 2.7
        * means**0.5
        * col(p.shopping_affinity)
        * _season(chunk, "shopping")
        * squeeze
        * np.where(moving, 1.8, 1.0),
        "entertainment": 1.5 * means**0.5 * col(p.entertainment_affinity) * _season(chunk, "dining") * squeeze,
        "health": 1.0 * col(1 + p.age / 60) * np.where(baby, 1.5, 1.0),
        "transport": 3.5
        * np.where(car, 0.5, 1.6)
        * col(np.where(p.region == 0, 1.4, 1.0))
        * _season(chunk, "transport"),
        "fuel": 2.6 * car * means**0.3,
        "travel": 0.15
        * means**0.5
        * col(p.travel_affinity)
        * _season(chunk, "travel")
        * squeeze
        * np.where(baby, 0.4, 1.0),
        "gambling": 7.0 * col(p.gambler * np.exp(0.5 * np.tanh(p.risk))) * np.where(trouble, 1.4, 1.0),
        "education": 0.15 + 0.25 * col(p.employment_before == cat.EMPLOYMENT_STATUSES.index("student")),
        "children": 0.4 * col(p.has_children & ~p.has_event("new_baby")) + 3.0 * baby,
    }


def everyday(chunk: Chunk) -> list[Batch]:
    rng = stream(chunk.seed, chunk.index, "spending")
    p, w, m = chunk.people, chunk.window, chunk.merchants
    n = len(p)
    trouble = chunk.accounts.trouble
    scale = p.spend_scale
    out: list[Batch] = []
    for name, rates in _everyday_rates(chunk, trouble).items():
        group, median, sigma, profile, k = _EVERYDAY[name]
        pool, weights = m.codes(group), m.weights(group)
        c, month, day = monthly_events(rng, np.broadcast_to(rates, (n, w.months)), w)
        fav = favourites(rng, n, pool, weights, k)
        merchant = choose_merchant(rng, c, fav, pool, weights)
        amount_scale = np.ones(len(c)) if name == "fuel" else scale[c] ** 0.8
        amount = _amounts(rng, median, sigma, amount_scale)
        if name == "gambling":
            amount = np.where(rng.random(len(c)) < 0.05, amount * 12, amount)
        channel = card_channel(rng, chunk, merchant)
        out.append(
            make_batch(
                chunk,
                c,
                spending_account(rng, chunk, c, day),
                day,
                seconds_of_day(rng, len(c), profile),
                -amount,
                merchant,
                channel,
                present_city(rng, chunk, c, channel),
            )
        )
    out.extend(_black_friday(chunk, rng))
    out.extend(_cash_and_transfers(chunk, rng))
    out.extend(_study_fees(chunk, rng))
    return out


def _black_friday(chunk: Chunk, rng: np.random.Generator) -> list[Batch]:
    p, m = chunk.people, chunk.merchants
    pool = m.codes(cat.SHOPPING)
    online_pool = pool[m.online_share[pool] >= 0.3]
    weights = m.weight[online_pool] / m.weight[online_pool].sum()
    out = []
    for friday in chunk.window.black_fridays():
        counts = rng.poisson(1.3 * p.shopping_affinity)
        c = np.repeat(np.arange(len(p)), counts)
        day = np.minimum(friday + rng.choice([0, 0, 0, 1, 2, 3], size=len(c)), chunk.window.n_days - 1)
        merchant = online_pool[rng.choice(len(online_pool), size=len(c), p=weights)]
        amount = _amounts(rng, 75.0, 0.8, p.spend_scale[c] ** 0.8)
        channel = card_channel(rng, chunk, merchant)
        out.append(
            make_batch(
                chunk,
                c,
                spending_account(rng, chunk, c, day),
                day,
                seconds_of_day(rng, len(c), "evening"),
                -amount,
                merchant,
                channel,
                present_city(rng, chunk, c, channel),
            )
        )
    return out


def _cash_and_transfers(chunk: Chunk, rng: np.random.Generator) -> list[Batch]:
    p, h, w, m, places = chunk.people, chunk.accounts.holdings, chunk.window, chunk.merchants, chunk.places
    n = len(p)
    out = []
    atm_codes = np.array([m.code[atm_merchant(city)] if city else 0 for city in places.cities])
    cash_rate = np.broadcast_to(
        (0.8 * np.clip(p.spend_scale, 0.3, 2.0) ** 0.5 + 0.6 * (p.age > 60))[:, None], (n, w.months)
    )
    c, month, day = monthly_events(rng, cash_rate, w)
    city = present_city(rng, chunk, c, np.full(len(c), cat.CHANNEL_CODE["atm"]))
    amount = rng.choice([20, 40, 50, 50, 60, 100, 100, 150, 200, 300], size=len(c)).astype(float)
    out.append(
        make_batch(
            chunk,
            c,
            h.checking[c],
            day,
            seconds_of_day(rng, len(c), "shop"),
            -amount,
            atm_codes[city],
            CH["atm"],
            city,
        )
    )

    for sign, rate, names in ((-1.0, 1.2, cat.TRANSFER_PEOPLE), (1.0, 0.35, cat.TRANSFER_SENDERS)):
        people_codes = np.array([m.code[x] for x in names])
        weights = np.full(len(people_codes), 1 / len(people_codes))
        fav = favourites(rng, n, people_codes, weights, 3)
        c, month, day = monthly_events(rng, np.full((n, w.months), rate), w)
        amount = np.round(_amounts(rng, 45.0, 0.8, np.ones(len(c))) / 5) * 5 + 5
        out.append(
            make_batch(
                chunk,
                c,
                h.checking[c],
                day,
                seconds_of_day(rng, len(c), "evening"),
                sign * amount,
                choose_merchant(rng, c, fav, people_codes, weights),
                CH["transfer"],
            )
        )
    return out


def _study_fees(chunk: Chunk, rng: np.random.Generator) -> list[Batch]:
    p, h, w, m = chunk.people, chunk.accounts.holdings, chunk.window, chunk.merchants
    out = []
    colleges = m.codes(cat.EDUCATION[:3])
    students = np.flatnonzero(p.employment_before == cat.EMPLOYMENT_STATUSES.index("student"))
    parents = np.flatnonzero(p.has_children & (p.age > 38) & (p.age < 60))
    for who, month_of_year, median, merchant in (
        (students, 9, 3_000.0, colleges[rng.integers(0, len(colleges), len(p))]),
        (parents, 8, 160.0, np.full(len(p), m.code["School Books Direct"])),
        (parents, 9, 120.0, np.full(len(p), m.code["Gaelscoil Voluntary Contribution"])),
    ):
        c, month, day = _monthly(chunk, who, rng.integers(1, 28, len(who)), rng)
        keep = w.month_of_year[month] == month_of_year
        c, day = c[keep], day[keep]
        amount = np.round(median * (0.5 + rng.random(len(c))), 0)
        out.append(
            make_batch(
                chunk,
                c,
                h.checking[c],
                day,
                seconds_of_day(rng, len(c), "day"),
                -amount,
                merchant[c],
                CH["online"],
            )
        )
    return out


# --------------------------------------------------------------------------- travel
def travel(chunk: Chunk) -> list[Batch]:
    rng = stream(chunk.seed, chunk.index, "travel")
    p, w, m, places = chunk.people, chunk.window, chunk.merchants, chunk.places
    n = len(p)
    trouble = chunk.accounts.trouble
    squeeze = np.where(trouble, 0.4, 1.0) * np.where(_from_event(chunk, "job_loss"), 0.4, 1.0)
    squeeze = squeeze * np.where(_from_event(chunk, "new_baby"), 0.5, 1.0)
    trip_rate = np.clip(0.085 * p.travel_affinity[:, None] * _season(chunk, "travel") * squeeze, 0, 0.85)
    c, month, start = monthly_events(rng, trip_rate, w)
    honeymoon = np.flatnonzero(p.has_event("wedding") & (p.event_day + 3 < w.n_days))
    c = np.concatenate([c, honeymoon])
    start = np.concatenate([start, p.event_day[honeymoon] + rng.integers(1, 4, len(honeymoon))])
    trips = len(c)
    length = np.minimum(2 + rng.geometric(0.25, trips), 14)
    favourite_place = rng.integers(0, places.travel_count, (n, 2))
    place = np.where(
        rng.random(trips) < 0.6,
        favourite_place[c, rng.integers(0, 2, trips)],
        rng.integers(0, places.travel_count, trips),
    )
    city = places.travel_start + place
    party = 1 + (p.marital[c] == 1) + 2 * p.has_children[c] * (rng.random(trips) < 0.6)
    out: list[Batch] = []

    flights, flight_w = m.codes(cat.FLIGHTS), m.weights(cat.FLIGHTS)
    booked = start - rng.integers(7, 80, trips)
    fly = booked >= 0
    amount = _amounts(rng, 130.0, 0.45, party[fly] * p.spend_scale[c[fly]] ** 0.5)
    merchant = flights[rng.choice(len(flights), size=int(fly.sum()), p=flight_w)]
    out.append(
        make_batch(
            chunk,
            c[fly],
            spending_account(rng, chunk, c[fly], booked[fly]),
            booked[fly],
            seconds_of_day(rng, int(fly.sum()), "evening"),
            -amount,
            merchant,
            CH["online"],
        )
    )
    stays = m.codes(cat.DOMESTIC_TRAVEL[:3])
    hotel = fly & (rng.random(trips) < 0.65)
    hotel_day = np.minimum(booked + rng.integers(0, 6, trips), start)[hotel]
    amount = _amounts(rng, 95.0, 0.4, length[hotel] * p.spend_scale[c[hotel]] ** 0.6)
    out.append(
        make_batch(
            chunk,
            c[hotel],
            spending_account(rng, chunk, c[hotel], hotel_day),
            hotel_day,
            seconds_of_day(rng, int(hotel.sum()), "evening"),
            -amount,
            stays[rng.integers(0, len(stays), int(hotel.sum()))],
            CH["online"],
        )
    )

    abroad_pool, abroad_w = m.codes(cat.ABROAD_SHOPS), m.weights(cat.ABROAD_SHOPS)
    counts = rng.poisson(2.3 * length)
    trip = np.repeat(np.arange(trips), counts)
    day = start[trip] + (rng.random(len(trip)) * length[trip]).astype(np.int64)
    keep = day < w.n_days
    trip, day = trip[keep], day[keep]
    tc = c[trip]
    merchant = abroad_pool[rng.choice(len(abroad_pool), size=len(trip), p=abroad_w)]
    amount = _amounts(rng, 32.0, 0.8, p.spend_scale[tc] ** 0.8)
    out.append(
        make_batch(
            chunk,
            tc,
            spending_account(rng, chunk, tc, day),
            day,
            seconds_of_day(rng, len(trip), "dining"),
            -amount,
            merchant,
            CH["card_present"],
            city[trip],
        )
    )

    atm_codes = np.array([m.code[atm_merchant(x)] if x else 0 for x in places.cities])
    cash = (rng.random(trips) < 0.45) & (start < w.n_days)
    cash_day = np.minimum(start + 1, w.n_days - 1)[cash]
    cc = c[cash]
    amount = rng.choice([50.0, 100.0, 150.0, 200.0, 300.0], size=len(cc))
    checking = chunk.accounts.holdings.checking[cc]
    out.append(
        make_batch(
            chunk,
            cc,
            checking,
            cash_day,
            seconds_of_day(rng, len(cc), "shop"),
            -amount,
            atm_codes[city[cash]],
            CH["atm"],
            city[cash],
        )
    )
    essential = ~chunk.accounts.holdings.plus_account[cc]
    out.append(
        make_batch(
            chunk,
            cc[essential],
            checking[essential],
            cash_day[essential],
            np.full(int(essential.sum()), 23 * 3600 + 30 * 60),
            -np.round(amount[essential] * 0.02, 2),
            m.code["Foreign ATM fee"],
            CH["transfer"],
        )
    )
    return out


# --------------------------------------------------------------------------- life events
def life_events(chunk: Chunk) -> list[Batch]:
    rng = stream(chunk.seed, chunk.index, "purchases")
    p, m = chunk.people, chunk.merchants
    out: list[Batch] = []
    purchases = {
        "wedding": (
            (("The K Club Events", "Ballymagarvey Village"), 5_500.0, -90),
            (("Weir & Sons Jewellers",), 1_400.0, -45),
            (("Louis Copeland", "Brides of Dublin"), 900.0, -30),
        ),
        "moving_house": (
            (("Movers Ireland Ltd", "Allied Pickfords"), 850.0, 0),
            (("IKEA Delivery",), 900.0, 3),
            (("DFS Furniture",), 1_300.0, 10),
        ),
        "new_car": (
            (("Joe Duffy Motors", "Spirit Motor Group", "Bolands Toyota", "Frank Hogan Ltd"), 3_500.0, 0),
        ),
    }
    for event, items in purchases.items():
        who = np.flatnonzero(p.has_event(event))
        for names, median, offset in items:
            day = p.event_day[who] + offset + rng.integers(-5, 6, len(who))
            keep = _in_window(day, chunk)
            c, day = who[keep], day[keep]
            codes = np.array([m.code[x] for x in names])
            merchant = codes[rng.integers(0, len(codes), len(c))]
            amount = _amounts(rng, median, 0.35, p.spend_scale[c] ** 0.5)
            channel = card_channel(rng, chunk, merchant)
            out.append(
                make_batch(
                    chunk,
                    c,
                    chunk.accounts.holdings.checking[c],
                    day,
                    seconds_of_day(rng, len(c), "day"),
                    -amount,
                    merchant,
                    channel,
                    present_city(rng, chunk, c, channel),
                )
            )
    return out
