"""Who hears of which date, and when: the day's reminders as plain data.

The planner reads the database in a few set-wise queries and returns
:class:`Due` items, each with a key naming the recipient, the duty, the
occurrence and the step (30, 7, 3 or 1 days before), so that writing them to
the outbox twice, or from two processes, adds nothing.  Texts are not made
here: ``dialogs.reminding`` words them in the person's language.

* **Leaders** with a declaration not yet submitted (a draft, or one returned
  for revision) of a program whose applicants' date nears: 30, 7, 3 and 1 days
  before; nothing once it is submitted.  Work carried out around a date rather
  than due on it (``carried_out``) is announced ahead of its season, 30 and 7
  days before.
* **Reviewers** holding declarations: a digest of what waits, once a day, and a
  nudge (催办) for each item that waited longer than its level's ``max_days``;
  a reviewers' own date (districts forwarding by the end of July) to those
  holding declarations of that program, 7 and 1 days before.
* **Named studios**, before each duty (``audience: studio``): 30, 7 and 1 days
  before; ``only: named`` and ``after: named`` count from the naming.

Steps missed while no process ran are not replayed one by one: the current
step alone is planned (five days before, the 7-day reminder goes), and a date
that has passed plans nothing.  A reminder goes at the person's hour (or the
product's, 09:00) in the configured zone; planned after the day's sending
window closes (20:00), it waits for the next morning, unless its date would
then have passed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from reminders.calendar import Occurrence, Rule, next_occurrence
from storage import reminders as data
from storage.models import ApplicationStatus

DEADLINE_STEPS = (30, 7, 3, 1)
SEASON_STEPS = (30, 7)
DUTY_STEPS = (30, 7, 1)
REVIEWER_STEPS = (7, 1)
KINDS = ("deadline", "digest", "nudge", "duty")
"""The kinds of reminder a person may mute."""


class DateRule(Rule, Protocol):
    """A program's date rule, as far as planning goes."""

    @property
    def what(self) -> str: ...
    @property
    def audience(self) -> str: ...
    @property
    def carried_out(self) -> bool: ...
    @property
    def only(self) -> str | None: ...
    @property
    def after(self) -> str | None: ...


class Level(Protocol):
    @property
    def max_days(self) -> int: ...


