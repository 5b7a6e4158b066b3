"""Reminders in words: the planner's items (``reminders.plan``) worded in the
conversation's language, with the button that acts on them, and written to the
outbox at bulk priority in one go.

A deadline says the date, the days left, whether the day is a weekend or a
public holiday, and how many questions are left, with a button that resumes
the draft; a digest says how much waits and for how long, with /inbox; a
nudge names the declaration that waited too long; a studio's duty says what
is owed and when.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialogs.i18n import Locale
from dialogs.loader import ProgramRegistry
from dialogs.ui import Action, Button
from reminders.holidays import holidays
from reminders.plan import Due, Window, night, plan
from storage import outbox
from storage.models import OutboxPriority

KEY_PREFIX = "rem:"
"""Every reminder's outbox key starts so (``reminders.plan``)."""
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def day_note(day: dt.date, loc: Locale, holidays: Collection[dt.date]) -> str:
    """「（星期六）」 or 「（节假日）」 when the date falls on a day offices are closed."""
    if day in holidays:
        return loc.t("remind.note.holiday")
    if day.weekday() >= 5:
        return loc.t(
            "remind.note.weekend", weekday=loc.t(f"remind.weekday.{WEEKDAYS[day.weekday()]}")
        )
    return ""


def words(due: Due, loc: Locale, registry: ProgramRegistry, holidays: Collection[dt.date]) -> str:
    """The reminder's text."""
    program = registry.get(due.program_id)
    title = program.button_title if program is not None else due.program_id
    params: dict[str, object] = {
        "program": title,
        "what": due.what,
        "date": due.day.isoformat(),
        "days": due.days_left,
        "note": day_note(due.day, loc, holidays),
        "count": due.count,
        "waited": due.waited,
    }
    if due.kind == "deadline" and due.application_id is None:
        key = "remind.reviewer_date"
    elif due.kind in ("deadline", "duty"):
        key = f"remind.{due.kind}.{'season' if due.carried_out else 'due'}"
        if due.days_left == 0 and not due.carried_out:
            key = f"remind.{due.kind}.today"
    else:
        key = f"remind.{due.kind}"
    return loc.t(key, **params)


def buttons(due: Due, loc: Locale) -> list[list[Button]]:
    """What the reminder lets one do at once."""
    if due.kind == "deadline" and due.application_id is not None:
        return [[Button(loc.t("remind.btn.resume"), Action.RESUME, due.application_id)]]
    if due.kind == "digest" or (due.kind == "deadline" and due.application_id is None):
        return [[Button(loc.t("remind.btn.inbox"), Action.INBOX)]]
    if due.kind == "nudge" and due.task_id is not None:
        return [[Button(loc.t("remind.btn.open"), Action.REVIEW_SHOW, due.task_id)]]
    return [[Button(loc.t("remind.btn.status"), Action.STATUS)]]


async def write(
    session: AsyncSession,
    *,
    due: Sequence[Due],
    loc: Locale,
    registry: ProgramRegistry,
    holidays: Collection[dt.date],
    now: dt.datetime,
) -> int:
    """Put the reminders in the outbox (bulk priority, each at its hour, expiring
    with its date); how many were new.  Those planned before are not worded again."""
    known = await outbox.existing_keys(session, keys=[d.key for d in due])
    due = [d for d in due if d.key not in known]
    planned: list[outbox.Planned] = [
        {
            "person_id": d.person_id,
            "text": words(d, loc, registry, holidays),
            "buttons": outbox.store_buttons(buttons(d, loc)),
            "priority": int(OutboxPriority.BULK),
            "dedupe_key": d.key,
            "not_before": d.send_at,
            "expires_at": d.expires_at,
            "application_id": d.application_id,
            "revision": d.revision,
        }
        for d in due
    ]
    return await outbox.enqueue_many(session, planned=planned, now=now)


async def plan_and_write(
    sessions: async_sessionmaker[AsyncSession],
    *,
    registry: ProgramRegistry,
    loc: Locale,
    window: Window,
    now: dt.datetime,
) -> int:
    """One tick: every reminder due at ``now`` into the outbox, in one transaction;
    how many were new (0 when planned before, by this process or another)."""
    async with sessions() as session, session.begin():
        morning = night(now, window)
        if morning is not None:  # the day's window closed: what is left waits for morning
            await outbox.defer_unsent(session, now=now, until=morning, key_prefix=KEY_PREFIX)
        found = await plan(session, programs=list(registry), now=now, window=window)
        return await write(
            session, due=found, loc=loc, registry=registry, holidays=holidays(), now=now
        )
