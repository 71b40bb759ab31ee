"""Accounts and the repayment history of credit accounts.

A customer-level "financial trouble" state evolves month by month (entered more often
by customers with a high hidden risk factor or after a job loss, left less often by
them); while in trouble, instalments go unpaid and are caught up on the month the
trouble ends, so days late fall naturally in the 1-29, 30-59, 60-89 and 90+ bands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bank.generator import catalog as cat
from bank.generator.people import People, monthly_net_income
from bank.generator.streams import sigmoid, stream
from bank.generator.window import Window

ACCOUNT_NUMBER_BASE = 1_000_000
DAYS_PER_MONTH = 30.44
TYPE_ORDER = ("checking", "savings", "credit_card", "personal_loan", "auto_loan", "mortgage", "investment")
CREDIT_TYPES = ("credit_card", "personal_loan", "auto_loan", "mortgage")
STATUSES = ("open", "closed", "delinquent", "charged_off")
NONE = -1


@dataclass
class Holdings:
    """Per customer: the account numbers used by transactions (``NONE`` where absent)."""

    checking: np.ndarray
    plus_account: np.ndarray  # the checking account is CHK-PLUS (monthly fee)
    second_checking: np.ndarray
    savings: np.ndarray
    card: np.ndarray
    card_open_day: np.ndarray
    card_share: np.ndarray  # share of card spending put on the credit card
    card_annual_fee: np.ndarray


@dataclass
class Accounts:
    table: pd.DataFrame  # contract columns plus "_owner" (customer position in the chunk)
    holdings: Holdings
    payments: pd.DataFrame  # contract columns plus "_owner", "_type", "_due_day", "_paid_day", "_partial_day"
    trouble: np.ndarray  # (customers, months) bool
    number: np.ndarray  # account numbers, ascending
    opened_day: np.ndarray  # opening day offset of each account in ``number``
    next_number: int

    def opened_day_of(self, numbers: np.ndarray) -> np.ndarray:
        return self.opened_day[np.searchsorted(self.number, numbers)]


def _annuity(principal: np.ndarray, apr: np.ndarray, term: np.ndarray) -> np.ndarray:
    rate = apr / 1200.0
    return principal * rate / (1.0 - (1.0 + rate) ** (-term))


def _remaining(principal: np.ndarray, apr: np.ndarray, term: np.ndarray, paid_months: np.ndarray) -> np.ndarray:
    rate = apr / 1200.0
    growth = (1.0 + rate) ** paid_months
    payment = _annuity(principal, apr, term)
    return np.maximum(principal * growth - payment * (growth - 1.0) / rate, 0.0)


def _apr(rng: np.random.Generator, products: np.ndarray, risk: np.ndarray) -> np.ndarray:
    low = np.array([cat.APR_RANGES[p][0] for p in products])
    high = np.array([cat.APR_RANGES[p][1] for p in products])
    position = sigmoid(1.3 * risk + 0.4 * rng.standard_normal(len(products)))
    return np.round(low + (high - low) * position, 2)


def simulate_trouble(seed: int, chunk: int, people: People, window: Window) -> np.ndarray:
    """(customers, months) bool: months in which the customer cannot pay their credit."""
    rng = stream(seed, chunk, "payments")
    n, months = len(people), window.months
    lost_job = people.has_event("job_loss")
    trouble = np.zeros((n, months), bool)
    state = rng.random(n) < sigmoid(-4.3 + 1.5 * people.risk)
    for m in range(months):
        after_loss = lost_job & (people.event_month <= m)
        enter = sigmoid(-5.6 + 1.5 * people.risk + 2.6 * after_loss)
        leave = sigmoid(0.1 - 0.9 * people.risk - 1.5 * after_loss)
        draw = rng.random(n)
        state = np.where(state, draw >= leave, draw < enter)
        trouble[:, m] = state
    return trouble


class _Builder:
    """Collects account rows of several kinds before numbering them."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def add(
        self, owner: np.ndarray, kind: str, product: np.ndarray, opened_day: np.ndarray, **values: np.ndarray
    ) -> None:
        n = len(owner)
        row = {
            "owner": owner.astype(np.int64),
            "type": np.full(n, TYPE_ORDER.index(kind), np.int8),
            "product": np.asarray(product, dtype=object),
            "opened_day": opened_day.astype(np.int64),
            "credit_limit": np.full(n, np.nan),
            "balance": np.zeros(n),
            "apr": np.full(n, np.nan),
            "monthly_payment": np.full(n, np.nan),
            "status": np.zeros(n, np.int8),
            "principal": np.full(n, np.nan),
            "term": np.zeros(n, np.int64),
            "util": np.full(n, np.nan),
            "role": np.zeros(n, np.int8),
        }
        for key, value in values.items():
            row[key] = np.asarray(value)
        self.parts.append(row)

    def frame(self) -> dict[str, np.ndarray]:
        keys = self.parts[0].keys()
        merged = {k: np.concatenate([p[k] for p in self.parts]) for k in keys}
        order = np.lexsort((merged["role"], merged["type"], merged["owner"]))
        return {k: v[order] for k, v in merged.items()}


