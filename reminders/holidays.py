"""Public holidays, read from ``holidays.yaml`` (ranges of closed days per year)."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

import yaml

HOLIDAYS_FILE = Path(__file__).with_name("holidays.yaml")


@cache
def holidays(path: Path = HOLIDAYS_FILE) -> frozenset[dt.date]:
    """Every closed day listed; ``ValueError`` naming the entry for a bad one."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    days: set[dt.date] = set()
    for year, ranges in raw.items():
        for n, pair in enumerate(ranges or []):
            if not (isinstance(pair, list) and len(pair) == 2):
                raise ValueError(f"{path.name}: {year}[{n}]: write [first day, last day]")
            first, last = pair
            if not isinstance(first, dt.date) or not isinstance(last, dt.date) or last < first:
                raise ValueError(
                    f"{path.name}: {year}[{n}]: two dates, the first not after the last"
                )
            days.update(first + dt.timedelta(days=i) for i in range((last - first).days + 1))
    return frozenset(days)
