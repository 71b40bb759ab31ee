"""The bring-your-own-data contract: one CSV per table, validated on load.

Validation is vectorised over pandas columns so that a 40-million-row transactions
file validates at CSV-parsing speed. A bad row is reported with its file, line and
reasons and skipped; good rows load. Columns the contract does not name are kept.
"""

from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field


class Kind(StrEnum):
    TEXT = "text"
    INT = "int"
    FLOAT = "float"
    DATE = "date"
    TIMESTAMP = "timestamp"
    BOOL = "bool"


class Column(BaseModel):
    name: str
    kind: Kind = Kind.TEXT
    required: bool = True
    choices: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None
    identifier: bool = Field(False, description="A direct identifier: encrypted at rest.")
    protected: bool = Field(False, description="A protected attribute: never a model input.")
    past_only: bool = Field(False, description="A date or time after the day of loading (a day's grace for time "
                                               "zones) is an error: a birth, a payment or a transaction cannot "
                                               "have happened yet.")


class Table(BaseModel):
    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


ACCOUNT_TYPES = ("checking", "savings", "credit_card", "personal_loan", "auto_loan", "mortgage", "investment")
REVOLVING_TYPES = ("credit_card",)
INSTALMENT_TYPES = ("personal_loan", "auto_loan", "mortgage")
INTERACTION_CHANNELS = ("call", "chat", "email", "branch", "review", "complaint")
AMOUNT_LIMIT = 100_000_000.0

CUSTOMERS = Table(
    name="customers",
    key=("customer_id",),
    columns=(
        Column(name="customer_id"),
        Column(name="full_name", identifier=True),
        Column(name="email", required=False, identifier=True),
        Column(name="phone", required=False, identifier=True),
        Column(name="birth_date", kind=Kind.DATE, identifier=True, protected=True, past_only=True),
        Column(name="gender", required=False, protected=True),
        Column(name="marital_status", required=False, protected=True),
        Column(name="region", required=False, protected=True),
        Column(name="postcode", required=False, identifier=True, protected=True),
        Column(name="annual_income", kind=Kind.FLOAT, min_value=0, max_value=AMOUNT_LIMIT),
        Column(name="employment_status", required=False),
        Column(name="tenure_months", kind=Kind.INT, min_value=0, max_value=1200),
        Column(name="consent_marketing", kind=Kind.BOOL),
        Column(name="consent_social", kind=Kind.BOOL),
        Column(name="advisor_id", required=False),
    ),
)
ACCOUNTS = Table(
    name="accounts",
    key=("account_id",),
    columns=(
        Column(name="account_id"),
        Column(name="customer_id"),
        Column(name="type", choices=ACCOUNT_TYPES),
        Column(name="product_code", required=False),
        Column(name="opened_date", kind=Kind.DATE, required=False, past_only=True),
        Column(name="credit_limit", kind=Kind.FLOAT, required=False, min_value=0, max_value=AMOUNT_LIMIT),
        Column(name="balance", kind=Kind.FLOAT, min_value=-AMOUNT_LIMIT, max_value=AMOUNT_LIMIT),
        Column(name="apr", kind=Kind.FLOAT, required=False, min_value=0, max_value=100),
        Column(name="monthly_payment", kind=Kind.FLOAT, required=False, min_value=0, max_value=AMOUNT_LIMIT),
        Column(name="status", required=False),
    ),
)
TRANSACTIONS = Table(
    name="transactions",
    key=("transaction_id",),
    columns=(
        Column(name="transaction_id"),
        Column(name="account_id", required=False),
        Column(name="customer_id"),
        Column(name="timestamp", kind=Kind.TIMESTAMP, past_only=True),
        Column(name="amount", kind=Kind.FLOAT, min_value=-AMOUNT_LIMIT, max_value=AMOUNT_LIMIT),
        Column(name="currency", required=False),
        Column(name="merchant", required=False),
        Column(name="category", required=False),
        Column(name="mcc", required=False),
        Column(name="channel", required=False),
        Column(name="city", required=False),
        Column(name="country", required=False),
    ),
)
PAYMENTS = Table(
    name="payments",
    key=("account_id", "due_date"),
    columns=(
        Column(name="account_id"),
        Column(name="customer_id"),
        Column(name="due_date", kind=Kind.DATE),
        Column(name="amount_due", kind=Kind.FLOAT, min_value=0, max_value=AMOUNT_LIMIT),
        Column(name="amount_paid", kind=Kind.FLOAT, required=False, min_value=0, max_value=AMOUNT_LIMIT),
        Column(name="paid_date", kind=Kind.DATE, required=False, past_only=True),
        Column(name="days_late", kind=Kind.INT, required=False, min_value=0, max_value=3650),
    ),
)
INTERACTIONS = Table(
    name="interactions",
    key=("interaction_id",),
    columns=(
        Column(name="interaction_id"),
        Column(name="customer_id"),
        Column(name="timestamp", kind=Kind.TIMESTAMP, past_only=True),
        Column(name="channel", choices=INTERACTION_CHANNELS),
        Column(name="text"),
    ),
)
SOCIAL_POSTS = Table(
    name="social_posts",
    key=("post_id",),
    columns=(
        Column(name="post_id"),
        Column(name="customer_id"),
        Column(name="timestamp", kind=Kind.TIMESTAMP, past_only=True),
        Column(name="platform", required=False),
        Column(name="text"),
    ),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (CUSTOMERS, ACCOUNTS, TRANSACTIONS, PAYMENTS, INTERACTIONS, SOCIAL_POSTS)
}
PROTECTED_ATTRIBUTES = tuple(c.name for c in CUSTOMERS.columns if c.protected)
IDENTIFIER_COLUMNS = tuple(c.name for c in CUSTOMERS.columns if c.identifier)


