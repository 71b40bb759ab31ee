"""The data contract: bad rows are reported with file, line and reason; good rows load."""

from pathlib import Path

import pytest

from bank.contract import ACCOUNTS, CUSTOMERS, TRANSACTIONS, ContractError, read_table

CUSTOMER_HEADER = ("customer_id,full_name,email,phone,birth_date,gender,marital_status,region,postcode,"
                   "annual_income,employment_status,tenure_months,consent_marketing,consent_social,advisor_id")


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def load(path: Path, table):
    chunks = list(read_table(path, table))
    frame = chunks[0].frame if len(chunks) == 1 else __import__("pandas").concat([c.frame for c in chunks])
    return frame, [e for c in chunks for e in c.errors], chunks[0].extra_columns


def test_good_rows_load_with_parsed_types(tmp_path):
    path = write(tmp_path, "customers.csv", CUSTOMER_HEADER + "\n"
                 "C-00001,Ann Lee,ann@x.ie,+353 87 123 4567,1980-01-02,female,married,Dublin,D04 X2K7,"
                 "52000.50,employed,36,true,false,A-001\n")
    frame, errors, _ = load(path, CUSTOMERS)
    assert errors == []
    row = frame.iloc[0]
    assert row["annual_income"] == pytest.approx(52000.5)
    assert row["consent_marketing"] is True and row["consent_social"] is False
    assert row["birth_date"] == "1980-01-02"


def test_bad_rows_are_reported_with_file_line_and_reason_and_good_rows_kept(tmp_path):
    path = write(tmp_path, "customers.csv", CUSTOMER_HEADER + "\n"
                 "C-00001,Ann Lee,,,1980-01-02,,,,,52000,employed,36,true,false,A-001\n"
                 "C-00002,Bob Ray,,,1980-13-40,,,,,lots,employed,36,maybe,false,A-001\n"
                 "C-00003,Cy Doe,,,1990-05-05,,,,,-5,employed,12,false,false,A-002\n"
                 ",No Id,,,1990-05-05,,,,,1000,employed,12,false,false,A-002\n"
                 "C-00005,Di Moe,,,1991-05-05,,,,,31000,retired,12,no,yes,A-002\n")
    frame, errors, _ = load(path, CUSTOMERS)
    assert list(frame["customer_id"]) == ["C-00001", "C-00005"]
    by_line = {e.line: e for e in errors}
    assert set(by_line) == {3, 4, 5}
    assert all(e.file == "customers.csv" for e in errors)
    assert "birth_date is not a valid date" in by_line[3].reason
    assert "annual_income is not a valid float" in by_line[3].reason
    assert "consent_marketing is not a valid bool" in by_line[3].reason
    assert "annual_income is outside" in by_line[4].reason
    assert "customer_id is empty" in by_line[5].reason
    assert str(by_line[4]).startswith("customers.csv:4: ")


def test_unknown_extra_columns_are_kept(tmp_path):
    path = write(tmp_path, "accounts.csv",
                 "account_id,customer_id,type,balance,branch_code\nAC-1,C-1,savings,100.0,DUB-7\n")
    frame, errors, extra = load(path, ACCOUNTS)
    assert errors == [] and extra == ["branch_code"]
    assert frame.iloc[0]["branch_code"] == "DUB-7"


def test_malformed_line_is_reported_and_later_lines_keep_their_numbers(tmp_path):
    path = write(tmp_path, "accounts.csv",
                 "account_id,customer_id,type,balance\nAC-1,C-1,savings,100\nAC-2,C-1,savings,1,2,3\n"
                 "AC-3,C-1,spaceship,5\nAC-4,C-1,checking,7\n")
    frame, errors, _ = load(path, ACCOUNTS)
    assert list(frame["account_id"]) == ["AC-1", "AC-4"]
    reasons = {e.line: e.reason for e in errors}
    assert "malformed CSV line" in reasons[3]
    assert "type is not a valid text (one of" in reasons[4]


def test_non_utf8_bytes_do_not_lose_the_row(tmp_path):
    path = write(tmp_path, "accounts.csv", b"account_id,customer_id,type,balance\nAC-\xff1,C-1,savings,10\n")
    frame, errors, _ = load(path, ACCOUNTS)
    assert errors == [] and len(frame) == 1


def test_timestamps_are_normalised_and_future_or_absurd_amounts_rejected(tmp_path):
    path = write(tmp_path, "transactions.csv",
                 "transaction_id,customer_id,timestamp,amount\nT-1,C-1,2026-01-02 10:11:12,-5.5\n"
                 "T-2,C-1,2026-01-02T10:11:12,-1e12\nT-3,C-1,not-a-time,1\n")
    frame, errors, _ = load(path, TRANSACTIONS)
    assert list(frame["timestamp"]) == ["2026-01-02T10:11:12"]
    assert {e.line for e in errors} == {3, 4}


def test_missing_required_column_is_a_clear_error(tmp_path):
    path = write(tmp_path, "accounts.csv", "account_id,customer_id,balance\nAC-1,C-1,5\n")
    with pytest.raises(ContractError, match="required column 'type' is missing"):
        list(read_table(path, ACCOUNTS))


def test_dates_after_the_day_of_loading_are_reported_and_due_dates_may_be_ahead(tmp_path):
    from datetime import date

    from bank.contract import PAYMENTS

    customers = write(tmp_path, "customers.csv", CUSTOMER_HEADER + "\n"
                      "C-00001,Ann Lee,,,1980-01-02,,,,,52000,employed,36,true,false,A-001\n"
                      "C-00002,Bob Ray,,,2026-11-02,,,,,52000,employed,36,true,false,A-001\n")
    transactions = write(tmp_path, "transactions.csv", "transaction_id,customer_id,timestamp,amount\n"
                         "T-1,C-1,2026-11-01T23:59:59,-5\nT-2,C-1,2026-11-02T00:00:00,-5\n"
                         "T-3,C-1,2026-10-31T22:00:00-05:00,-5\nT-4,C-1,2031-01-01T00:00:00,-5\n")
    payments = write(tmp_path, "payments.csv", "account_id,customer_id,due_date,amount_due,paid_date\n"
                     "AC-1,C-1,2027-01-01,50,\nAC-1,C-1,2026-12-01,50,2026-12-01\n")
    today = date(2026, 10, 31)

    frame, errors = _load_on(customers, CUSTOMERS, today)
    assert list(frame["customer_id"]) == ["C-00001"]
    assert [(e.line, e.reason) for e in errors] == [(3, "birth_date is in the future (after 2026-11-01)")]
    frame, errors = _load_on(transactions, TRANSACTIONS, today)
    assert list(frame["transaction_id"]) == ["T-1", "T-3"], "a day's grace for time zones"
    assert [e.line for e in errors] == [3, 5]
    frame, errors = _load_on(payments, PAYMENTS, today)
    assert len(frame) == 1 and [(e.line, e.reason) for e in errors] == [
        (3, "paid_date is in the future (after 2026-11-01)")]


def _load_on(path: Path, table, today):
    chunks = list(read_table(path, table, today=today))
    return chunks[0].frame, [e for c in chunks for e in c.errors]