def _days_before(
    rng: np.random.Generator, low_months: np.ndarray | float, high_months: np.ndarray | float, n: int
) -> np.ndarray:
    months = low_months + rng.random(n) * (np.asarray(high_months) - low_months)
    return -(months * DAYS_PER_MONTH).astype(np.int64)


def build_accounts(seed: int, chunk: int, people: People, window: Window, first_number: int) -> Accounts:
    rng = stream(seed, chunk, "accounts")
    n = len(people)
    owners = np.arange(n)
    risk, income = people.risk, people.salary_income
    income_lift = np.clip(income / 45_000, 0.2, 4.0)
    end_day = window.n_days - 1
    tenure_day = (end_day - people.tenure_months * DAYS_PER_MONTH).astype(np.int64)
    b = _Builder()

    plus = (income > 40_000) & (rng.random(n) < 0.35)
    b.add(
        owners,
        "checking",
        np.where(plus, "CHK-PLUS", "CHK-ESSENTIAL"),
        tenure_day,
        apr=np.where(plus, 15.9, np.nan),
    )
    second = rng.random(n) < 0.07
    b.add(
        owners[second],
        "checking",
        np.full(second.sum(), "CHK-ESSENTIAL"),
        np.maximum(tenure_day[second], _days_before(rng, 2, 60, second.sum())),
        role=np.ones(second.sum(), np.int8),
    )

    has_savings = rng.random(n) < sigmoid(0.3 - 0.6 * risk + np.log(income_lift))
    savings_product = rng.choice(cat.SAVINGS_PRODUCTS, size=n, p=[0.6, 0.15, 0.15, 0.1])
    savings_balance = np.round(4_000 * income_lift * np.exp(-0.5 * risk + 0.9 * rng.standard_normal(n)), 2)
    b.add(
        owners[has_savings],
        "savings",
        savings_product[has_savings],
        np.maximum(tenure_day, _days_before(rng, 0, 120, n))[has_savings],
        balance=savings_balance[has_savings],
    )

    card_product, card_limit, has_card = _card_choice(rng, people)
    card_opened = np.maximum(
        tenure_day,
        np.where(rng.random(n) < 0.08, rng.integers(0, max(1, end_day - 30), n), _days_before(rng, 3, 150, n)),
    )
    utilisation = np.clip(sigmoid(-1.1 + 1.3 * risk + 0.5 * rng.standard_normal(n)), 0.01, 1.08)
    card_apr = _apr(rng, card_product, risk)
    b.add(
        owners[has_card],
        "credit_card",
        card_product[has_card],
        card_opened[has_card],
        credit_limit=card_limit[has_card],
        apr=card_apr[has_card],
        util=utilisation[has_card],
    )

    _add_loans(rng, b, people, window, tenure_day)

    invests = rng.random(n) < sigmoid(-2.6 + 1.6 * np.log(income_lift) - 0.4 * risk)
    invest_product = rng.choice(cat.INVESTMENT_PRODUCTS, size=n, p=[0.25, 0.4, 0.3, 0.05])
    invest_product = np.where(
        (invest_product == "INV-MANAGED") & (income < 90_000), "INV-BALANCED", invest_product
    )
    invest_balance = np.round(np.clip(25_000 * income_lift * np.exp(0.9 * rng.standard_normal(n)), 500, None), 2)
    invest_balance = np.where(invest_product == "INV-MANAGED", np.maximum(invest_balance, 50_000), invest_balance)
    b.add(
        owners[invests],
        "investment",
        invest_product[invests],
        np.maximum(tenure_day, _days_before(rng, 1, 100, n))[invests],
        balance=invest_balance[invests],
    )

    closed = rng.random(n) < 0.08
    closed_type = np.where(rng.random(n) < 0.5, "credit_card", "personal_loan")
    for kind in ("credit_card", "personal_loan"):
        pick_rows = closed & (closed_type == kind)
        product = "CC-CLASSIC" if kind == "credit_card" else "PL-STANDARD"
        b.add(
            owners[pick_rows],
            kind,
            np.full(pick_rows.sum(), product),
            np.maximum(tenure_day, _days_before(rng, 40, 160, n))[pick_rows],
            status=np.full(pick_rows.sum(), STATUSES.index("closed"), np.int8),
            role=np.full(pick_rows.sum(), 2, np.int8),
        )

    rows = b.frame()
    rows["number"] = first_number + np.arange(len(rows["owner"]))
    trouble = simulate_trouble(seed, chunk, people, window)
    payments = _payments(seed, chunk, rows, people, window, trouble)
    _finish_balances(rng, rows, people, window, trouble, payments)
    holdings = _holdings(rows, n, people, rng)
    return Accounts(
        table=_accounts_frame(rows, people, window),
        holdings=holdings,
        payments=payments,
        trouble=trouble,
        number=rows["number"],
        opened_day=rows["opened_day"],
        next_number=first_number + len(rows["owner"]),
    )


