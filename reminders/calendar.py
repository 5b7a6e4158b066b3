"""The programs' dates as occurrences: which day each rule falls on, in a range.

A rule (``dates`` of a definition, read through the :class:`Rule` protocol so
this package needs nothing of the dialogs) is one of

* ``yearly``: a month and day every year;
* ``once``: one date, never repeated (a schedule of one year only);
* ``window``: a period every year, from a month and day to another (it may
  run over the new year);
* ``quarterly``: the last day of each quarter;
* ``every_years``: every N years after an event of the studio (its naming).

A day that a year lacks is its month's last day: 02-29 is 02-28 outside leap
years, and "day 31" of a 30-day month its 30th, which is how "the end of the
month" reads.  Everything here is pure: dates in, dates out.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

QUARTER_ENDS = ((3, 31), (6, 30), (9, 30), (12, 31))


class Rule(Protocol):
    """What the calendar reads of a date rule."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def month(self) -> int | None: ...
    @property
    def day(self) -> int | None: ...
    @property
    def end_month(self) -> int | None: ...
    @property
    def end_day(self) -> int | None: ...
    @property
    def date(self) -> dt.date | None: ...
    @property
    def years(self) -> int | None: ...


@dataclass(frozen=True, order=True)
class Occurrence:
    """One day a rule falls on (``end`` closes a window)."""

    day: dt.date
    rule_id: str
    end: dt.date | None = None


def on(year: int, month: int, day: int) -> dt.date:
    """``month``/``day`` of ``year``, the month's last day when the year lacks it."""
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _need(value: int | None, what: str, rule: Rule) -> int:
    if value is None:
        raise ValueError(f"date rule '{rule.id}' ({rule.kind}) lacks '{what}'")
    return value


def occurrences(
    rule: Rule, start: dt.date, end: dt.date, *, since: dt.date | None = None
) -> list[Occurrence]:
    """The occurrences of ``rule`` whose day lies in ``[start, end]``, in order.

    ``since`` is the event an ``every_years`` rule counts from (a studio's naming);
    without it such a rule has none.  A window is included when it starts in the
    range.  ``ValueError`` for a rule that lacks what its kind needs (the loader
    refuses such rules, so this only guards against a hand-built one).
    """
    return sorted(o for o in _all(rule, start, end, since) if start <= o.day <= end)


def _all(rule: Rule, start: dt.date, end: dt.date, since: dt.date | None) -> Iterator[Occurrence]:
    years = range(start.year, end.year + 1)
    if rule.kind == "once":
        if rule.date is None:
            raise ValueError(f"date rule '{rule.id}' (once) lacks 'date'")
        yield Occurrence(rule.date, rule.id)
    elif rule.kind == "yearly":
        month, day = _need(rule.month, "month", rule), _need(rule.day, "day", rule)
        yield from (Occurrence(on(y, month, day), rule.id) for y in years)
    elif rule.kind == "window":
        yield from _windows(rule, years)
    elif rule.kind == "quarterly":
        yield from (Occurrence(on(y, m, d), rule.id) for y in years for m, d in QUARTER_ENDS)
    elif rule.kind == "every_years":
        step = _need(rule.years, "years", rule)
        if since is not None:
            n = 1
            while since.year + n * step <= end.year:
                yield Occurrence(on(since.year + n * step, since.month, since.day), rule.id)
                n += 1
    else:
        raise ValueError(f"date rule '{rule.id}' has an unknown kind '{rule.kind}'")


def _windows(rule: Rule, years: range) -> Iterator[Occurrence]:
    month, day = _need(rule.month, "month", rule), _need(rule.day, "day", rule)
    end_month = _need(rule.end_month, "end_month", rule)
    end_day = _need(rule.end_day, "end_day", rule)
    wraps = (end_month, end_day) < (month, day)  # e.g. December to February
    for year in years:
        first = on(year, month, day)
        last = on(year + 1 if wraps else year, end_month, end_day)
        yield Occurrence(first, rule.id, last)


def next_occurrence(
    rule: Rule, today: dt.date, *, since: dt.date | None = None, horizon_years: int = 4
) -> Occurrence | None:
    """The first occurrence on or after ``today`` (a window still open counts, by its
    start), within ``horizon_years``; None if the rule falls on no such day."""
    open_windows = [
        o
        for o in occurrences(rule, today.replace(month=1, day=1) - dt.timedelta(days=366), today)
        if o.end is not None and o.day <= today <= o.end
    ]
    if open_windows:
        return open_windows[-1]
    ahead = occurrences(rule, today, on(today.year + horizon_years, 12, 31), since=since)
    return ahead[0] if ahead else None
