"""Customers: identity, demographics, income and the hidden traits that drive behaviour.

The hidden risk factor is drawn first and on its own (standard normal), so it is
independent of gender, age, marital status and region by construction; income,
unemployment and gambling lean on it a little, as they would in a real book.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bank.generator import catalog as cat
from bank.generator.streams import pick, sigmoid, stream
from bank.generator.window import Window

JOBSEEKER_WEEKLY = 232.0
AGE_BANDS = ((18, 25, 0.12), (25, 35, 0.20), (35, 45, 0.20), (45, 55, 0.18), (55, 65, 0.15), (65, 90, 0.15))
EVENT_WEIGHTS = {"job_loss": 0.22, "new_baby": 0.30, "moving_house": 0.22, "wedding": 0.30, "new_car": 0.18}
EVENT_RATE = 0.22


def id_width(count: int) -> int:
    return max(5, len(str(count)))


def customer_ids(first: int, count: int, total: int) -> np.ndarray:
    width = id_width(total)
    return np.array([f"C-{i:0{width}d}" for i in range(first + 1, first + count + 1)], dtype=object)


def advisor_ids(index: np.ndarray, total: int) -> np.ndarray:
    advisors = max(2, round(total / 100))
    width = max(3, len(str(advisors)))
    labels = np.array([f"A-{a:0{width}d}" for a in range(1, advisors + 1)], dtype=object)
    return labels[index % advisors]


@dataclass
class People:
    """One chunk of customers; arrays share the customer order."""

    first: int  # global index of the chunk's first customer
    customer_id: np.ndarray
    advisor_id: np.ndarray
    risk: np.ndarray
    gender: np.ndarray
    age: np.ndarray
    birth_day: np.ndarray  # day offset from the window start (negative)
    marital: np.ndarray
    region: np.ndarray
    town: np.ndarray  # index into the city table
    employment_before: np.ndarray
    employment: np.ndarray  # at the end of the window
    salary_income: np.ndarray  # annual income before any job loss
    income: np.ndarray  # annual income declared at the end of the window
    tenure_months: np.ndarray
    consent_marketing: np.ndarray
    consent_social: np.ndarray
    housing_before: np.ndarray
    housing_after: np.ndarray
    has_car_before: np.ndarray
    has_car_after: np.ndarray
    has_children: np.ndarray
    travel_affinity: np.ndarray
    dining_affinity: np.ndarray
    shopping_affinity: np.ndarray
    entertainment_affinity: np.ndarray
    gambler: np.ndarray
    spend_scale: np.ndarray
    pay_day: np.ndarray
    employer: np.ndarray
    event: np.ndarray  # index into LIFE_EVENTS, -1 for none
    event_month: np.ndarray  # -1 for none
    event_day: np.ndarray  # day offset, -1 for none
    full_name: np.ndarray
    email: np.ndarray
    phone: np.ndarray
    postcode: np.ndarray

    def __len__(self) -> int:
        return len(self.risk)

    def has_event(self, name: str) -> np.ndarray:
        return self.event == cat.LIFE_EVENTS.index(name)


def home_towns() -> list[tuple[str, int]]:
    """(town, region index) for every town, in city-table order."""
    return [(town, r) for r, region in enumerate(cat.REGIONS) for town in region.towns]


def _ages(rng: np.random.Generator, n: int) -> np.ndarray:
    bands = np.array([(lo, hi) for lo, hi, _ in AGE_BANDS], dtype=np.float64)
    weights = np.array([w for *_, w in AGE_BANDS])
    band = rng.choice(len(bands), size=n, p=weights / weights.sum())
    return bands[band, 0] + rng.random(n) * (bands[band, 1] - bands[band, 0])


def _marital(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    # single, married, divorced, widowed, civil_partnership
    table = np.array(
        [
            [0.93, 0.05, 0.00, 0.00, 0.02],
            [0.55, 0.38, 0.04, 0.00, 0.03],
            [0.25, 0.58, 0.12, 0.02, 0.03],
            [0.15, 0.55, 0.12, 0.16, 0.02],
        ]
    )
    band = np.digitize(age, [25, 35, 55])
    return pick(rng, table[band]).astype(np.int8)


def _employment(rng: np.random.Generator, age: np.ndarray, risk: np.ndarray) -> np.ndarray:
    # employed, self_employed, unemployed, retired, student
    table = np.array(
        [
            [0.35, 0.03, 0.07, 0.00, 0.55],
            [0.80, 0.12, 0.04, 0.02, 0.02],
            [0.08, 0.07, 0.00, 0.85, 0.00],
        ]
    )
    band = np.digitize(age, [23, 66])
    status = pick(rng, table[band]).astype(np.int8)
    laid_off = (status == 0) & (rng.random(len(age)) < sigmoid(-3.4 + 0.8 * risk))
    status[laid_off] = cat.EMPLOYMENT_STATUSES.index("unemployed")
    return status


def _income(rng: np.random.Generator, age: np.ndarray, employment: np.ndarray, risk: np.ndarray) -> np.ndarray:
    median = np.array([42_000.0, 45_000.0, JOBSEEKER_WEEKLY * 52, 24_000.0, 8_000.0])[employment]
    sigma = np.array([0.45, 0.65, 0.08, 0.40, 0.50])[employment]
    age_factor = np.interp(age, [18, 22, 35, 50, 64, 90], [0.55, 0.70, 1.00, 1.15, 1.00, 1.00])
    working = employment <= 1
    factor = np.where(working, age_factor, 1.0) * np.exp(-0.12 * risk * (employment != 2))
    income = median * factor * np.exp(sigma * rng.standard_normal(len(age)))
    return np.round(np.clip(income, 4_000, 600_000), -2)


def monthly_net_income(annual_income: np.ndarray, employment: np.ndarray) -> np.ndarray:
    """Take-home pay a month: earnings are taxed, benefits and pensions are not (roughly)."""
    taxed = employment <= cat.EMPLOYMENT_STATUSES.index("self_employed")
    return np.where(taxed, annual_income * 0.71, annual_income) / 12


def _housing(rng: np.random.Generator, age: np.ndarray, income: np.ndarray) -> np.ndarray:
    # renter, mortgage, owner, with_parents
    table = np.array(
        [
            [0.42, 0.03, 0.00, 0.55],
            [0.58, 0.34, 0.01, 0.07],
            [0.25, 0.60, 0.13, 0.02],
            [0.18, 0.12, 0.70, 0.00],
        ]
    )
    band = np.digitize(age, [25, 35, 65])
    weights = table[band].copy()
    weights[:, 1] *= np.clip(income / 45_000, 0.3, 2.5)
    return pick(rng, weights).astype(np.int8)


def _strip_accents(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_text.lower() if ch.isalnum())


def _email(first: str, last: str, style: int, number: int, domain: str) -> str:
    given, family = _strip_accents(first), _strip_accents(last)
    local = (
        f"{given}.{family}",
        f"{given}{family}{number % 100}",
        f"{given[0]}{family}",
        f"{family}.{given}{number % 90 + 10}",
        f"{given}_{family}",
        f"{given}{number}",
        f"{given}.{family}{number % 1000}",
    )[style % 7]
    return f"{local}@{domain}"


def _phone(prefix: str, digits: str, style: int) -> str:
    a, b = digits[:3], digits[3:]
    return (
        f"+353 {prefix} {a} {b}",
        f"0{prefix}-{a}-{b}",
        f"0{prefix} {a} {b}",
        f"(0{prefix}) {a} {b}",
        f"+353{prefix}{a}{b}",
        f"0{prefix}{a}{b}",
        f"00353 {prefix} {a}{b}",
    )[style % 7]


def _identities(rng: np.random.Generator, gender: np.ndarray, region: np.ndarray) -> dict[str, np.ndarray]:
    n = len(gender)
    pools = (cat.FEMALE_FIRST, cat.MALE_FIRST, cat.NEUTRAL_FIRST + cat.FEMALE_FIRST[:20] + cat.MALE_FIRST[:20])
    first_draw = rng.random(n)
    last_index = rng.integers(0, len(cat.LAST_NAMES), n)
    email_style = rng.integers(0, 7, n)
    email_number = rng.integers(1, 10_000, n)
    domain_index = rng.integers(0, len(cat.EMAIL_DOMAINS), n)
    phone_prefix = rng.integers(0, len(cat.MOBILE_PREFIXES), n)
    phone_digits = rng.integers(0, 10_000_000, n)
    phone_style = rng.choice(7, size=n, p=[0.25, 0.2, 0.25, 0.05, 0.1, 0.1, 0.05])
    routing_pick = rng.random(n)
    unique_chars = rng.integers(0, len(cat.EIRCODE_ALPHABET), (n, 4))
    unique_chars[:, 0] = rng.integers(0, 15, n)  # Eircodes start their unique part with a letter
    names, emails, phones, postcodes = [], [], [], []
    for i in range(n):
        pool = pools[gender[i]]
        first = pool[int(first_draw[i] * len(pool))]
        last = cat.LAST_NAMES[last_index[i]]
        names.append(f"{first} {last}")
        emails.append(
            _email(first, last, int(email_style[i]), int(email_number[i]), cat.EMAIL_DOMAINS[domain_index[i]])
        )
        phones.append(_phone(cat.MOBILE_PREFIXES[phone_prefix[i]], f"{phone_digits[i]:07d}", int(phone_style[i])))
        keys = cat.REGIONS[region[i]].routing_keys
        unique = "".join(cat.EIRCODE_ALPHABET[c] for c in unique_chars[i])
        postcodes.append(f"{keys[int(routing_pick[i] * len(keys))]} {unique}")
    return {
        "full_name": np.array(names, dtype=object),
        "email": np.array(emails, dtype=object),
        "phone": np.array(phones, dtype=object),
        "postcode": np.array(postcodes, dtype=object),
    }


def _life_events(
    rng: np.random.Generator, window: Window, age: np.ndarray, employment: np.ndarray, marital: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(age)
    event = np.full(n, -1, np.int8)
    month = np.full(n, -1, np.int32)
    day = np.full(n, -1, np.int32)
    if window.months < 2:
        return event, month, day
    eligible = np.column_stack(
        [
            (employment <= 1) & (age < 64),
            (age >= 24) & (age < 45),
            (age >= 22) & (age < 70),
            (marital == 0) & (age >= 23) & (age < 50),
            (age >= 20) & (age < 76),
        ]
    )
    weights = eligible * np.array([EVENT_WEIGHTS[name] for name in cat.LIFE_EVENTS])
    chosen = pick(rng, weights + 1e-12)
    has = (rng.random(n) < EVENT_RATE) & eligible.any(axis=1)
    event[has] = chosen[has]
    first_month = max(1, window.months // 4)
    month[has] = rng.integers(first_month, window.months, has.sum())
    offset = (rng.random(n) * window.month_days[np.maximum(month, 0)]).astype(np.int32)
    day[has] = window.month_start[month[has]] + offset[has]
    return event, month, day


def sample_people(seed: int, chunk: int, first: int, count: int, total: int, window: Window) -> People:
    """Draw ``count`` customers, the ``first``-th (0-based) onwards, of a bank of ``total``."""
    rng = stream(seed, chunk, "people")
    risk = rng.standard_normal(count)
    gender = rng.choice(3, size=count, p=[0.49, 0.49, 0.02]).astype(np.int8)
    age = _ages(rng, count)
    region_weights = np.array([r.weight for r in cat.REGIONS])
    region = rng.choice(len(cat.REGIONS), size=count, p=region_weights / region_weights.sum()).astype(np.int8)
    towns = home_towns()
    town_start = np.cumsum([0] + [len(r.towns) for r in cat.REGIONS])[:-1]
    town_sizes = np.array([len(r.towns) for r in cat.REGIONS])
    town = (town_start[region] + (rng.random(count) ** 1.8 * town_sizes[region]).astype(int)).astype(np.int16)
    assert town.max() < len(towns)
    marital = _marital(rng, age)
    employment_before = _employment(rng, age, risk)
    salary_income = _income(rng, age, employment_before, risk)
    max_tenure = np.clip((age - 18) * 12, 1, 480)
    tenure = np.clip(rng.exponential(80, count), 1, max_tenure).astype(np.int32)
    consent_marketing = rng.random(count) < 0.62
    consent_social = rng.random(count) < 0.5
    housing_before = _housing(rng, age, salary_income)
    car_rate = np.where(region == 0, 0.55, 0.85) * np.where(age < 21, 0.4, 1.0)
    has_car_before = rng.random(count) < car_rate
    has_children = rng.random(count) < np.interp(age, [18, 28, 35, 50, 60, 90], [0.02, 0.25, 0.6, 0.6, 0.25, 0.1])
    affinities = np.exp(0.55 * rng.standard_normal((count, 4)))
    income_lift = np.clip(salary_income / 45_000, 0.3, 3.0)
    gambler = rng.random(count) < sigmoid(-3.6 + 0.7 * risk)
    spend_scale = np.clip((monthly_net_income(salary_income, employment_before) / 2_400) ** 0.8, 0.2, 4.0)
    spend_scale *= np.exp(0.12 * risk + 0.2 * rng.standard_normal(count))
    pay_day = rng.choice([1, 15, 20, 23, 25, 25, 25, 28], size=count) + 0
    employer = rng.integers(0, len(cat.EMPLOYERS), count).astype(np.int16)

    event_rng = stream(seed, chunk, "events")
    event, event_month, event_day = _life_events(event_rng, window, age, employment_before, marital)
    # whoever has a life event in the window was a customer a month before it
    months_since_event = np.ceil((window.n_days - 1 - event_day) / 30.44).astype(np.int32) + 1
    tenure = np.where(event >= 0, np.maximum(tenure, months_since_event), tenure)
    employment = employment_before.copy()
    income = salary_income.copy()
    lost_job = event == cat.LIFE_EVENTS.index("job_loss")
    employment[lost_job] = cat.EMPLOYMENT_STATUSES.index("unemployed")
    income[lost_job] = JOBSEEKER_WEEKLY * 52
    married = event == cat.LIFE_EVENTS.index("wedding")
    marital = marital.copy()
    marital[married] = cat.MARITAL_STATUSES.index("married")
    housing_after = housing_before.copy()
    moving = event == cat.LIFE_EVENTS.index("moving_house")
    renter = housing_before == cat.HOUSING.index("renter")
    buys = moving & renter & (event_rng.random(count) < 0.5)
    housing_after[buys] = cat.HOUSING.index("mortgage")
    housing_after[moving & (housing_before == cat.HOUSING.index("with_parents"))] = cat.HOUSING.index("renter")
    has_car_after = has_car_before | (event == cat.LIFE_EVENTS.index("new_car"))
    has_children = has_children | (event == cat.LIFE_EVENTS.index("new_baby"))

    identities = _identities(stream(seed, chunk, "names"), gender, region)
    birth_day = (-(age * 365.25) + window.n_days - 1).astype(np.int32)
    index = np.arange(first, first + count)
    return People(
        first=first,
        customer_id=customer_ids(first, count, total),
        advisor_id=advisor_ids(index, total),
        risk=risk,
        gender=gender,
        age=age,
        birth_day=birth_day,
        marital=marital,
        region=region,
        town=town,
        employment_before=employment_before,
        employment=employment,
        salary_income=salary_income,
        income=income,
        tenure_months=tenure,
        consent_marketing=consent_marketing,
        consent_social=consent_social,
        housing_before=housing_before,
        housing_after=housing_after,
        has_car_before=has_car_before,
        has_car_after=has_car_after,
        has_children=has_children,
        travel_affinity=affinities[:, 0] * income_lift**0.5,
        dining_affinity=affinities[:, 1],
        shopping_affinity=affinities[:, 2],
        entertainment_affinity=affinities[:, 3],
        gambler=gambler,
        spend_scale=spend_scale,
        pay_day=pay_day,
        employer=employer,
        event=event,
        event_month=event_month,
        event_day=event_day,
        **identities,
    )


def customers_frame(people: People, window: Window) -> pd.DataFrame:
    """The customers table in contract column order."""
    return pd.DataFrame(
        {
            "customer_id": people.customer_id,
            "full_name": people.full_name,
            "email": people.email,
            "phone": people.phone,
            "birth_date": window.dates(people.birth_day),
            "gender": np.array(cat.GENDERS, dtype=object)[people.gender],
            "marital_status": np.array(cat.MARITAL_STATUSES, dtype=object)[people.marital],
            "region": np.array([r.name for r in cat.REGIONS], dtype=object)[people.region],
            "postcode": people.postcode,
            "annual_income": people.income,
            "employment_status": np.array(cat.EMPLOYMENT_STATUSES, dtype=object)[people.employment],
            "tenure_months": people.tenure_months,
            "consent_marketing": people.consent_marketing,
            "consent_social": people.consent_social,
            "advisor_id": people.advisor_id,
        }
    )