def _card_choice(rng: np.random.Generator, people: People) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(people)
    income, risk = people.salary_income, people.risk
    has_card = (people.age >= 19) & (income >= 9_000) & (rng.random(n) < 0.58)
    product = rng.choice(("CC-CLASSIC", "CC-CASHBACK", "CC-BT0"), size=n, p=[0.55, 0.33, 0.12]).astype(object)
    product[(people.travel_affinity > 1.4) & (income >= 35_000) & (rng.random(n) < 0.7)] = "CC-TRAVEL"
    product[(income >= 80_000) & (risk < 0.5) & (rng.random(n) < 0.4)] = "CC-PREMIUM"
    product[(risk > 1.3) & (rng.random(n) < 0.45)] = "CC-BUILDER"
    low = np.array([cat.CARD_LIMITS[p][0] for p in product], float)
    high = np.array([cat.CARD_LIMITS[p][1] for p in product], float)
    limit = np.clip(np.round(income * (0.06 + 0.14 * rng.random(n)) / 500) * 500, low, high)
    limit = np.where(product == "CC-BUILDER", np.round(np.clip(limit, 200, 2000) / 100) * 100, limit)
    return product.astype(str), limit, has_card


def _add_loans(
    rng: np.random.Generator, b: _Builder, people: People, window: Window, tenure_day: np.ndarray
) -> None:
    n = len(people)
    owners = np.arange(n)
    risk, income = people.risk, people.salary_income
    months = window.months
    new_car = people.has_event("new_car")
    buys_home = (
        people.has_event("moving_house")
        & (people.housing_after == cat.HOUSING.index("mortgage"))
        & (people.housing_before != cat.HOUSING.index("mortgage"))
    )

    has_loan = (people.age >= 20) & (rng.random(n) < sigmoid(-2.1 + 0.45 * risk))
    product = np.where(rng.random(n) < sigmoid(-1.3 + 0.6 * risk), "PL-CONSOLIDATE", "PL-STANDARD")
    principal = np.round(np.clip(income * (0.08 + 0.3 * rng.random(n)), 1_000, 35_000), -2)
    term = rng.choice([24, 36, 48, 60, 72, 84], size=n)
    elapsed = (rng.random(n) * np.maximum(term - months - 1, 1)).astype(np.int64)
    opened = np.maximum(-(elapsed * DAYS_PER_MONTH).astype(np.int64), tenure_day)
    apr = _apr(rng, product, risk)
    sel = has_loan
    b.add(
        owners[sel],
        "personal_loan",
        product[sel],
        opened[sel],
        apr=apr[sel],
        principal=principal[sel],
        term=term[sel],
    )

    has_auto = (people.has_car_before & (rng.random(n) < 0.25)) | (new_car & (rng.random(n) < 0.6))
    has_auto &= people.age >= 19
    product = np.where(new_car | (rng.random(n) < 0.45), "AUTO-NEW", "AUTO-USED")
    principal = np.round(np.clip(income * (0.25 + 0.35 * rng.random(n)), 3_000, 60_000), -2)
    term = rng.choice([36, 48, 60, 72], size=n)
    elapsed = (rng.random(n) * np.maximum(term - months - 1, 1)).astype(np.int64)
    opened = np.where(
        new_car, people.event_day, np.maximum(-(elapsed * DAYS_PER_MONTH).astype(np.int64), tenure_day)
    )
    apr = _apr(rng, product, risk)
    b.add(
        owners[has_auto],
        "auto_loan",
        product[has_auto],
        opened[has_auto],
        apr=apr[has_auto],
        principal=principal[has_auto],
        term=term[has_auto],
    )

    has_mortgage = (people.housing_before == cat.HOUSING.index("mortgage")) | buys_home
    product = np.where(
        buys_home,
        "MTG-FTB-FIXED5",
        rng.choice(("MTG-FTB-FIXED5", "MTG-TRACKER", "MTG-REMORTGAGE"), size=n, p=[0.45, 0.3, 0.25]),
    )
    principal = np.round(np.clip(income * (2.4 + 1.3 * rng.random(n)), 60_000, 900_000), -3)
    term = rng.choice([300, 360, 420], size=n)
    elapsed = (6 + rng.random(n) * 220).astype(np.int64)
    opened = np.where(
        buys_home, people.event_day, np.maximum(-(elapsed * DAYS_PER_MONTH).astype(np.int64), tenure_day)
    )
    apr = _apr(rng, product, risk)
    b.add(
        owners[has_mortgage],
        "mortgage",
        product[has_mortgage],
        opened[has_mortgage],
        apr=apr[has_mortgage],
        principal=principal[has_mortgage],
        term=term[has_mortgage],
    )


