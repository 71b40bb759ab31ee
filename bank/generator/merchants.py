"""Integer-coded lookup tables of merchants, cities and countries.

Transactions carry only codes while they are drawn; the strings are put in once,
when a chunk is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from bank.generator import catalog as cat
from bank.generator.people import home_towns

EMPTY = 0  # code of the empty string in every string table


@dataclass(frozen=True)
class Places:
    cities: tuple[str, ...]  # index 0 is the empty city of card-not-present payments
    city_country: np.ndarray  # country code of each city
    countries: tuple[str, ...]
    home_start: int
    home_count: int
    travel_start: int
    travel_count: int
    unusual_start: int
    unusual_count: int

    def country_code(self, country: str) -> int:
        return self.countries.index(country)


@dataclass(frozen=True)
class Merchants:
    names: tuple[str, ...]  # index 0 is the empty name
    category: np.ndarray  # category code per merchant
    mcc: tuple[str, ...]
    mcc_code: np.ndarray  # index into ``mcc_values``
    mcc_values: tuple[str, ...]
    online_share: np.ndarray
    country: np.ndarray  # country code per merchant
    weight: np.ndarray
    code: dict[str, int]

    def codes(self, group: tuple[cat.Merchant, ...]) -> np.ndarray:
        return np.array([self.code[m.name] for m in group], np.int32)

    def weights(self, group: tuple[cat.Merchant, ...]) -> np.ndarray:
        w = np.array([m.weight for m in group], np.float64)
        return w / w.sum()


def salary_merchant(employer: str) -> str:
    return f"{employer} Salary"


def atm_merchant(city: str) -> str:
    return f"ATM {city}"


FAMILY_SUPPORT = "Transfer from family"
INCOME_SOURCES = (
    "DSP Jobseeker's Allowance",
    "DSP State Pension",
    "Irish Life Pension",
    "SUSI Grant",
    "Revenue Tax Refund",
)


@cache
def places() -> Places:
    homes = [town for town, _ in home_towns()]
    cities = [""] + homes + [c for c, _ in cat.TRAVEL_DESTINATIONS] + [c for c, _ in cat.UNUSUAL_PLACES]
    city_countries = (
        ["IE"] + ["IE"] * len(homes) + [k for _, k in cat.TRAVEL_DESTINATIONS] + [k for _, k in cat.UNUSUAL_PLACES]
    )
    countries: list[str] = [""]
    for code in city_countries + [m.country for group in cat.ALL_MERCHANT_GROUPS for m in group]:
        if code and code not in countries:
            countries.append(code)
    return Places(
        cities=tuple(cities),
        city_country=np.array([countries.index(c) for c in city_countries], np.int16),
        countries=tuple(countries),
        home_start=1,
        home_count=len(homes),
        travel_start=1 + len(homes),
        travel_count=len(cat.TRAVEL_DESTINATIONS),
        unusual_start=1 + len(homes) + len(cat.TRAVEL_DESTINATIONS),
        unusual_count=len(cat.UNUSUAL_PLACES),
    )


@cache
def merchants() -> Merchants:
    where = places()
    entries: list[cat.Merchant] = [cat.Merchant("", "transfers", "", 0.0, "IE", 0.0)]
    for group in cat.ALL_MERCHANT_GROUPS:
        entries.extend(group)
    entries.extend(cat.Merchant(salary_merchant(e), "income", "", 0.0, "IE") for e in cat.EMPLOYERS)
    entries.extend(cat.Merchant(f"Client payment {c}", "income", "", 0.0, "IE") for c in cat.CLIENT_NAMES)
    entries.extend(cat.Merchant(s, "income", "", 0.0, "IE") for s in INCOME_SOURCES)
    entries.extend(cat.Merchant(f"Rent {landlord}", "rent", "6513", 0.0, "IE") for landlord in cat.LANDLORDS)
    entries.extend(
        cat.Merchant(p, "transfers", "", 0.0, "IE")
        for p in (*cat.TRANSFER_PEOPLE, *cat.TRANSFER_SENDERS, FAMILY_SUPPORT)
    )
    entries.extend(cat.Merchant(atm_merchant(c), "cash", "6011", 0.0, "IE") for c in where.cities[1:])
    entries.append(cat.Merchant("Card annual fee", "fees", "", 0.0, "IE"))
    names = tuple(m.name for m in entries)
    if len(set(names)) != len(names):
        duplicates = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"merchant names must be unique: {duplicates}")
    mcc_values = tuple(dict.fromkeys(m.mcc for m in entries))
    return Merchants(
        names=names,
        category=np.array([cat.CATEGORY_CODE[m.category] for m in entries], np.int8),
        mcc=tuple(m.mcc for m in entries),
        mcc_code=np.array([mcc_values.index(m.mcc) for m in entries], np.int16),
        mcc_values=mcc_values,
        online_share=np.array([m.online_share for m in entries]),
        country=np.array([where.country_code(m.country) for m in entries], np.int16),
        weight=np.array([m.weight for m in entries]),
        code={name: i for i, name in enumerate(names)},
    )