class Program(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def dates(self) -> Sequence[DateRule]: ...
    @property
    def review_chain(self) -> Sequence[Level]: ...


@dataclass(frozen=True)
class Window:
    """When reminders may go: from ``hour`` to ``quiet_from`` local time."""

    zone: ZoneInfo
    hour: int = 9
    quiet_from: int = 20


@dataclass(frozen=True)
class Due:
    """One reminder to one person."""

    kind: str
    person_id: int
    key: str
    program_id: str
    day: dt.date
    """The date reminded of (a digest: today)."""
    days_left: int
    send_at: dt.datetime
    expires_at: dt.datetime | None
    rule_id: str = ""
    what: str = ""
    carried_out: bool = False
    application_id: int | None = None
    revision: int = 0
    count: int = 0
    """Questions left (a leader), items waiting (a digest)."""
    waited: int = 0
    """Days the oldest item waited (a digest, a nudge)."""
    task_id: int | None = None


# --------------------------------------------------------------------------- timing


def step_due(days_left: int, steps: Sequence[int]) -> int | None:
    """The step a reminder is at ``days_left`` days before its date: the smallest step
    not before today (a missed step is not replayed); None when none is due yet or
    the date has passed."""
    if days_left < 0:
        return None
    fitting = [s for s in steps if days_left <= s]
    return min(fitting) if fitting else None


def send_time(now: dt.datetime, day: dt.date, window: Window, hour: int | None) -> dt.datetime:
    """When a reminder planned at ``now`` about ``day`` goes out: the person's hour
    today, at once within the sending window, else the next morning (at once
    when the next morning is after ``day``)."""
    local = now.astimezone(window.zone)
    at = hour if hour is not None and 0 <= hour <= 23 else window.hour
    today_at = local.replace(hour=at, minute=0, second=0, microsecond=0)
    if local < today_at:
        return today_at
    if local.hour < window.quiet_from:
        return local
    tomorrow = today_at + dt.timedelta(days=1)
    return local if tomorrow.date() > day else tomorrow


def night(now: dt.datetime, window: Window) -> dt.datetime | None:
    """The next morning's sending time when ``now`` is outside the sending window
    (from ``quiet_from`` to ``hour``), else None."""
    local = now.astimezone(window.zone)
    if window.hour <= local.hour < window.quiet_from:
        return None
    morning = local.replace(hour=window.hour, minute=0, second=0, microsecond=0)
    return morning if local.hour < window.hour else morning + dt.timedelta(days=1)


def _left(day: dt.date, send_at: dt.datetime, window: Window) -> int:
    """Days from the day the reminder arrives to its date (a reminder held to the
    next morning says one day fewer than when it was planned)."""
    return (day - send_at.astimezone(window.zone).date()).days


def end_of(day: dt.date, window: Window) -> dt.datetime:
    """The end of ``day`` in the zone: a reminder about it is pointless after."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=window.zone)


def _muted(mutes: Any, kind: str) -> bool:
    return isinstance(mutes, list) and kind in mutes


# --------------------------------------------------------------------------- planning


async def plan(
    session: AsyncSession, *, programs: Iterable[Program], now: dt.datetime, window: Window
) -> list[Due]:
    """Every reminder due at ``now``, keyed so that planning again adds nothing."""
    today = now.astimezone(window.zone).date()
    served = {p.id: p for p in programs}
    due: list[Due] = []
    due += await _leaders(session, served, today, now, window)
    due += await _studios(session, served, today, now, window)
    due += await _reviewers(session, served, today, now, window)
    return due


def _current(
    rule: DateRule, today: dt.date, steps: Sequence[int], since: dt.date | None = None
) -> tuple[Occurrence, int] | None:
    """The rule's next occurrence and the step due at ``today``, if one is."""
    found = next_occurrence(rule, today, since=since)
    step = step_due((found.day - today).days, steps) if found is not None else None
    return (found, step) if found is not None and step is not None else None


def _dated(
    now: dt.datetime,
    window: Window,
    *,
    kind: str,
    key: str,
    person_id: int,
    program_id: str,
    rule: DateRule,
    day: dt.date,
    hour: int | None,
    **more: Any,
) -> Due:
    """A reminder of a rule's date: sent at the person's hour, counting its days from
    the day it arrives, expiring with the date."""
    send_at = send_time(now, day, window, hour)
    return Due(
        kind=kind,
        person_id=person_id,
        key=key,
        program_id=program_id,
        day=day,
        days_left=_left(day, send_at, window),
        send_at=send_at,
        expires_at=end_of(day, window),
        rule_id=rule.id,
        what=rule.what,
        carried_out=rule.carried_out,
        **more,
    )


async def _leaders(
    session: AsyncSession,
    served: dict[str, Program],
    today: dt.date,
    now: dt.datetime,
    window: Window,
) -> list[Due]:
    """Leaders who still owe a declaration whose applicants' date nears."""
    current: dict[str, list[tuple[DateRule, Occurrence, int]]] = {}
    for program in served.values():
        for rule in program.dates:
            if rule.audience != "applicant" or rule.kind not in ("yearly", "once"):
                continue
            due = _current(rule, today, SEASON_STEPS if rule.carried_out else DEADLINE_STEPS)
            if due is not None:
                current.setdefault(program.id, []).append((rule, *due))
    out = []
    for holder in await data.holders(session, program_ids=current, statuses=data.drafting()):
        if _muted(holder.mutes, "deadline"):
            continue
        out += [
            _dated(
                now,
                window,
                kind="deadline",
                key=f"rem:d:{holder.application_id}:{rule.id}:{found.day}:{step}",
                person_id=holder.person_id,
                program_id=holder.program_id,
                rule=rule,
                day=found.day,
                hour=holder.remind_hour,
                application_id=holder.application_id,
                revision=holder.revision,
                count=holder.unanswered,
            )
            for rule, found, step in current[holder.program_id]
        ]
    return out


async def _studios(
    session: AsyncSession,
    served: dict[str, Program],
    today: dt.date,
    now: dt.datetime,
    window: Window,
) -> list[Due]:
    """Named studios before each of their duties."""
    duties = {p.id: [r for r in p.dates if r.audience == "studio"] for p in served.values()}
    named = [ApplicationStatus.APPROVED.value]
    programs = [pid for pid, rules in duties.items() if rules]
    out = []
    for holder in await data.holders(session, program_ids=programs, statuses=named):
        if _muted(holder.mutes, "duty"):
            continue
        since = holder.named_at.astimezone(window.zone).date() if holder.named_at else None
        for rule in duties[holder.program_id]:
            due = _current(rule, today, SEASON_STEPS if rule.carried_out else DUTY_STEPS, since)
            if due is None:
                continue
            found, step = due
            out.append(
                _dated(
                    now,
                    window,
                    kind="duty",
                    key=f"rem:s:{holder.application_id}:{rule.id}:{found.day}:{step}",
                    person_id=holder.person_id,
                    program_id=holder.program_id,
                    rule=rule,
                    day=found.day,
                    hour=holder.remind_hour,
                    application_id=holder.application_id,
                )
            )
    return out


async def _reviewers(
    session: AsyncSession,
    served: dict[str, Program],
    today: dt.date,
    now: dt.datetime,
    window: Window,
) -> list[Due]:
    """A daily digest per reviewer, a nudge per item waiting too long, and the
    reviewers' own dates for the programs they hold declarations of."""
    held = [w for w in await data.waiting(session) if w.program_id in served]
    out: list[Due] = []
    by_person: dict[int, list[data.Waiting]] = {}
    for item in held:
        by_person.setdefault(item.person_id, []).append(item)
        level = served[item.program_id].review_chain[item.level]
        waited = (now - item.opened_at).days
        if waited > level.max_days and not _muted(item.mutes, "nudge"):
            out.append(
                Due(
                    kind="nudge",
                    person_id=item.person_id,
                    key=f"rem:n:{item.task_id}:{item.person_id}",
                    program_id=item.program_id,
                    day=today,
                    days_left=0,
                    send_at=send_time(now, today + dt.timedelta(days=1), window, item.remind_hour),
                    expires_at=None,
                    application_id=item.application_id,
                    revision=item.submission_no,
                    waited=waited,
                    task_id=item.task_id,
                )
            )
    evening = now.astimezone(window.zone).hour >= window.quiet_from
    for person_id, items in by_person.items():
        first = items[0]
        # Planned after the window closed, today's digest is not worth a message:
        # tomorrow's tick plans tomorrow's, for the morning.
        if not evening and not _muted(first.mutes, "digest"):
            out.append(
                Due(
                    kind="digest",
                    person_id=person_id,
                    key=f"rem:g:{person_id}:{today}",
                    program_id=first.program_id,
                    day=today,
                    days_left=0,
                    send_at=send_time(now, today, window, first.remind_hour),
                    expires_at=end_of(today, window),
                    count=len(items),
                    waited=(now - first.opened_at).days,
                )
            )
        out += _reviewer_dates(served, items, today, now, window)
    return out


def _reviewer_dates(
    served: dict[str, Program],
    items: list[data.Waiting],
    today: dt.date,
    now: dt.datetime,
    window: Window,
) -> list[Due]:
    first = items[0]
    if _muted(first.mutes, "deadline"):
        return []
    out = []
    for program_id in sorted({i.program_id for i in items}):
        for rule in served[program_id].dates:
            due = _current(rule, today, REVIEWER_STEPS) if rule.audience == "reviewer" else None
            if due is None:
                continue
            found, step = due
            out.append(
                _dated(
                    now,
                    window,
                    kind="deadline",
                    key=f"rem:r:{first.person_id}:{program_id}:{rule.id}:{found.day}:{step}",
                    person_id=first.person_id,
                    program_id=program_id,
                    rule=rule,
                    day=found.day,
                    hour=first.remind_hour,
                    count=sum(1 for i in items if i.program_id == program_id),
                )
            )
    return out