def _months_since(opened_day: np.ndarray, day: np.ndarray | int) -> np.ndarray:
    return np.maximum(((np.asarray(day) - opened_day) / DAYS_PER_MONTH).astype(np.int64), 0)


def _payments(
    seed: int, chunk: int, rows: dict[str, np.ndarray], people: People, window: Window, trouble: np.ndarray
) -> pd.DataFrame:
    rng = stream(seed, chunk, "bills")
    is_credit = np.isin(rows["type"], [TYPE_ORDER.index(t) for t in CREDIT_TYPES]) & (
        rows["status"] != STATUSES.index("closed")
    )
    idx = np.flatnonzero(is_credit)
    months = window.months
    due_dom = rng.integers(1, 29, len(idx))
    # one candidate instalment per credit account and month
    acc = np.repeat(idx, months)
    m = np.tile(np.arange(months), len(idx))
    dom = np.repeat(due_dom, months)
    due_day = window.month_start[m] + np.minimum(dom, window.month_length[m]) - 1
    keep = (due_day <= window.n_days - 1) & (due_day >= rows["opened_day"][acc] + 28)
    instalments = rows["term"][acc]  # 0 for cards, which have no end
    keep &= (instalments == 0) | (due_day < rows["opened_day"][acc] + instalments * DAYS_PER_MONTH)
    acc, m, due_day = acc[keep], m[keep], due_day[keep]
    owner = rows["owner"][acc]
    kind = rows["type"][acc]
    risk = people.risk[owner]
    k = len(acc)

    card = kind == TYPE_ORDER.index("credit_card")
    limit = rows["credit_limit"][acc]
    month_balance = np.where(
        card, limit * np.clip(rows["util"][acc] + 0.06 * rng.standard_normal(k), 0.0, 1.1), 0.0
    )
    month_balance = np.round(month_balance, 2)
    minimum = np.where(month_balance < 25, month_balance, np.maximum(25.0, np.round(0.03 * month_balance, 2)))
    instalment = np.round(_annuity(rows["principal"][acc], rows["apr"][acc], rows["term"][acc].astype(float)), 2)
    amount_due = np.where(card, minimum, instalment)
    usable = amount_due > 0
    acc, m, due_day, owner, kind, risk, card = (
        acc[usable],
        m[usable],
        due_day[usable],
        owner[usable],
        kind[usable],
        risk[usable],
        card[usable],
    )
    amount_due, month_balance = amount_due[usable], month_balance[usable]
    k = len(acc)

    end_day = window.n_days - 1
    in_trouble = trouble[owner, m]
    # first later month without trouble: the month the arrears are caught up
    clear_month = np.full(trouble.shape, -1, np.int64)
    next_clear = np.full(len(trouble), -1, np.int64)
    for month in range(months - 1, -1, -1):
        clear_month[:, month] = next_clear
        next_clear = np.where(~trouble[:, month], month, next_clear)
    cure_month = clear_month[owner, m]
    cure_day = np.where(cure_month >= 0, due_day + (cure_month - m) * 30 + rng.integers(0, 4, k), end_day + 1)

    short_late = ~in_trouble & (rng.random(k) < sigmoid(-3.3 + 0.9 * risk))
    short_days = np.minimum(rng.geometric(0.12, k), 29)
    early = rng.integers(0, 5, k)
    paid_day = np.where(in_trouble, cure_day, np.where(short_late, due_day + short_days, due_day - early))
    paid_day = np.maximum(paid_day, rows["opened_day"][acc])
    unpaid = paid_day > end_day
    days_late = np.where(unpaid, end_day - due_day, np.maximum(paid_day - due_day, 0))
    transactor = card & (rng.random(k) < sigmoid(-0.3 - 1.2 * risk))
    paid_full = np.where(transactor, month_balance, amount_due)
    partial = unpaid & (rng.random(k) < 0.3)
    partial_amount = np.round(amount_due * (0.2 + 0.4 * rng.random(k)), 2)
    amount_paid = np.where(unpaid, np.where(partial, partial_amount, 0.0), np.maximum(paid_full, amount_due))
    partial_day = np.where(partial, np.minimum(due_day + rng.integers(0, 10, k), end_day), -1)

    return pd.DataFrame(
        {
            "_number": rows["number"][acc],
            "_owner": owner,
            "_type": kind,
            "_due_day": due_day,
            "_paid_day": np.where(unpaid, -1, paid_day),
            "_partial_day": partial_day,
            "amount_due": amount_due,
            "amount_paid": np.round(amount_paid, 2),
            "days_late": days_late.astype(np.int64),
        }
    )


