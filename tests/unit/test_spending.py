"""The spending tools on small hand-made transaction frames with known answers."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from tools.findings import SpendingFinding
from tools.spending import (
    Ledger,
    analyse_spending,
    book_category_shares,
    category_trends,
    detect_recurring,
    overspending_alerts,
    recurring_payments_of,
    service_families,
    spend_by_category,
    subscriptions_of,
    suspicious_transactions,
    top_merchants,
    train_segmenter,
)
from tools.spending.book import BookReference, build_book_reference
from tools.spending.segments import Segmenter

AS_OF = date(2026, 6, 30)


class Book:
    """Builds a transactions frame row by row."""

    def __init__(self, customer_id: str = "C-1"):
        self.customer_id = customer_id
        self.rows: list[dict] = []

    def add(self, when: datetime, amount: float, merchant: str, category: str, channel: str = "card_present",
            country: str = "IE", city: str = "Dublin", account: str = "AC-1", mcc: str = "") -> str:
        transaction_id = f"T-{self.customer_id}-{len(self.rows):05d}"
        self.rows.append({
            "transaction_id": transaction_id, "account_id": account, "customer_id": self.customer_id,
            "timestamp": when.isoformat(timespec="seconds"), "amount": amount, "currency": "EUR",
            "merchant": merchant, "category": category, "mcc": mcc, "channel": channel, "city": city,
            "country": country,
        })
        return transaction_id

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)


def month_days(first: date, last: date):
    """(year, month) pairs from ``first``'s month to ``last``'s month."""
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        yield year, month
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def everyday_life(book: Book, first: date = date(2025, 7, 1), last: date = AS_OF, seed: int = 0,
                  dining_june: float | None = None) -> None:
    """Salary, rent, groceries and dining, every month, plus own-account moves that are not spend."""
    rng = np.random.default_rng(seed)
    for year, month in month_days(first, last):
        start = datetime(year, month, 1)
        book.add(start + timedelta(days=24, hours=9), 3000.0, "Employer Ltd", "income", "transfer")
        book.add(start + timedelta(days=1, hours=7), -1000.0, "Landlord Lettings", "rent", "transfer")
        book.add(start + timedelta(days=25, hours=10), -500.0, "Transfer to savings", "transfers", "transfer")
        book.add(start + timedelta(days=26, hours=10), -300.0, "Bank Credit Card", "card_payment", "transfer")
        # Look-alike amounts that add up to round monthly totals: EUR 100 of groceries, EUR 50 of dining.
        weekly = rng.dirichlet(np.ones(4) * 5) * 100.0
        for week in range(4):
            book.add(start + timedelta(days=7 * week + int(rng.integers(0, 4)), hours=int(rng.integers(9, 20)),
                                       minutes=int(rng.integers(60))),
                     -round(float(weekly[week]), 2) if week < 3 else -round(100.0 - round(float(weekly[0]), 2)
                     - round(float(weekly[1]), 2) - round(float(weekly[2]), 2), 2),
                     str(rng.choice(["Tesco", "Lidl", "Aldi", "SuperValu"])), "groceries")
        dining = dining_june if (dining_june is not None and (year, month) == (2026, 6)) else 50.0
        first_meal = round(dining * float(rng.uniform(0.3, 0.7)), 2)
        book.add(start + timedelta(days=int(rng.integers(5, 12)), hours=19), -first_meal, "Bistro", "dining")
        book.add(start + timedelta(days=int(rng.integers(14, 27)), hours=20), -round(dining - first_meal, 2),
                 "Bistro", "dining")


# --- categories, trends, merchants ------------------------------------------------------
def test_spend_by_category_excludes_money_that_is_not_spend():
    book = Book()
    everyday_life(book)
    ledger = Ledger.build(book.frame(), AS_OF)
    rows = {c.category: c for c in spend_by_category(ledger)}
    assert set(rows) == {"rent", "groceries", "dining"}
    assert rows["rent"].monthly_average == pytest.approx(1000.0)
    assert rows["groceries"].monthly_average == pytest.approx(100.0)
    assert rows["dining"].last_month == pytest.approx(50.0)
    assert sum(c.share for c in rows.values()) == pytest.approx(1.0, abs=1e-3)
    assert rows["rent"].share == pytest.approx(1000 / 1150, abs=1e-3)


def test_monthly_by_category_has_every_month_of_the_window():
    book = Book()
    everyday_life(book, first=date(2025, 1, 1))
    finding = analyse_spending(book.frame(), AS_OF)
    expected_months = [f"{y:04d}-{m:02d}" for y, m in month_days(date(2025, 7, 1), AS_OF)]
    assert list(finding.monthly_by_category) == expected_months
    assert finding.monthly_by_category["2026-03"] == {"rent": 1000.0, "groceries": 100.0, "dining": 50.0}
    assert finding.months_covered == 12
    assert finding.window_start == date(2025, 7, 1)


def test_trends_report_the_largest_movers_month_and_quarter():
    book = Book()
    everyday_life(book, dining_june=300.0)
    trends = category_trends(Ledger.build(book.frame(), AS_OF))
    month_on_month = [t for t in trends if t.period == "month_on_month"]
    quarter = [t for t in trends if t.period == "quarter_on_quarter"]
    assert month_on_month[0].category == "dining"
    assert (month_on_month[0].previous, month_on_month[0].current) == (50.0, 300.0)
    assert month_on_month[0].change_pct == pytest.approx(500.0)
    assert quarter[0].category == "dining"
    assert (quarter[0].previous, quarter[0].current) == (150.0, 400.0)
    assert len(month_on_month) <= 5 and len(quarter) <= 5


def test_the_running_month_is_not_the_last_full_month():
    book = Book()
    everyday_life(book, last=date(2026, 6, 30))
    book.add(datetime(2026, 7, 3, 12), -900.0, "Bistro", "dining")
    ledger = Ledger.build(book.frame(), date(2026, 7, 3))
    assert ledger.last_full_month == 2026 * 12 + 5
    dining = next(c for c in spend_by_category(ledger) if c.category == "dining")
    assert dining.last_month == 50.0


def test_top_merchants_by_total_spend():
    book = Book()
    everyday_life(book)
    merchants = top_merchants(Ledger.build(book.frame(), AS_OF))
    assert merchants[0].merchant == "Landlord Lettings"
    assert merchants[0].total == pytest.approx(12_000.0) and merchants[0].count == 12
    assert merchants[1].merchant == "Bistro"
    assert all(m.merchant not in {"Transfer to savings", "Bank Credit Card", "Employer Ltd"} for m in merchants)
    assert [m.total for m in merchants] == sorted((m.total for m in merchants), reverse=True)


# --- recurring payments and subscriptions --------------------------------------------
def add_monthly(book: Book, merchant: str, price: float, day: int, first: date, last: date = AS_OF,
                category: str = "subscriptions", new_price: float | None = None, rise_on: date | None = None,
                jitter: int = 0, seed: int = 1) -> list[str]:
    rng = np.random.default_rng(seed)
    ids = []
    for year, month in month_days(first, last):
        shift = timedelta(days=int(rng.integers(-jitter, jitter + 1)), hours=2)
        when = datetime(year, month, min(day, 28)) + shift
        if when.date() > last or when.date() < first:
            continue
        amount = new_price if (rise_on is not None and when.date() >= rise_on) else price
        ids.append(book.add(when, -amount, merchant, category, "online", "NL", ""))
    return ids


def test_monthly_subscription_with_price_rise():
    book = Book()
    everyday_life(book)
    ids = add_monthly(book, "Netflix", 12.99, 5, date(2025, 7, 1), new_price=14.99, rise_on=date(2026, 2, 1),
                      jitter=2)
    subscriptions = subscriptions_of(detect_recurring(Ledger.build(book.frame(), AS_OF)))
    assert [s.merchant for s in subscriptions] == ["Netflix"]
    netflix = subscriptions[0]
    assert netflix.period == "monthly" and netflix.amount == 14.99 and netflix.charges == 12
    assert netflix.price_rise_from == 12.99
    assert netflix.price_rise_date.isoformat().startswith("2026-02")
    assert netflix.evidence == [f"txn:{i}" for i in ids]
    assert netflix.family == "video_streaming"


def test_duplicate_and_overlapping_services():
    book = Book()
    everyday_life(book)
    add_monthly(book, "Spotify", 10.99, 3, date(2025, 9, 1))
    add_monthly(book, "Spotify", 10.99, 17, date(2026, 1, 1))
    add_monthly(book, "Netflix", 12.99, 8, date(2025, 7, 1))
    add_monthly(book, "Disney+", 8.99, 20, date(2025, 12, 1))
    finding = analyse_spending(book.frame(), AS_OF)
    by_name = {s.merchant: s for s in finding.subscriptions}
    assert set(by_name) == {"Spotify", "Netflix", "Disney+"}
    assert by_name["Spotify"].duplicate and by_name["Spotify"].charges == 10 + 6
    assert not by_name["Netflix"].duplicate
    assert by_name["Netflix"].overlaps_with == ["Disney+"] and by_name["Disney+"].overlaps_with == ["Netflix"]
    assert by_name["Spotify"].overlaps_with == []
    assert finding.subscriptions_monthly_cost == pytest.approx(2 * 10.99 + 12.99 + 8.99)
    actions = " | ".join(finding.budget.actions)
    assert "duplicate Spotify" in actions and "EUR 10.99" in actions
    assert "Cancel Disney+" in actions


def test_annual_subscription_from_two_charges_a_year_apart():
    book = Book()
    everyday_life(book, first=date(2025, 1, 1))
    book.add(datetime(2025, 3, 14, 6), -199.0, "The Economist", "subscriptions", "online", "GB", "")
    book.add(datetime(2026, 3, 15, 6), -199.0, "The Economist", "subscriptions", "online", "GB", "")
    book.add(datetime(2025, 3, 20, 6), -120.0, "Harvey Norman", "shopping", "online")
    book.add(datetime(2026, 3, 19, 6), -120.0, "Harvey Norman", "shopping", "online")
    for day in (3, 9, 17, 24):
        book.add(datetime(2025, 11, day, 15), -float(day * 7), "Harvey Norman", "shopping")
    subscriptions = subscriptions_of(detect_recurring(Ledger.build(book.frame(), AS_OF)))
    assert [(s.merchant, s.period, s.charges) for s in subscriptions] == [("The Economist", "annual", 2)]


def test_single_charges_of_subscription_services():
    """One charge of a subscription service: annual once a month has passed without another,
    monthly (new) before; a single charge elsewhere is just a purchase."""
    book = Book()
    everyday_life(book)
    book.add(datetime(2026, 4, 2, 6), -83.99, "Duolingo Super", "subscriptions", "online", "US", "")
    book.add(datetime(2026, 6, 20, 6), -12.99, "Headspace", "subscriptions", "online", "US", "")
    book.add(datetime(2026, 4, 20, 6), -7.99, "Strava", "subscriptions", "online", "US", "")
    book.add(datetime(2026, 5, 21, 6), -7.99, "Strava", "subscriptions", "online", "US", "")
    book.add(datetime(2026, 5, 2, 6), -83.99, "Argos", "shopping", "online")
    subscriptions = subscriptions_of(detect_recurring(Ledger.build(book.frame(), AS_OF)))
    found = {s.merchant: (s.period, s.charges) for s in subscriptions}
    assert found == {"Duolingo Super": ("annual", 1), "Headspace": ("monthly", 1), "Strava": ("monthly", 2)}


def test_bills_are_recurring_payments_not_subscriptions():
    book = Book()
    everyday_life(book)
    rng = np.random.default_rng(3)
    for year, month in month_days(date(2025, 7, 1), AS_OF):
        bill = -round(float(rng.uniform(60, 110)), 2)
        book.add(datetime(year, month, 15, 6), bill, "Electric Ireland", "utilities", "direct_debit")
    streams = detect_recurring(Ledger.build(book.frame(), AS_OF))
    assert subscriptions_of(streams) == []
    recurring = {r.merchant: r for r in recurring_payments_of(streams)}
    assert set(recurring) == {"Landlord Lettings", "Electric Ireland"}
    assert recurring["Landlord Lettings"].amount == 1000.0 and recurring["Landlord Lettings"].charges == 12


def test_shop_visits_and_cancelled_services_are_not_subscriptions():
    book = Book()
    everyday_life(book)
    # A grocer visited twice a week at look-alike prices, and a gym paid at the same price every month
    # but cancelled in January.
    rng = np.random.default_rng(5)
    day = datetime(2025, 7, 1, 18)
    while day.date() <= AS_OF:
        book.add(day, -float(rng.choice([19.99, 20.0, 20.5, 35.0])), "Centra", "groceries")
        day += timedelta(days=int(rng.integers(2, 5)))
    add_monthly(book, "Flyefit", 29.99, 10, date(2025, 7, 1), last=date(2026, 1, 31), category="subscriptions")
    subscriptions = subscriptions_of(detect_recurring(Ledger.build(book.frame(), AS_OF)))
    assert subscriptions == []


@pytest.mark.parametrize(("merchant", "families"), [
    ("Netflix", ("video_streaming",)),
    ("NETFLIX.COM 88812345", ("video_streaming",)),
    ("YouTube Premium", ("video_streaming", "music_streaming")),
    ("Microsoft 365", ("cloud_storage", "productivity")),
    ("PureGym", ("gym",)),
    ("Tesco", ()),
])
def test_service_families(merchant, families):
    assert service_families(merchant) == families


# --- overspending -------------------------------------------------------------------
def test_overspending_against_the_customers_own_baseline():
    book = Book()
    everyday_life(book, dining_june=200.0)
    book.add(datetime(2026, 5, 20, 12), -900.0, "Ryanair", "travel", "online")  # one-off, zero baseline
    alerts = overspending_alerts(Ledger.build(book.frame(), AS_OF))
    assert [(a.category, a.month) for a in alerts] == [("dining", "2026-06")]
    alert = alerts[0]
    assert (alert.amount, alert.baseline, alert.excess_pct) == (200.0, 50.0, 300.0)
    assert len(alert.evidence) == 2 and all(e.startswith("txn:T-") for e in alert.evidence)


def test_small_rises_are_not_overspending():
    book = Book()
    everyday_life(book, dining_june=95.0)  # +90 % but only EUR 45 more
    assert overspending_alerts(Ledger.build(book.frame(), AS_OF)) == []


# --- budget -------------------------------------------------------------------------
def test_budget_plan_figures_and_target():
    book = Book()
    everyday_life(book, dining_june=200.0)
    finding = analyse_spending(book.frame(), AS_OF, monthly_income_hint=9999.0)
    budget = finding.budget
    assert budget.monthly_income == 3000.0  # observed credits win over the hint
    assert budget.monthly_essential_spend == pytest.approx(1100.0)
    assert budget.monthly_discretionary_spend == pytest.approx((11 * 50 + 200) / 12, abs=0.01)
    # The surplus (about EUR 1,837) covers 20 % of income: the target is 20 %.
    assert budget.monthly_savings_target == 600.0
    # June at EUR 200 against a usual EUR 50: the last three months average EUR 100, EUR 50 above it.
    assert any(a.startswith("Bring dining back to the usual EUR 50.00") and "saves EUR 50.00 a month" in a
               for a in budget.actions)


def test_budget_target_is_bounded_by_realistic_cuts_when_money_is_tight():
    book = Book()
    everyday_life(book)
    for year, month in month_days(date(2025, 7, 1), AS_OF):
        book.add(datetime(year, month, 18, 20), -1800.0, "Harvey Norman", "shopping")
    budget = analyse_spending(book.frame(), AS_OF).budget
    surplus = 3000 - 1100 - 50 - 1800  # EUR 50
    trims = 0.1 * 1800 + 0.1 * 50
    assert budget.monthly_savings_target == 5 * ((surplus + trims) // 5)
    assert budget.monthly_savings_target < 0.2 * 3000


def test_income_hint_is_used_when_no_income_is_seen():
    book = Book()
    everyday_life(book)
    frame = book.frame()
    frame = frame[frame["category"] != "income"]
    assert analyse_spending(frame, AS_OF, monthly_income_hint=2500.0).budget.monthly_income == 2500.0


# --- suspicious transactions ----------------------------------------------------------
def usual_card_life(book: Book, seed: int = 11) -> None:
    rng = np.random.default_rng(seed)
    for year, month in month_days(date(2025, 7, 1), AS_OF):
        for _ in range(25):
            when = datetime(year, month, int(rng.integers(1, 29)), int(rng.integers(8, 22)), int(rng.integers(60)))
            merchant = str(rng.choice(["Tesco", "Lidl", "Bistro", "Penneys", "Circle K", "Boots"]))
            book.add(when, -round(float(rng.lognormal(3.2, 0.5)), 2), merchant, "shopping")


def test_suspicious_transactions_by_kind():
    book = Book()
    everyday_life(book)
    usual_card_life(book)
    # A week in Spain: a trip, not suspicious.
    for k in range(6):
        book.add(datetime(2026, 4, 10 + k, 13), -40.0, "Tapas Bar La Bodega", "dining", country="ES",
                 city="Málaga")
    big = book.add(datetime(2026, 5, 3, 14), -2500.0, "Harvey Norman", "shopping")
    abroad = book.add(datetime(2026, 5, 9, 15), -60.0, "Market stall", "shopping", country="NG", city="Lagos")
    night = book.add(datetime(2026, 5, 14, 3, 20), -35.0, "Tesco", "shopping")
    burst = [book.add(datetime(2026, 5, 20, 16, 0) + timedelta(minutes=2 * k), -30.0, "Penneys", "shopping")
             for k in range(5)]
    unseen = book.add(datetime(2026, 6, 2, 11), -450.0, "QuickGift Cards Intl", "shopping", "online", "IE")
    found = {s.transaction_id: s for s in suspicious_transactions(Ledger.build(book.frame(), AS_OF))}
    assert "amount" in found[big].kinds
    assert found[abroad].kinds == ["place"] and "Lagos" in found[abroad].reasons[0]
    assert found[night].kinds == ["time"]
    assert all("velocity" in found[t].kinds for t in burst)
    assert "new_merchant" in found[unseen].kinds
    expected = {big, abroad, night, unseen, *burst}
    assert set(found) == expected
    assert all(0 < s.score <= 1 and s.reasons for s in found.values())


def book_reference_for(customer: Book) -> BookReference:
    """The customer plus 40 others who shop at the usual places and buy cars at a dealer."""
    rng = np.random.default_rng(2)
    shops = (("Tesco", "5411", 10, 80), ("Penneys", "5311", 10, 120), ("Toyota Dealer", "5511", 9000, 30000))
    others = [
        {"customer_id": f"B-{n}", "amount": -float(rng.uniform(low, high)), "merchant": merchant,
         "category": "shopping", "mcc": mcc}
        for n in range(40) for merchant, mcc, low, high in shops for _ in range(3)
    ]
    frame = pd.concat([customer.frame(), pd.DataFrame(others)], ignore_index=True)
    return build_book_reference(frame)


def test_book_reference_profiles():
    frame = pd.DataFrame({
        "customer_id": ["A"] * 30 + ["B"] * 10 + ["C"],
        "amount": [-float(v) for v in range(1, 31)] + [-5.0] * 10 + [50.0],
        "merchant": ["Shop"] * 40 + ["Employer"],
        "category": ["Shopping"] * 40 + ["income"],
        "mcc": ["5999"] * 40 + [""],
    })
    book = build_book_reference(frame)
    assert book.customers == 3
    assert book.merchant_reach(np.array(["Shop", "Employer", "Nowhere"], dtype=object)).tolist() == [2, 0, 0]
    expected = np.quantile([*range(1, 31), *[5] * 10], 0.95)
    usual = book.usual_amount(np.array(["Shop", "Other"], dtype=object), np.array(["5999", "5999"], dtype=object),
                              np.array(["shopping", "shopping"], dtype=object))
    assert usual == pytest.approx([expected, expected])  # an unknown merchant falls back to its code


def test_book_reference_sharpens_suspicion():
    book = Book()
    everyday_life(book)
    usual_card_life(book)
    car = book.add(datetime(2026, 5, 3, 14), -15_000.0, "Toyota Dealer", "shopping", mcc="5511")
    rare = book.add(datetime(2026, 6, 2, 11), -60.0, "QuickGift Cards Intl", "shopping", "online", "GB")
    reference = book_reference_for(book)
    ledger = Ledger.build(book.frame(), AS_OF)
    alone = {s.transaction_id: s.kinds for s in suspicious_transactions(ledger)}
    with_book = {s.transaction_id: s for s in suspicious_transactions(ledger, book=reference)}
    # Alone, the car is a huge amount; against the book it is what car buyers pay.
    assert "amount" in alone[car] and car not in with_book
    # Alone, a small first purchase is nothing; the book knows hardly anyone pays that merchant.
    assert rare not in alone and with_book[rare].kinds == ["new_merchant"]
    assert "1 of the bank's 41 customers" in with_book[rare].reasons[0]


def test_no_suspicion_without_enough_history():
    book = Book()
    book.add(datetime(2026, 6, 1, 3), -5000.0, "Lux Watches Outlet", "shopping", country="RU")
    assert suspicious_transactions(Ledger.build(book.frame(), AS_OF)) == []


# --- the whole analysis ---------------------------------------------------------------
def test_analyse_spending_lists_tools_and_evidence():
    book = Book()
    everyday_life(book, dining_june=200.0)
    usual_card_life(book)
    add_monthly(book, "Netflix", 12.99, 5, date(2025, 7, 1))
    add_monthly(book, "Disney+", 8.99, 9, date(2025, 7, 1))
    odd = book.add(datetime(2026, 6, 5, 12), -3000.0, "Lux Watches Outlet", "shopping", country="RU",
                   city="Moscow")
    finding = analyse_spending(book.frame(), AS_OF)
    assert isinstance(finding, SpendingFinding) and finding.available
    assert {"spend_by_category", "detect_recurring", "overspending_alerts", "budget_plan",
            "suspicious_transactions"} <= set(finding.tools_called)
    assert f"txn:{odd}" in finding.evidence
    assert all(e.startswith("txn:") for e in finding.evidence)
    assert finding.monthly_income == 3000.0
    assert finding.monthly_spend == pytest.approx(sum(c.monthly_average for c in finding.by_category), abs=0.05)
    assert finding.segment is None
    SpendingFinding.model_validate_json(finding.model_dump_json())


def test_missing_data():
    empty = pd.DataFrame(columns=["transaction_id", "customer_id", "timestamp", "amount", "merchant", "category"])
    finding = analyse_spending(empty, AS_OF)
    assert not finding.available and "no transactions" in finding.missing_reason
    old = Book()
    old.add(datetime(2020, 1, 1, 12), -10.0, "Tesco", "groceries")
    assert not analyse_spending(old.frame(), AS_OF).available


def test_messy_columns_do_not_break_the_analysis():
    book = Book()
    everyday_life(book)
    frame = book.frame().drop(columns=["channel", "city", "country", "account_id"]).astype(object)
    frame.loc[3, "category"] = None
    frame.loc[4, "merchant"] = np.nan
    frame.loc[5, "timestamp"] = "not a date"
    frame.loc[6, "amount"] = "n/a"
    frame["timestamp"] = frame["timestamp"].where(frame.index % 2 == 0,
                                                  frame["timestamp"].str.replace("T", " ") + "+00:00")
    finding = analyse_spending(frame, AS_OF)
    assert finding.available
    assert sum(c.share for c in finding.by_category) == pytest.approx(1.0, abs=1e-3)


# --- segments -------------------------------------------------------------------------
def synthetic_book(customers_per_group: int = 15) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    profiles = {
        "travel": {"travel": 0.55, "groceries": 0.2, "dining": 0.1, "rent": 0.15},
        "dining": {"dining": 0.5, "groceries": 0.2, "rent": 0.2, "shopping": 0.1},
        "groceries": {"groceries": 0.6, "education": 0.1, "rent": 0.25, "dining": 0.05},
    }
    rows = []
    for group, profile in profiles.items():
        for n in range(customers_per_group):
            customer = f"C-{group}-{n}"
            noisy = {c: s * rng.uniform(0.8, 1.2) for c, s in profile.items()}
            for category, share in noisy.items():
                rows.append({"customer_id": customer, "amount": -1000 * share, "category": category})
            rows.append({"customer_id": customer, "amount": 3000.0, "category": "income"})
            rows.append({"customer_id": customer, "amount": -700.0, "category": "transfers"})
    return pd.DataFrame(rows)


def test_book_category_shares_are_spend_shares():
    shares = book_category_shares(synthetic_book())
    assert "income" not in shares.columns and "transfers" not in shares.columns
    assert np.allclose(shares.sum(axis=1), 1.0)
    assert len(shares) == 45


def test_segmenter_names_clusters_from_their_dominant_categories(tmp_path):
    book = synthetic_book()
    segmenter = train_segmenter(book, clusters=3)
    assert sorted(segmenter.names) == ["Family essentials", "Foodie & dining", "Frequent traveller"]
    segment_id, name = segmenter.assign({"travel": 0.6, "groceries": 0.2, "rent": 0.2})
    assert name == "Frequent traveller" and segmenter.names[segment_id] == name
    assert any("CC-TRAVEL" in r for r in segmenter.rewards_for(segment_id))
    assert segmenter.assign({"dining": 5.0, "groceries": 2.0})[1] == "Foodie & dining"  # raw amounts normalise
    path = segmenter.save(tmp_path / "segmenter.joblib")
    loaded = Segmenter.load(path)
    assert loaded.assign({"groceries": 0.7, "rent": 0.3}) == segmenter.assign({"groceries": 0.7, "rent": 0.3})
    assigned = loaded.assign_many(book_category_shares(book))
    assert assigned.nunique() == 3


def test_segmenter_is_reproducible():
    book = synthetic_book()
    first, second = train_segmenter(book, clusters=3), train_segmenter(book, clusters=3)
    assert np.allclose(first.centres, second.centres) and first.names == second.names


def test_segment_in_the_finding():
    book_frame = synthetic_book()
    segmenter = train_segmenter(book_frame, clusters=3)
    customer = Book()
    everyday_life(customer)
    for year, month in month_days(date(2025, 7, 1), AS_OF):
        customer.add(datetime(year, month, 20, 12), -2500.0, "Aer Lingus", "travel", "online")
    finding = analyse_spending(customer.frame(), AS_OF, segmenter=segmenter)
    assert finding.segment == "Frequent traveller"
    assert finding.segment_rewards and "assign_segment" in finding.tools_called