class RowError(BaseModel):
    file: str
    line: int = Field(description="Line in the file, counting the header as line 1.")
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


class ValidatedChunk(BaseModel, arbitrary_types_allowed=True):
    frame: pd.DataFrame
    errors: list[RowError]
    extra_columns: list[str]


_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def _parse_column(values: pd.Series, column: Column) -> tuple[pd.Series, pd.Series]:
    """Return the parsed column and a mask of values that failed to parse."""
    text = values.astype("string").str.strip()
    missing = text.isna() | (text == "")
    if column.kind is Kind.TEXT:
        parsed = text.where(~missing, None)
        bad = pd.Series(False, index=values.index)
        if column.choices is not None:
            bad = ~missing & ~text.str.lower().isin(column.choices)
            parsed = parsed.str.lower()
        return parsed, bad
    if column.kind in (Kind.INT, Kind.FLOAT):
        parsed = pd.to_numeric(text.where(~missing, None), errors="coerce")
        bad = ~missing & (parsed.isna() | ~np.isfinite(parsed.astype("float64").fillna(0.0)))
        if column.kind is Kind.INT:
            bad |= ~missing & parsed.notna() & (parsed % 1 != 0)
        return parsed.astype("float64"), bad
    if column.kind is Kind.BOOL:
        lowered = text.str.lower()
        parsed = lowered.map(lambda v: True if v in _TRUE else False if v in _FALSE else None)
        bad = ~missing & parsed.isna()
        return parsed, bad
    fmt = "%Y-%m-%d" if column.kind is Kind.DATE else "ISO8601"
    candidate = text.where(~missing, None)
    if column.kind is Kind.DATE:
        candidate = candidate.str.slice(0, 10)
    # A timestamp with a UTC offset is converted to UTC; one without is taken as UTC already.
    parsed_dt = pd.to_datetime(candidate, format=fmt, errors="coerce", utc=column.kind is Kind.TIMESTAMP)
    bad = ~missing & parsed_dt.isna()
    out_fmt = "%Y-%m-%d" if column.kind is Kind.DATE else "%Y-%m-%dT%H:%M:%S"
    return parsed_dt.dt.strftime(out_fmt), bad


def validate_frame(
    table: Table, raw: pd.DataFrame, file: str, lines: Sequence[int] | None = None, today: date | None = None
) -> ValidatedChunk:
    """Validate one chunk of a table read as strings; bad rows are reported (with the line of each row,
    by default 2, 3, ...) and dropped. ``today`` is the day of loading (the local date by default)."""
    raw = raw.reset_index(drop=True)
    if lines is None:
        lines = range(2, 2 + len(raw))
    latest = (today or date.today()) + timedelta(days=1)
    reasons: list[pd.Series] = []
    out = pd.DataFrame(index=raw.index)
    for column in table.columns:
        if column.name not in raw.columns:
            if column.required:
                raise ContractError(file, f"required column '{column.name}' is missing", line=1)
            out[column.name] = None
            continue
        parsed, bad = _parse_column(raw[column.name], column)
        missing = parsed.isna()
        if column.required:
            reasons.append(pd.Series(np.where(missing & ~bad, f"{column.name} is empty", ""), index=raw.index))
        reasons.append(
            pd.Series(
                np.where(bad, f"{column.name} is not a valid {column.kind.value}" + (
                    f" (one of {', '.join(column.choices)})" if column.choices else ""), ""),
                index=raw.index,
            )
        )
        if column.min_value is not None or column.max_value is not None:
            numeric = pd.to_numeric(parsed, errors="coerce")
            low = column.min_value if column.min_value is not None else -np.inf
            high = column.max_value if column.max_value is not None else np.inf
            out_of_range = numeric.notna() & ((numeric < low) | (numeric > high))
            reasons.append(
                pd.Series(np.where(out_of_range, f"{column.name} is outside [{low:g}, {high:g}]", ""), index=raw.index)
            )
        if column.past_only:
            future = parsed.fillna("").str.slice(0, 10) > latest.isoformat()
            reasons.append(pd.Series(np.where(future, f"{column.name} is in the future (after {latest})", ""),
                                     index=raw.index))
        out[column.name] = parsed
    extra = [c for c in raw.columns if c not in table.column_names]
    for name in extra:
        out[name] = raw[name]
    # Reasons are joined only for the rows that have one: a row-wise join over every row of a
    # million-row chunk costs minutes.
    grid = np.column_stack([np.asarray(r, dtype=object) for r in reasons]) if reasons else \
        np.empty((len(raw), 0), dtype=object)
    bad_rows = (grid != "").any(axis=1) if grid.shape[1] else np.zeros(len(raw), dtype=bool)
    errors = [
        RowError(file=file, line=int(lines[i]), reason="; ".join(str(x) for x in grid[i] if x))
        for i in np.flatnonzero(bad_rows)
    ]
    return ValidatedChunk(frame=out[~bad_rows].reset_index(drop=True), errors=errors, extra_columns=extra)


