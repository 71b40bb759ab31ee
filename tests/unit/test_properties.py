"""Bad input everywhere, found by hypothesis: the CSV loader and the analytics never crash on
what a bank's export can hold, keep every good row and report every bad one."""

from __future__ import annotations

import csv
import io
import math
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bank.contract import AMOUNT_LIMIT, TABLES, ContractError, read_table

TRANSACTIONS = TABLES["transactions"]
PAYMENTS = TABLES["payments"]
AS_OF = date(2026, 10, 31)
PROPERTY_SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- CSV rows, good and bad -------------------------------------------------------------------------

# Free text as a bank's export holds it: any printable character, commas and quotes included, and
# sometimes bytes that are not UTF-8 (written through surrogateescape). No line breaks: those are
# covered by their own test, since a quoted line break shifts physical line numbers.
free_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=30)
non_utf8 = st.sampled_from(["\udce9", "\udcff\udcfe", "\udc80", "\udcc3("])


@st.composite
def merchant_text(draw) -> str:
    text = draw(free_text)
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(non_utf8) + text[cut:]
    return text


good_timestamp = st.datetimes(datetime(1900, 1, 1), datetime(2025, 12, 31)).map(
    lambda moment: moment.isoformat(timespec="seconds"))
future_timestamp = st.one_of(  # after the day of loading, past the day's grace for time zones
    st.datetimes(datetime(2100, 1, 1), datetime(2200, 12, 31)),
    st.integers(2, 400).map(lambda days: datetime.now() + timedelta(days=days)),
).map(lambda moment: moment.isoformat(timespec="seconds"))
good_amount = st.one_of(
    st.decimals(-AMOUNT_LIMIT, AMOUNT_LIMIT, places=2, allow_nan=False, allow_infinity=False).map(str),
    st.integers(-int(AMOUNT_LIMIT), int(AMOUNT_LIMIT)).map(str),
)
bad_amount = st.one_of(
    st.sampled_from(["abc", "1,5", "€12", "nan", "inf", "-inf", "1e400", "12..5", "--3", "0x1F"]),
    st.integers(int(AMOUNT_LIMIT) + 1, 10**30).map(str),
    st.integers(-(10**30), -int(AMOUNT_LIMIT) - 1).map(str),
)
bad_timestamp = st.sampled_from(["yesterday", "2026-13-01T00:00:00", "2026-02-30", "31/12/2026", "2026/01/01x",
                                 "10000-01-01T00:00:00", "T10:00"])


@st.composite
def transaction_row(draw, number: int) -> tuple[list[str], str | None]:
    """A row of transactions.csv and its flaw (None for a good row)."""
    row = {
        "transaction_id": f"T-{number:06d}",
        "account_id": draw(st.sampled_from(["AC-1000001", "AC-1000002", ""])),
        "customer_id": draw(st.sampled_from(["C-00001", "C-00002", "C-99999"])),
        "timestamp": draw(good_timestamp),
        "amount": draw(good_amount),
        "currency": draw(st.sampled_from(["EUR", "GBP", ""])),
        "merchant": draw(merchant_text()),
        "category": draw(st.sampled_from(["groceries", "rent", "", "Unknown Thing"])),
        "mcc": draw(st.sampled_from(["5411", "", "abc"])),
        "channel": draw(st.sampled_from(["card", "transfer", ""])),
        "city": draw(free_text),
        "country": draw(st.sampled_from(["IE", "GB", ""])),
    }
    flaw = draw(st.sampled_from([None, None, None, "amount", "timestamp", "customer_id", "transaction_id",
                                 "blank_amount", "extra_fields", "future"]))
    if flaw == "amount":
        row["amount"] = draw(bad_amount)
    elif flaw == "blank_amount":
        row["amount"] = draw(st.sampled_from(["", "   "]))
    elif flaw == "timestamp":
        row["timestamp"] = draw(bad_timestamp)
    elif flaw == "future":
        row["timestamp"] = draw(future_timestamp)
    elif flaw in ("customer_id", "transaction_id"):
        row[flaw] = draw(st.sampled_from(["", "  "]))
    fields = list(row.values())
    if flaw == "extra_fields":  # a comma too many in a field, or a column the header lacks
        fields += draw(st.lists(free_text, min_size=1, max_size=3))
    return fields, flaw


