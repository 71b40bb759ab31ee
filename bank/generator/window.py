"""The time window of a synthetic bank: whole months ending on ``end_date``.

Days are integer offsets from the first day of the window; seconds are offsets
from its midnight. Formatting to ISO strings happens once per chunk by lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SECONDS_PER_DAY = 86_400


def _add_months(day: date, months: int) -> date:
    total = day.year * 12 + day.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


@dataclass(frozen=True)
class Window:
    """``months`` calendar months; the last one ends on ``end`` (possibly mid-month)."""

    end: date
    months: int

    @cached_property
    def start(self) -> date:
        return _add_months(self.end.replace(day=1), -(self.months - 1))

    @cached_property
    def n_days(self) -> int:
        return (self.end - self.start).days + 1

    @cached_property
    def month_start(self) -> np.ndarray:
        """Day offset of the first day of each month."""
        return np.array([(_add_months(self.start, m) - self.start).days for m in range(self.months)], np.int32)

    @cached_property
    def month_length(self) -> np.ndarray:
        """Calendar length of each month."""
        ends = [(_add_months(self.start, m + 1) - self.start).days for m in range(self.months)]
        return np.array(ends, np.int32) - self.month_start

    @cached_property
    def month_days(self) -> np.ndarray:
        """Days of each month that lie inside the window (the last month may be partial)."""
        return np.minimum(self.month_length, self.n_days - self.month_start).astype(np.int32)

    @cached_property
    def month_of_year(self) -> np.ndarray:
        return np.array([_add_months(self.start, m).month for m in range(self.months)], np.int8)

    @cached_property
    def start_datetime64(self) -> np.datetime64:
        return np.datetime64(self.start.isoformat(), "D")

    def day_of(self, when: date) -> int:
        return (when - self.start).days

    def black_fridays(self) -> list[int]:
        """Day offsets of the last Friday of each November inside the window."""
        days = []
        for year in range(self.start.year, self.end.year + 1):
            friday = date(year, 11, 30)
            while friday.weekday() != 4:
                friday -= timedelta(days=1)
            if self.start <= friday <= self.end:
                days.append(self.day_of(friday))
        return days

    def weekday(self, day: np.ndarray) -> np.ndarray:
        """Monday = 0 for day offsets."""
        return ((day + self.start.weekday()) % 7).astype(np.int8)

    def dates(self, day: np.ndarray) -> np.ndarray:
        """ISO date strings (numpy ``<U10``) for day offsets, which may lie before the window."""
        return np.datetime_as_string(self.start_datetime64 + day.astype("timedelta64[D]"), unit="D")

    @cached_property
    def _date_prefixes(self) -> pa.Array:
        return pa.array([(self.start + timedelta(days=d)).isoformat() + "T" for d in range(self.n_days)])

    @cached_property
    def _clock_strings(self) -> pa.Array:
        return pa.array([f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(SECONDS_PER_DAY)])

    def timestamps(self, day: np.ndarray, second: np.ndarray) -> pa.Array:
        """``YYYY-MM-DDTHH:MM:SS`` strings for days inside the window and seconds of the day."""
        return pc.binary_join_element_wise(
            pc.take(self._date_prefixes, pa.array(day)), pc.take(self._clock_strings, pa.array(second)), ""
        )

    def date_array(self, day: np.ndarray) -> pa.Array:
        """ISO dates for days inside the window, as an Arrow string array."""
        prefixes = pc.take(self._date_prefixes, pa.array(day))
        return pc.utf8_slice_codeunits(prefixes, 0, 10)