def _finish_balances(
    rng: np.random.Generator,
    rows: dict[str, np.ndarray],
    people: People,
    window: Window,
    trouble: np.ndarray,
    payments: pd.DataFrame,
) -> None:
    end_day = window.n_days - 1
    kind = rows["type"]
    n_rows = len(kind)
    owner = rows["owner"]
    closed = rows["status"] == STATUSES.index("closed")
    loan = np.isin(kind, [TYPE_ORDER.index(t) for t in ("personal_loan", "auto_loan", "mortgage")]) & ~closed
    paid_months = _months_since(rows["opened_day"], end_day)
    remaining = _remaining(
        np.nan_to_num(rows["principal"]),
        np.nan_to_num(rows["apr"], nan=5.0),
        np.maximum(rows["term"], 1).astype(float),
        np.minimum(paid_months, rows["term"]),
    )
    rows["balance"] = np.where(loan, np.round(remaining, 2), rows["balance"])
    rows["monthly_payment"] = np.where(
        loan,
        np.round(
            _annuity(
                np.nan_to_num(rows["principal"]),
                np.nan_to_num(rows["apr"], nan=5.0),
                np.maximum(rows["term"], 1).astype(float),
            ),
            2,
        ),
        rows["monthly_payment"],
    )
    card = (kind == TYPE_ORDER.index("credit_card")) & ~closed
    card_balance = np.round(rows["credit_limit"] * np.nan_to_num(rows["util"]), 2)
    rows["balance"] = np.where(card, card_balance, rows["balance"])
    rows["monthly_payment"] = np.where(
        card,
        np.where(card_balance < 25, card_balance, np.maximum(25.0, np.round(0.03 * card_balance, 2))),
        rows["monthly_payment"],
    )

    repaid = loan & (paid_months >= rows["term"])
    closed = closed | repaid
    rows["status"] = np.where(repaid, STATUSES.index("closed"), rows["status"]).astype(np.int8)

    checking = kind == TYPE_ORDER.index("checking")
    monthly_net = monthly_net_income(people.salary_income, people.employment_before)[owner]
    overdrawn = trouble[owner, -1] | (rng.random(n_rows) < sigmoid(-3.2 + 1.2 * people.risk[owner]))
    plus = rows["product"] == "CHK-PLUS"
    positive = np.round(monthly_net * np.exp(0.8 * rng.standard_normal(n_rows) - 0.3 * people.risk[owner]), 2)
    negative = -np.round(np.where(plus, 20 + 1_480 * rng.random(n_rows), 5 + 295 * rng.random(n_rows)), 2)
    rows["balance"] = np.where(checking, np.where(overdrawn, negative, positive), rows["balance"])
    rows["balance"] = np.where(closed, 0.0, rows["balance"])

    unpaid = payments[payments["_paid_day"] < 0]
    overdue = unpaid.groupby("_number")["days_late"].max()
    worst = np.zeros(n_rows, np.int64)
    position = np.searchsorted(rows["number"], overdue.index.to_numpy())
    worst[position] = overdue.to_numpy()
    status = rows["status"].copy()
    status[(worst >= 30) & ~closed] = STATUSES.index("delinquent")
    status[(worst >= 180) & ~closed & ~(kind == TYPE_ORDER.index("mortgage"))] = STATUSES.index("charged_off")
    rows["status"] = status
    rows["monthly_payment"] = np.where(closed, np.nan, rows["monthly_payment"])