@st.composite
def transactions_file(draw, min_rows: int = 0, max_rows: int = 25) -> tuple[bytes, list[str], list[int]]:
    """CSV bytes, the ids of the good rows in order, and the lines (header = 1) of the bad ones."""
    count = draw(st.integers(min_rows, max_rows))
    rows = [draw(transaction_row(number)) for number in range(count)]
    named = [fields[0] for fields, _ in rows[:-1] if fields[0].strip()]
    if named and draw(st.booleans()):  # a repeated id is not the loader's business: ingestion keeps the first
        fields, flaw = rows[-1]
        fields[0] = draw(st.sampled_from(named))
        rows[-1] = (fields, None if flaw == "transaction_id" else flaw)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    blank_lines = st.integers(0, 2)  # blank lines are skipped, and still counted in line numbers
    buffer.write("\n" * draw(blank_lines))
    writer.writerow(TRANSACTIONS.column_names)
    line = buffer.getvalue().count("\n")
    bad_lines = []
    for fields, flaw in rows:
        blanks = draw(blank_lines)
        buffer.write("\n" * blanks)
        line += blanks + 1
        writer.writerow(fields)
        if flaw is not None:
            bad_lines.append(line)
    data = buffer.getvalue().encode("utf-8", errors="surrogateescape")
    good_ids = [fields[0] for fields, flaw in rows if flaw is None]
    return data, good_ids, bad_lines


def load(data: bytes, table=TRANSACTIONS, chunk_rows: int = 500_000):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / table.file_name
        path.write_bytes(data)
        chunks = list(read_table(path, table, chunk_rows=chunk_rows))
    frame = pd.concat([c.frame for c in chunks], ignore_index=True) if chunks else pd.DataFrame()
    errors = [e for c in chunks for e in c.errors]
    return frame, errors


@PROPERTY_SETTINGS
@given(transactions_file(), st.sampled_from([3, 7, 500_000]))
def test_every_good_row_is_kept_and_every_bad_row_reported_by_line(generated, chunk_rows):
    data, good_ids, bad_lines = generated
    frame, errors = load(data, chunk_rows=chunk_rows)
    kept = list(frame["transaction_id"]) if len(frame) else []
    assert kept == good_ids
    assert sorted({e.line for e in errors}) == bad_lines
    assert all(e.reason and e.file == TRANSACTIONS.file_name for e in errors)


@PROPERTY_SETTINGS
@given(transactions_file(min_rows=1))
def test_kept_rows_are_typed_and_within_the_contract(generated):
    data, good_ids, _ = generated
    assume(good_ids)
    frame, _ = load(data)
    amounts = frame["amount"].astype("float64")
    assert np.isfinite(amounts).all() and (amounts.abs() <= AMOUNT_LIMIT).all()
    parsed = pd.to_datetime(frame["timestamp"], format="%Y-%m-%dT%H:%M:%S", errors="coerce")
    assert parsed.notna().all(), "every kept timestamp is normalised to one format"
    assert frame["customer_id"].str.strip().str.len().gt(0).all()


@PROPERTY_SETTINGS
@given(st.lists(st.tuples(free_text, st.text(max_size=20)), min_size=1, max_size=10))
def test_quoted_line_breaks_and_quotes_inside_fields_load(fields):
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)  # as spreadsheets write them
    writer.writerow(TRANSACTIONS.column_names)
    for number, (merchant, city) in enumerate(fields):
        writer.writerow([f"T-{number}", "AC-1", "C-00001", "2026-01-01T10:00:00", "-1.50", "EUR",
                         merchant + '\n"quoted"\r\n', "misc", "", "card", city, "IE"])
    frame, errors = load(buffer.getvalue().encode())
    assert list(frame["transaction_id"]) == [f"T-{n}" for n in range(len(fields))] and not errors


@PROPERTY_SETTINGS
@given(st.binary(max_size=600))
def test_random_bytes_never_crash_the_loader(blob):
    """Garbage after a valid header, or instead of one: rows are reported or the file is refused with
    a ContractError, never a pandas exception."""
    header = ",".join(TRANSACTIONS.column_names).encode() + b"\n"
    for data in (header + blob, blob):
        try:
            frame, errors = load(data)
        except ContractError as refusal:
            assert refusal.file == TRANSACTIONS.file_name and refusal.reason
            continue
        assert all(e.line >= 2 for e in errors), "errors point at data lines, after the header"


@PROPERTY_SETTINGS
@given(st.lists(st.tuples(st.sampled_from(["AC-1", "AC-2"]), st.dates(date(1990, 1, 1), date(2100, 1, 1)),
                          st.one_of(st.floats(-1e9, 1e9, allow_nan=False), st.just(float("nan"))),
                          st.sampled_from(["", "0", "3", "-1", "2.5", "99999", "abc"])),
                min_size=1, max_size=20))
