"""The calendar of the programs' dates: each kind of rule, across year boundaries
and leap years, and the real definitions' dates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from pydantic import ValidationError

from dialogs.loader import load_registry
from dialogs.schema import DateRule
from reminders.calendar import Occurrence, next_occurrence, occurrences, on

D = dt.date


@dataclass(frozen=True)
class R:
    id: str = "r"
    kind: str = "yearly"
    month: int | None = None
    day: int | None = None
    end_month: int | None = None
    end_day: int | None = None
    date: dt.date | None = None
    years: int | None = None


def days(rule: R, start: dt.date, end: dt.date, since: dt.date | None = None) -> list[dt.date]:
    return [o.day for o in occurrences(rule, start, end, since=since)]


def test_a_day_the_year_lacks_is_its_months_last() -> None:
    assert on(2027, 2, 29) == D(2027, 2, 28)
    assert on(2028, 2, 29) == D(2028, 2, 29)
    assert on(2027, 6, 31) == D(2027, 6, 30)


def test_yearly_across_a_year_boundary_and_a_leap_year() -> None:
    rule = R(kind="yearly", month=2, day=29)
    assert days(rule, D(2026, 12, 1), D(2028, 12, 31)) == [D(2027, 2, 28), D(2028, 2, 29)]
    july = R(kind="yearly", month=7, day=31)
    assert days(july, D(2026, 8, 1), D(2027, 8, 1)) == [D(2027, 7, 31)]


def test_once_falls_once() -> None:
    rule = R(kind="once", date=D(2011, 8, 31))
    assert days(rule, D(2011, 1, 1), D(2030, 12, 31)) == [D(2011, 8, 31)]
    assert days(rule, D(2012, 1, 1), D(2030, 12, 31)) == []


def test_a_window_may_run_over_the_new_year() -> None:
    summer = R(kind="window", month=6, day=1, end_month=8, end_day=31)
    [o] = occurrences(summer, D(2027, 1, 1), D(2027, 12, 31))
    assert o == Occurrence(D(2027, 6, 1), "r", D(2027, 8, 31))
    winter = R(kind="window", month=12, day=1, end_month=2, end_day=29)
    [w] = occurrences(winter, D(2027, 1, 1), D(2027, 12, 31))
    assert (w.day, w.end) == (D(2027, 12, 1), D(2028, 2, 29))


def test_quarterly_is_each_quarters_last_day() -> None:
    rule = R(kind="quarterly")
    assert days(rule, D(2026, 11, 1), D(2027, 7, 1)) == [
        D(2026, 12, 31),
        D(2027, 3, 31),
        D(2027, 6, 30),
    ]


def test_every_years_counts_from_the_studios_event() -> None:
    rule = R(kind="every_years", years=3)
    named = D(2024, 2, 29)
    assert days(rule, D(2024, 1, 1), D(2031, 12, 31), since=named) == [
        D(2027, 2, 28),
        D(2030, 2, 28),
    ]
    assert days(rule, D(2024, 1, 1), D(2031, 12, 31)) == []  # not named: no inspection


def test_next_occurrence_sees_an_open_window_and_the_next_year() -> None:
    summer = R(kind="window", month=6, day=1, end_month=8, end_day=31)
    assert next_occurrence(summer, D(2027, 7, 10)) == Occurrence(D(2027, 6, 1), "r", D(2027, 8, 31))
    july = R(kind="yearly", month=7, day=31)
    nxt = next_occurrence(july, D(2027, 8, 1))
    assert nxt is not None
    assert nxt.day == D(2028, 7, 31)
    assert next_occurrence(R(kind="once", date=D(2011, 10, 10)), D(2026, 12, 2)) is None


def test_a_rule_missing_what_its_kind_needs_is_refused() -> None:
    with pytest.raises(ValueError, match="lacks 'day'"):
        occurrences(R(kind="yearly", month=7), D(2027, 1, 1), D(2027, 12, 31))


@pytest.mark.parametrize("program", [p.id for p in load_registry()])
def test_every_real_date_can_be_computed(program: str) -> None:
    found = load_registry().get(program)
    assert found is not None
    for rule in found.dates:
        occurrences(rule, D(2010, 1, 1), D(2030, 12, 31), since=D(2026, 12, 20))


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"kind": "every_years", "years": 3}, "after"),
        ({"kind": "yearly", "month": 7, "day": 31, "after": "named"}, "does not take after"),
        ({"kind": "yearly", "month": 2, "day": 30}, "no such day"),
        ({"kind": "quarterly", "only": "named", "audience": "applicant"}, "audience 'studio'"),
    ],
)
def test_a_rule_that_cannot_be_computed_is_refused_at_load(
    fields: dict[str, object], problem: str
) -> None:
    base: dict[str, object] = {"id": "x", "what": "某事", "audience": "studio", "cite": "「」"}
    with pytest.raises(ValidationError, match=problem):
        DateRule.model_validate(base | fields)
