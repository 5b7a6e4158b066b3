"""``/deadlines``: the dates that concern a person, nearest first, with the days left;
``/settings``: which kinds of reminder they hear, and at what hour.

The dates are the ones the reminders use (``reminders.calendar``): a leader
sees their programs' dates while a declaration is open, a named studio its
duties, a reviewer the dates of the programs waiting at their desk.
"""

from __future__ import annotations

import datetime as dt

from dialogs.turn import Turn
from dialogs.ui import Action, Button, ButtonIn, Outcome, Reply
from reminders.calendar import next_occurrence
from reminders.plan import KINDS
from storage import reminders as data
from storage import repo
from storage.models import ApplicationStatus

ACTIONS = frozenset({Action.SETTINGS_TOGGLE, Action.SETTINGS_HOUR})
HOURS = (8, 9, 10, 14, 17)
"""Hours offered for reminders (local time, within the sending window)."""
SHOWN = 12


async def deadlines(turn: Turn) -> Outcome:
    """Every date that concerns the person, nearest first."""
    found = await _own(turn) + await _at_desk(turn)
    if not found:
        return turn.menu(turn.t("remind.deadlines.none"))
    found.sort(key=lambda item: item[0])
    lines = [turn.t("remind.deadlines.title"), *(text for _, text in found[:SHOWN])]
    if len(found) > SHOWN:
        lines.append(turn.t("remind.deadlines.more", count=len(found) - SHOWN))
    return Outcome(replies=[Reply(text="\n".join(lines))])


async def _own(turn: Turn) -> list[tuple[dt.date, str]]:
    """The dates of the person's declarations: an open one's deadlines, a named
    studio's duties."""
    today = turn.today()
    found = []
    for app in await repo.list_applications(turn.session, user_id=turn.user.id or 0):
        program = turn.desk.registry.get(app.program_id)
        status = ApplicationStatus(app.status)
        audience = "applicant" if status.editable else "studio"
        if program is None or (audience == "studio" and status is not ApplicationStatus.APPROVED):
            continue
        since = app.named_at.astimezone(turn.desk.zone).date() if app.named_at else None
        for rule in (r for r in program.dates if r.audience == audience):
            nxt = next_occurrence(rule, today, since=since)
            if nxt is not None:
                found.append((nxt.day, _line(turn, nxt.day, today, turn.title_of(app), rule.what)))
    return found


async def _at_desk(turn: Turn) -> list[tuple[dt.date, str]]:
    """The reviewers' dates of the programs waiting at the person's desk."""
    today = turn.today()
    held = {w.program_id for w in await data.waiting(turn.session) if w.person_id == turn.user.id}
    found = []
    for program in filter(None, (turn.desk.registry.get(p) for p in sorted(held))):
        for rule in (r for r in program.dates if r.audience == "reviewer"):
            nxt = next_occurrence(rule, today)
            if nxt is not None:
                found.append(
                    (nxt.day, _line(turn, nxt.day, today, program.button_title, rule.what))
                )
    return found


def _line(turn: Turn, day: dt.date, today: dt.date, title: str, what: str) -> str:
    left = (day - today).days
    key = "remind.deadlines.today" if left == 0 else "remind.deadlines.line"
    return turn.t(key, date=day.isoformat(), days=left, program=title, what=what)


# --------------------------------------------------------------------------- settings


async def settings(turn: Turn, note: str = "") -> Outcome:
    """``/settings``: each kind of reminder on or off, and the hour they come at."""
    mutes = set(turn.user.mutes or [])
    lines = [note] if note else []
    lines.append(turn.t("remind.settings.title"))
    buttons: list[list[Button]] = []
    for kind in KINDS:
        state = turn.t("remind.settings.off" if kind in mutes else "remind.settings.on")
        what = turn.t(f"remind.settings.kind.{kind}")
        lines.append(turn.t("remind.settings.line", kind=what, state=state))
        label = turn.t(
            "remind.settings.unmute" if kind in mutes else "remind.settings.mute", kind=what
        )
        buttons.append([Button(label, Action.SETTINGS_TOGGLE, key=kind)])
    hour = turn.user.remind_hour
    lines.append(
        turn.t("remind.settings.hour", hour=hour)
        if hour is not None
        else turn.t("remind.settings.hour_default")
    )
    buttons.append(
        [Button(turn.t("remind.settings.at", hour=h), Action.SETTINGS_HOUR, h) for h in HOURS]
    )
    return Outcome(replies=[Reply(text="\n".join(lines), buttons=buttons)])


async def button(turn: Turn, event: ButtonIn) -> Outcome:
    """A toggle or an hour pressed; the key and hour are checked against what exists."""
    if event.action is Action.SETTINGS_TOGGLE:
        if event.key not in KINDS:
            return await settings(turn)
        mutes = set(turn.user.mutes or [])
        mutes ^= {event.key}
        turn.user.mutes = sorted(mutes)
        turn.user.updated_at = turn.now
        return await settings(turn, turn.t("remind.settings.saved"))
    if event.arg not in HOURS:
        return await settings(turn)
    turn.user.remind_hour = event.arg
    turn.user.updated_at = turn.now
    return await settings(turn, turn.t("remind.settings.saved"))