def test_payments_with_negative_absurd_or_fractional_values_are_reported(rows):
    lines = ["account_id,customer_id,due_date,amount_due,amount_paid,paid_date,days_late"]
    expected_good = []
    for number, (account, due, amount, days_late) in enumerate(rows):
        amount_text = "" if math.isnan(amount) else f"{amount:.2f}"
        lines.append(f"{account},C-1,{due + timedelta(days=number)},{amount_text},0,,{days_late}")
        good_amount_due = amount_text != "" and 0 <= float(amount_text) <= AMOUNT_LIMIT
        good_days = days_late in ("", "0", "3")
        if good_amount_due and good_days:
            expected_good.append(number + 2)
    frame, errors = load(("\n".join(lines) + "\n").encode(), table=PAYMENTS)
    bad = {e.line for e in errors}
    assert len(frame) == len(expected_good)
    assert bad == set(range(2, len(rows) + 2)) - set(expected_good)


# --- files the loader cannot read at all ----------------------------------------------------------
# These are refused with a ContractError naming the file, the line and the reason, never a pandas
# exception or a stack trace.

UNREADABLE_FILES = {
    "empty file": (b"", 1, "empty"),
    "blank lines only": (b"\r\n\n", 1, "empty"),
    "unterminated quote": ((",".join(TRANSACTIONS.column_names) + "\n"
                            "T-1,AC-1,C-1,2026-01-01T00:00:00,-5,EUR,Shop,x,,,,\n"
                            'T-2,AC-1,C-1,2026-01-01T00:00:00,-5,EUR,"Shop,x,,,,\n'
                            "T-3,AC-1,C-1,2026-01-01T00:00:00,-5,EUR,Shop,x,,,,\n").encode(), 3, "never closes"),
}


@pytest.mark.parametrize("name", sorted(UNREADABLE_FILES))
def test_unreadable_files_are_refused_with_a_contract_error_naming_the_line(name):
    data, line, reason = UNREADABLE_FILES[name]
    with pytest.raises(ContractError) as refusal:
        load(data)
    assert (refusal.value.file, refusal.value.line) == (TRANSACTIONS.file_name, line)
    assert reason in refusal.value.reason
    assert str(refusal.value).startswith(f"{TRANSACTIONS.file_name}:{line}: ")


def test_timestamps_with_mixed_time_zones_load_normalised_to_utc():
    header = ",".join(TRANSACTIONS.column_names)
    frame, errors = load((f"{header}\n"
                          "T-1,AC-1,C-1,2026-01-01T00:00:00+02:00,-5,EUR,Shop,x,,,,\n"
                          "T-2,AC-1,C-1,2026-01-01T00:00:00,-5,EUR,Shop,x,,,,\n"
                          "T-3,AC-1,C-1,2026-01-01T09:30:00Z,-5,EUR,Shop,x,,,,\n").encode())
    assert errors == []
    assert list(frame["timestamp"]) == ["2025-12-31T22:00:00", "2026-01-01T00:00:00", "2026-01-01T09:30:00"]


@pytest.mark.parametrize("chunk_rows", [1, 500_000])
def test_an_over_long_first_row_is_reported_and_does_not_shift_the_rows_after_it(chunk_rows):
    header = ",".join(TRANSACTIONS.column_names)
    good = "T-2,AC-1,C-1,2026-01-01T00:00:00,-5,EUR,Shop,x,,,,"
    long_row = "T-1,AC-1,C-1,2026-01-01T00:00:00,-5,EUR,Shop,x,,,,extra,extra"
    frame, errors = load(f"{header}\n{long_row}\n{good}\n{long_row.replace('T-1', 'T-3')}\n".encode(),
                         chunk_rows=chunk_rows)
    assert list(frame["transaction_id"]) == ["T-2"]
    assert frame.iloc[0]["customer_id"] == "C-1" and frame.iloc[0]["merchant"] == "Shop"
    assert [(e.line, e.reason) for e in errors] == [(2, "malformed CSV line: expected 12 fields, saw 13"),
                                                    (4, "malformed CSV line: expected 12 fields, saw 13")]


# --- analytics over whatever survives the loader --------------------------------------------------------

CATEGORIES = ["groceries", "restaurants", "rent", "utilities", "travel", "subscriptions", "income", "transfer",
              "shopping", "entertainment", "fuel", "unknown-category", ""]


@st.composite
def transactions_frame(draw) -> pd.DataFrame:
    count = draw(st.integers(0, 60))
    start = datetime(2024, 1, 1)
    rows = []
    for number in range(count):
        moment = start + timedelta(seconds=draw(st.integers(0, 4 * 365 * 86400)))  # past and future of AS_OF
        amount = draw(st.one_of(st.floats(-AMOUNT_LIMIT, AMOUNT_LIMIT, allow_nan=False, width=32),
                                st.sampled_from([0.0, -0.01, 0.01, -9.99, -1e7, 5e6])))
        rows.append({
            "transaction_id": f"T-{number}" if draw(st.integers(0, 9)) else "T-0",
            "account_id": draw(st.sampled_from(["AC-1", "AC-2", None])),
            "customer_id": "C-00001",
            "timestamp": moment.isoformat(timespec="seconds"),
            "amount": round(float(amount), 2),
            "currency": "EUR",
            "merchant": draw(st.one_of(st.none(), st.sampled_from(["Tesco", "Netflix", "Spotify", "Landlord"]),
                                       free_text)),
            "category": draw(st.sampled_from(CATEGORIES)),
            "mcc": None,
            "channel": draw(st.sampled_from(["card", "transfer", None])),
            "city": None,
            "country": draw(st.sampled_from(["IE", "FR", None])),
        })
    return pd.DataFrame(rows, columns=TRANSACTIONS.column_names)


