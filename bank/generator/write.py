"""CSV output in the contract's formats, appended chunk by chunk.

Structured tables go through Arrow's CSV writer without quoting (it refuses a value
that would need quotes, so a stray comma cannot corrupt a file); tables with free
text go through the csv module with minimal quoting. Money is written with exactly
two decimals, booleans as ``true``/``false``, missing values as empty fields.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from types import TracebackType

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

MONEY = pa.decimal128(16, 2)


def cents_to_decimal(cents: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Exact two-decimal Arrow array from integer cents (``valid`` False gives an empty field)."""
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty((len(cents), 2), np.int64)
    words[:, 0] = cents
    words[:, 1] = np.where(cents < 0, -1, 0)
    validity = None
    nulls = 0
    if valid is not None and not valid.all():
        validity = pa.py_buffer(np.packbits(valid.astype(np.uint8), bitorder="little"))
        nulls = int((~valid).sum())
    return pa.Array.from_buffers(MONEY, len(cents), [validity, pa.py_buffer(words.tobytes())], null_count=nulls)


def money(values: np.ndarray | pd.Series) -> pa.Array:
    """Two-decimal Arrow array from floats; NaN becomes an empty field."""
    values = np.asarray(values, dtype=np.float64)
    valid = ~np.isnan(values)
    return cents_to_decimal(np.round(np.where(valid, values, 0.0) * 100).astype(np.int64), valid)


def prefixed_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def coded(codes: np.ndarray, values: tuple[str, ...] | list[str]) -> pa.Array:
    """Dictionary-encoded strings: cheap to build, written as plain strings."""
    return pa.DictionaryArray.from_arrays(
        pa.array(np.asarray(codes, np.int32)), pa.array(list(values), pa.string())
    )


def frame_to_arrow(frame: pd.DataFrame, money_columns: tuple[str, ...] = ()) -> pa.Table:
    """Arrow table of a frame: money columns as two-decimal numbers, objects as strings."""
    arrays = {}
    for name in frame.columns:
        column = frame[name]
        if name in money_columns:
            arrays[name] = money(column.to_numpy(dtype=np.float64, na_value=np.nan))
        elif column.dtype == object:
            arrays[name] = pa.array(column.to_numpy(), type=pa.string(), from_pandas=True)
        else:
            arrays[name] = pa.array(column.to_numpy(), from_pandas=True)
    return pa.table(arrays)


class CsvSink:
    """One CSV file written in pieces; the header is written on opening."""

    def __init__(self, path: Path, columns: tuple[str, ...] | list[str], free_text: bool = False):
        self.path = path
        self.columns = list(columns)
        self.free_text = free_text
        self.rows = 0
        self._file = open(path, "wb")
        self._file.write((",".join(self.columns) + "\n").encode())
        self._options = pacsv.WriteOptions(include_header=False, quoting_style="none")

    def write(self, table: pa.Table) -> None:
        if table.column_names != self.columns:
            raise ValueError(f"{self.path.name}: columns {table.column_names} != {self.columns}")
        if table.num_rows == 0:
            return
        if self.free_text:
            buffer = io.StringIO()
            columns = [_strings(table.column(name)) for name in self.columns]
            csv.writer(buffer, lineterminator="\n").writerows(zip(*columns, strict=True))
            self._file.write(buffer.getvalue().encode())
        else:
            pacsv.write_csv(table, self._file, self._options)
        self.rows += table.num_rows

    def write_frame(self, frame: pd.DataFrame, money_columns: tuple[str, ...] = ()) -> None:
        self.write(frame_to_arrow(frame[self.columns], money_columns))

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> CsvSink:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def _strings(column: pa.ChunkedArray) -> list[str]:
    """A column as the strings to write: true/false, two-decimal money, empty for missing."""
    if not pa.types.is_string(column.type):
        column = pc.cast(column, pa.string())
    return pc.fill_null(column, "").to_pylist()
