"""The conversation service: one inbound event in, committed state, replies out.

Every transport (Telegram, the terminal, tests) calls :meth:`Conversation.handle`.
It runs the event in one database transaction: the processed-update marker,
the answer, its history row and the moved cursor commit together, before any
reply leaves.  A crash at any point leaves either the old state or the new
one, never half of it, and the user continues where the database says.

What an event means is decided by the flows (``dialogs/flows/``); this module
cleans the input, owns the transaction, retries a write that lost a race, and
picks the flow.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from zoneinfo import ZoneInfo

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from dialogs.flows import (
    announcing,
    applicant,
    deadlines,
    exporting,
    forms,
    menus,
    placing,
    progress,
    review,
    staff,
    uploads,
)
from dialogs.i18n import Locale
from dialogs.loader import ProgramRegistry
from dialogs.textfit import clean_text
from dialogs.turn import CARRY_OVER_PATH, Desk, FormMaker, Turn
from dialogs.ui import (
    ButtonIn,
    CommandIn,
    FileIn,
    Inbound,
    Outcome,
    TextIn,
    UnsupportedIn,
    UpdateKey,
    UserRef,
)
from storage import repo
from storage.files import FileStore

__all__ = ["CARRY_OVER_PATH", "Clock", "Conversation", "clean_inbound", "system_clock"]

log = logging.getLogger(__name__)

WRITE_ATTEMPTS = 3
"""How often an event is tried when its write finds the draft changed meanwhile."""

Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    """The real time, timezone-aware (UTC)."""
    return dt.datetime.now(dt.UTC)


def clean_inbound(user: UserRef, event: Inbound) -> tuple[UserRef, Inbound]:
    """The event with every text the user controls cleaned (see ``dialogs.textfit``)."""
    user = replace(user, display_name=clean_text(user.display_name))
    if isinstance(event, TextIn):
        event = TextIn(text=clean_text(event.text))
    elif isinstance(event, CommandIn):
        event = CommandIn(name=clean_text(event.name), args=clean_text(event.args))
    elif isinstance(event, FileIn):
        event = replace(event, file_name=clean_text(event.file_name))
    return user, event


class Conversation:
    """Runs the declaration dialogs for any transport."""

    def __init__(
        self,
        *,
        registry: ProgramRegistry,
        sessions: async_sessionmaker[AsyncSession],
        files: FileStore,
        clock: Clock = system_clock,
        zone: ZoneInfo | None = None,
        locale: str = "zh-CN",
        bot_username: str | None = None,
        forms: FormMaker | None = None,
    ) -> None:
        self.registry = registry
        self.sessions = sessions
        self.clock = clock
        self.desk = Desk(
            registry=registry,
            files=files,
            zone=zone or ZoneInfo("Asia/Shanghai"),
            loc=Locale(locale),
            bot_username=bot_username,
            forms=forms,
        )

    @property
    def loc(self) -> Locale:
        """The language the conversation speaks."""
        return self.desk.loc

    @property
    def zone(self) -> ZoneInfo:
        """The zone of dates and "today"."""
        return self.desk.zone

    @property
    def files(self) -> FileStore:
        """Where uploads are kept."""
        return self.desk.files

    async def handle(
        self, user: UserRef, event: Inbound, *, update_key: UpdateKey | None = None
    ) -> Outcome:
        """Handle one event; everything it changed is committed when this returns.

        A write that finds the draft changed since it was read (another
        process wrote it first, see ``Application``) is rolled back whole,
        update marker included, and the event is handled again on the new
        state, as if it had arrived a moment later.
        """
        user, event = clean_inbound(user, event)
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                if isinstance(event, FileIn):
                    opener = lambda u=user: self._turn(u)  # noqa: E731
                    return await uploads.receive(opener, event, update_key, _redelivered)
                return await self._handle_once(user, event, update_key)
            except StaleDataError:
                if attempt == WRITE_ATTEMPTS:
                    raise
                log.info("draft changed under an event (attempt %d); handling it again", attempt)
            except DBAPIError as exc:
                if attempt == WRITE_ATTEMPTS or not _retryable(exc):
                    raise
                log.info(
                    "event rolled back by the database (attempt %d); handling it again", attempt
                )
        raise AssertionError("unreachable")

    async def _handle_once(
        self, user: UserRef, event: Inbound, update_key: UpdateKey | None
    ) -> Outcome:
        async with self._turn(user) as turn:
            if update_key is not None and not await repo.mark_update(
                turn.session, source=update_key[0], update_id=update_key[1], now=turn.now
            ):
                return await _redelivered(turn)
            outcome = await _dispatch(turn, event)
            outcome.replies[:0] = turn.replies(turn.notices, None)
            return outcome

    # Transactions are written ``async with self.sessions() as session, session.begin()``:
    # the commit then runs in the caller's task and gives the connection back at
    # once.  (``sessions.begin()`` finishes in a task of its own, holding the only
    # SQLite connection for a few loop iterations while other users queue for it.)
    @asynccontextmanager
    async def _turn(self, user: UserRef) -> AsyncIterator[Turn]:
        """A transaction, the user (created on first contact) and their active draft,
        read in one query under the user's lock."""
        async with self.sessions() as session, session.begin():
            now = self.clock()
            row, active = await repo.load_user(
                session, channel=user.channel, external_id=user.external_id
            )
            if row is None:
                row = await repo.get_or_create_user(
                    session,
                    channel=user.channel,
                    external_id=user.external_id,
                    display_name=user.display_name,
                    now=now,
                    locale=user.language,  # kept for the day texts follow each person
                )
            else:
                repo.rename_user(row, display_name=user.display_name, now=now)
            yield Turn(desk=self.desk, session=session, user=row, now=now, loaded=active)