def _finite_numbers(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite_numbers(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite_numbers(v) for v in value)
    return True


@PROPERTY_SETTINGS
@given(transactions_frame(), st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False)))
def test_spending_analysis_never_crashes_and_its_figures_are_finite(transactions, income_hint):
    from tools.spending import analyse_spending

    finding = analyse_spending(transactions, AS_OF, monthly_income_hint=income_hint)
    dumped = finding.model_dump(mode="json")
    assert _finite_numbers(dumped)
    assert finding.monthly_spend >= 0
    assert all(0 <= c.share <= 1 + 1e-9 and c.monthly_average >= 0 for c in finding.by_category)
    in_window = pd.to_datetime(transactions["timestamp"]).dt.date <= AS_OF
    if not in_window.any():
        assert not finding.available


@st.composite
def accounts_frame(draw) -> pd.DataFrame:
    count = draw(st.integers(0, 12))
    money = st.one_of(st.none(), st.floats(-1e8, 1e8, allow_nan=False), st.just(0.0))
    rows = [{
        "account_id": f"AC-{number}", "customer_id": draw(st.sampled_from(["C-1", "C-2"])),
        "type": draw(st.sampled_from(["checking", "savings", "credit_card", "personal_loan", "auto_loan",
                                      "mortgage", "investment", "CREDIT_CARD"])),
        "product_code": draw(st.sampled_from([None, "CC-STD"])), "opened_date": "2020-01-01",
        "credit_limit": draw(money), "balance": draw(money), "apr": draw(st.one_of(st.none(), st.floats(0, 100))),
        "monthly_payment": draw(money), "status": draw(st.sampled_from([None, "open", "closed", "delinquent"])),
    } for number in range(count)]
    return pd.DataFrame(rows, columns=TABLES["accounts"].column_names)


@PROPERTY_SETTINGS
@given(accounts_frame(), st.one_of(st.floats(-1e6, 1e8, allow_nan=False), st.just(0.0), st.just(1e-300)))
def test_credit_utilisation_and_debt_to_income_are_sane_on_any_accounts(accounts, income):
    from tools.credit.utilisation import (
        MIN_ANNUAL_INCOME, account_utilisation, credit_accounts, credit_summary, debt_to_income)

    credit = credit_accounts(accounts)
    for card in account_utilisation(credit):
        assert card.credit_limit > 0 and card.utilisation >= 0 and math.isfinite(card.utilisation)
    summary = credit_summary(credit)
    assert (summary["total_debt"] >= 0).all() and (summary["monthly_debt_payments"] >= 0).all()
    overall = summary["utilisation_overall"].dropna()
    assert (overall >= 0).all() and np.isfinite(overall).all()
    for payments in summary["monthly_debt_payments"]:
        ratio = debt_to_income(payments, income)
        assert (ratio is None) == (not income >= MIN_ANNUAL_INCOME)
        assert ratio is None or (ratio >= 0 and math.isfinite(ratio))


@PROPERTY_SETTINGS
@given(st.lists(st.tuples(st.dates(date(2015, 1, 1), date(2030, 1, 1)), st.floats(0, 1e6, allow_nan=False),
                          st.floats(0, 1e6, allow_nan=False), st.one_of(st.none(), st.integers(0, 40)),
                          st.one_of(st.none(), st.integers(0, 3650))), max_size=30))
def test_payment_history_counts_are_consistent_on_any_payments(rows):
    from tools.credit.utilisation import payment_history

    payments = pd.DataFrame([{
        "account_id": "AC-1", "customer_id": "C-1", "due_date": due.isoformat(), "amount_due": due_amount,
        "amount_paid": paid, "paid_date": (due + timedelta(days=delay)).isoformat() if delay is not None else None,
        "days_late": late,
    } for due, due_amount, paid, delay, late in rows], columns=PAYMENTS.column_names)
    history = payment_history(payments, AS_OF)
    assert 0 <= history.late_30_plus <= history.late <= history.instalments
    assert 0 <= history.missed <= history.instalments and history.worst_days_late >= 0
    assert history.window_end == AS_OF
