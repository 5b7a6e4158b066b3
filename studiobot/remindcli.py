"""``studiobot reminders plan|send --at MOMENT``: the reminders as of a moment, for
drills and for catching up.

``plan`` prints who would be reminded of what at that moment, one line each,
and writes nothing.  ``send`` plans them into the outbox as the tick would, then
delivers the due rows to Telegram with a clock running from that moment, and
exits when none is left; the keys make a second run send nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time

from dialogs.i18n import Locale
from dialogs.reminding import plan_and_write, words
from reminders.holidays import holidays
from reminders.plan import plan
from storage import outbox, staff
from studiobot.app import load_programs, window
from studiobot.settings import Settings
from studiobot.staffcli import database

SHOWN_CHARS = 120
DRAIN_POLL = 0.2


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``reminders`` command."""
    rem = sub.add_parser("reminders", help="the reminders due at a moment: print, or send")
    rsub = rem.add_subparsers(dest="action", required=True)
    for name, text in (
        ("plan", "print who would be reminded of what at --at, sending nothing"),
        ("send", "plan and deliver what is due at --at (once: a second run sends nothing)"),
    ):
        cmd = rsub.add_parser(name, help=text)
        cmd.add_argument(
            "--at", type=_moment, default=None, help="ISO moment, e.g. 2027-07-24T09:00+08:00"
        )


def _moment(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO moment: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the zone too, e.g. {text}+08:00")
    return moment


def reminders(args: argparse.Namespace, settings: Settings, loc: Locale) -> int:
    at = args.at or dt.datetime.now(dt.UTC)
    if args.action == "plan":
        return asyncio.run(_plan(settings, loc, at))
    return asyncio.run(_send(settings, loc, at))


async def _plan(settings: Settings, loc: Locale, at: dt.datetime) -> int:
    registry = load_programs(settings)
    async with database(settings) as sessions, sessions() as session:
        found = await plan(session, programs=list(registry), now=at, window=window(settings))
        known = await outbox.existing_keys(session, keys=[d.key for d in found])
        found = [d for d in found if d.key not in known]  # what a send would add
        names = {}
        for due in found:
            if due.person_id not in names:
                person = await staff.person(session, person_id=due.person_id)
                names[due.person_id] = (
                    person.display_name if person else ""
                ) or f"#{due.person_id}"
    zone = settings.zone
    for due in sorted(found, key=lambda d: (d.send_at, d.person_id, d.key)):
        text = " ".join(words(due, loc, registry, holidays()).split())
        print(
            loc.t(
                "remind.cli.line",
                at=due.send_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                kind=loc.t(f"remind.settings.kind.{due.kind}"),
                name=names[due.person_id],
                text=text[:SHOWN_CHARS]
                + (loc.t("engine.ellipsis") if len(text) > SHOWN_CHARS else ""),
            )
        )
    print(loc.t("remind.cli.planned", count=len(found), at=at.isoformat()))
    return 0


async def _send(settings: Settings, loc: Locale, at: dt.datetime) -> int:
    registry = load_programs(settings)
    async with database(settings) as sessions:
        added = await plan_and_write(
            sessions, registry=registry, loc=loc, window=window(settings), now=at
        )
        print(loc.t("remind.cli.written", count=added, at=at.isoformat()))
        if settings.bot_token is None or not settings.bot_token.get_secret_value():
            print(loc.t("remind.cli.no_token"), file=sys.stderr)
            return 0
        started = time.monotonic()

        def clock() -> dt.datetime:  # time runs on from --at
            return at + dt.timedelta(seconds=time.monotonic() - started)

        from bot.app import sending

        async with sending(settings.telegram(webhook=False), sessions, clock=clock) as sender:
            while True:
                await asyncio.sleep(DRAIN_POLL)
                async with sessions() as session:
                    left = await outbox.count_due(session, channel="telegram", now=clock())
                if left == 0:
                    break
        stats = sender.stats if sender is not None else None
    print(
        loc.t(
            "remind.cli.sent",
            sent=stats.sent if stats else 0,
            failed=stats.given_up if stats else 0,
        )
    )
    return 0