BUTTON_FLOWS = (
    (review.ACTIONS, review.button),
    (progress.ACTIONS, progress.button),
    (placing.ACTIONS, placing.button),
    (staff.ACTIONS, staff.button),
    (deadlines.ACTIONS, deadlines.button),
    (announcing.ACTIONS, announcing.button),
    (forms.ACTIONS, forms.button),
    (exporting.ACTIONS, exporting.button),
)
"""Which flow a button belongs to; every other button acts on the applicant's draft."""


RETRYABLE_STATES = frozenset({"40P01", "40001"})
"""PostgreSQL's deadlock and serialization failures: the transaction was rolled back
whole, and handling the event again on the new state is always right."""


def _retryable(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in RETRYABLE_STATES


async def _dispatch(turn: Turn, event: Inbound) -> Outcome:
    if isinstance(event, ButtonIn):
        for actions, flow in BUTTON_FLOWS:
            if event.action in actions:
                return await flow(turn, event)
        _drop_pending(turn)
        return await applicant.button(turn, event)
    if isinstance(event, CommandIn):
        _drop_pending(turn)
        return await menus.command(turn, event.name, event.args)
    if isinstance(event, UnsupportedIn):
        return await menus.unsupported(turn, event.kind)
    if isinstance(event, TextIn):
        for side in (review.text, placing.text, announcing.text):
            out = await side(turn, event.text)
            if out is not None:
                return out
        return await applicant.text(turn, event.text)
    raise TypeError(f"unexpected event {event!r}")


def _drop_pending(turn: Turn) -> None:
    """An opinion or a search half written is dropped when the person turns elsewhere
    (a command, their own form), so later text is never taken for it."""
    if turn.user.pending:
        turn.user.pending = {}


async def _redelivered(turn: Turn) -> Outcome:
    """An update handled before: change nothing, but show where the user is,
    since the first reply may have been lost with a crash after the commit."""
    app = await turn.active()
    return Outcome(replies=turn.current(app) if app else [])