class ContractError(ValueError):
    """A file cannot be read at all: empty, missing a required column, or not a CSV past some line."""

    def __init__(self, file: str, reason: str, line: int | None = None):
        self.file, self.reason, self.line = file, reason, line
        super().__init__(f"{file}:{line}: {reason}" if line is not None else f"{file}: {reason}")


_UNTERMINATED_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")


def read_table(
    path: Path, table: Table, chunk_rows: int = 500_000, today: date | None = None
) -> Iterator[ValidatedChunk]:
    """Stream a CSV table in validated chunks; malformed lines are reported, not fatal.

    Lines are physical lines when no quoted field holds a newline; blank lines are skipped;
    non-UTF-8 bytes are replaced and the rows still load. A file that cannot be read as a
    table at all (empty, a quote that never closes) raises ContractError naming the file and
    line; the chunks before the faulty line have been yielded by then.
    """
    try:
        yield from _read_chunks(path, table, chunk_rows, today or date.today())
    except pd.errors.ParserError as error:
        quote = _UNTERMINATED_QUOTE.search(str(error))
        if quote is None:
            raise ContractError(path.name, f"not a readable CSV file ({error})") from None
        raise ContractError(
            path.name, "a quoted field opened on this line never closes, so the rest of the file cannot be "
            "split into rows; close or remove the quote and load the file again",
            line=int(quote.group(1)) + 1) from None


def _read_chunks(path: Path, table: Table, chunk_rows: int, today: date) -> Iterator[ValidatedChunk]:
    names, header_row = _header(path)
    skipped: list[int] = []
    row = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        # The header line is read as a data row too: pandas never checks the width of the first row it
        # reads, and a header row sets the width every data row is held to (a longer row is reported).
        reader = pd.read_csv(
            path,
            header=None,
            names=names,
            index_col=False,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,  # blank lines stay rows so that line numbers stay right; dropped below
            chunksize=chunk_rows,
            encoding="utf-8",
            encoding_errors="replace",
            on_bad_lines="warn",
            skipinitialspace=False,
        )
        for raw in reader:
            malformed = _malformed_lines(caught, path.name)
            caught.clear()
            skipped.extend(e.line for e in malformed)
            rows = np.arange(row, row + len(raw))
            row += len(raw)
            raw = raw.reset_index(drop=True)
            keep = rows > header_row
            maybe_blank = np.flatnonzero(raw.iloc[:, 0].to_numpy() == "")
            keep[maybe_blank[(raw.iloc[maybe_blank] == "").all(axis=1).to_numpy()]] = False
            chunk = validate_frame(table, raw[keep], path.name, lines=rows[keep] + 1, today=today)
            for error in chunk.errors:
                error.line = _physical_line(error.line, skipped)
            chunk.errors = malformed + chunk.errors
            yield chunk
    leftover = _malformed_lines(caught, path.name)
    if leftover:
        yield ValidatedChunk(frame=pd.DataFrame(columns=table.column_names), errors=leftover, extra_columns=[])


def _header(path: Path) -> tuple[list[str], int]:
    """The column names (stripped, blanks and repeats named as pandas names them) and the header's row."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as text:
        try:
            found = next(((row, record) for row, record in enumerate(csv.reader(text)) if record), None)
        except csv.Error as error:
            raise ContractError(path.name, f"the header line cannot be read ({error})", line=1) from None
    if found is None:
        raise ContractError(path.name, "the file is empty: no header line", line=1)
    header_row, record = found
    names: list[str] = []
    for position, name in enumerate(field.strip() for field in record):
        name = name or f"Unnamed: {position}"
        unique, repeat = name, 0
        while unique in names:
            repeat += 1
            unique = f"{name}.{repeat}"
        names.append(unique)
    return names, header_row


def _physical_line(record_line: int, skipped: list[int]) -> int:
    line = record_line
    for skipped_line in sorted(skipped):
        if skipped_line <= line:
            line += 1
    return line


_SKIPPED_LINE = re.compile(r"Skipping line (\d+): (.*)")


def _malformed_lines(caught: list[warnings.WarningMessage], file: str) -> list[RowError]:
    errors = []
    for warning in caught:
        for line in str(warning.message).splitlines():
            match = _SKIPPED_LINE.search(line)
            if match:
                errors.append(RowError(file=file, line=int(match.group(1)), reason=f"malformed CSV line: {match.group(2)}"))
    return errors