def _holdings(rows: dict[str, np.ndarray], n: int, people: People, rng: np.random.Generator) -> Holdings:
    def slot(kind: str, role: int = 0) -> np.ndarray:
        out = np.full(n, NONE, np.int64)
        sel = (rows["type"] == TYPE_ORDER.index(kind)) & (rows["role"] == role)
        out[rows["owner"][sel]] = rows["number"][sel]
        return out

    card = slot("credit_card")
    card_open = np.zeros(n, np.int64)
    card_product = np.full(n, "", dtype=object)
    sel = (rows["type"] == TYPE_ORDER.index("credit_card")) & (rows["role"] == 0)
    card_open[rows["owner"][sel]] = rows["opened_day"][sel]
    card_product[rows["owner"][sel]] = rows["product"][sel]
    annual_fee = np.select([card_product == "CC-TRAVEL", card_product == "CC-PREMIUM"], [95.0, 295.0], 0.0)
    checking = slot("checking")
    plus = np.zeros(n, bool)
    sel = (rows["type"] == TYPE_ORDER.index("checking")) & (rows["role"] == 0)
    plus[rows["owner"][sel]] = rows["product"][sel] == "CHK-PLUS"
    return Holdings(
        checking=checking,
        plus_account=plus,
        second_checking=slot("checking", 1),
        savings=slot("savings"),
        card=card,
        card_open_day=card_open,
        card_share=np.clip(sigmoid(-0.4 + 0.5 * people.risk + 0.6 * rng.standard_normal(n)), 0.05, 0.95),
        card_annual_fee=annual_fee,
    )


def account_ids(numbers: np.ndarray) -> np.ndarray:
    return np.array([f"AC-{x:07d}" for x in numbers], dtype=object)


def _accounts_frame(rows: dict[str, np.ndarray], people: People, window: Window) -> pd.DataFrame:
    revolving = rows["type"] == TYPE_ORDER.index("credit_card")
    return pd.DataFrame(
        {
            "account_id": account_ids(rows["number"]),
            "customer_id": people.customer_id[rows["owner"]],
            "type": np.array(TYPE_ORDER, dtype=object)[rows["type"]],
            "product_code": rows["product"],
            "opened_date": window.dates(rows["opened_day"]),
            "credit_limit": np.where(revolving, rows["credit_limit"], np.nan),
            "balance": rows["balance"],
            "apr": rows["apr"],
            "monthly_payment": rows["monthly_payment"],
            "status": np.array(STATUSES, dtype=object)[rows["status"]],
            "_owner": rows["owner"],
        }
    )


def payments_frame(accounts: Accounts, people: People, window: Window) -> pd.DataFrame:
    p = accounts.payments
    paid = p["_paid_day"].to_numpy()
    paid_date = np.where(paid >= 0, window.dates(np.maximum(paid, 0)), None)
    return pd.DataFrame(
        {
            "account_id": account_ids(p["_number"].to_numpy()),
            "customer_id": people.customer_id[p["_owner"].to_numpy()],
            "due_date": window.dates(p["_due_day"].to_numpy()),
            "amount_due": p["amount_due"].to_numpy(),
            "amount_paid": p["amount_paid"].to_numpy(),
            "paid_date": paid_date,
            "days_late": p["days_late"].to_numpy(),
        }
    )
