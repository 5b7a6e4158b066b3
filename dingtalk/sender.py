"""The DingTalk sender: delivers the outbox's rows of channel ``dingtalk``.

It keeps the rules of the Telegram sender (``bot/sender.py``) that matter
here, in a smaller loop:

* **Never twice.**  A row is marked *sending* in a commit before its call; after
  a crash such a row is given up and logged, not sent again (a duplicate is
  seen by everyone, a lost notice is still in ``/status`` and ``/inbox``).
* **Pace.**  DingTalk limits an app's calls of one API a second (commonly
  20) and what one person receives (``flowControlledStaffIdList``): the
  sender keeps ``rate`` messages a second (default 15) and holds one row of
  a person per claim.
* **Errors.**  A rate limit (429, a QPS code, the person flow-controlled)
  pauses the sender and puts the row back for later; a person DingTalk does
  not know (``invalidStaffIdList``) gives the row up, marks the identity
  unreachable (until a message reaches them again) and tells the
  administrators of their organisations, through the outbox; network errors and 5xx
  retry with doubling backoff up to ``max_attempts``; any other refusal gives
  the row up at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialogs import notices
from dialogs.i18n import Locale
from dingtalk.delivery import Replier
from dingtalk.inbound import CHANNEL
from dingtalk.openapi import ApiError, RateLimited, Refused, Transient, Unreachable
from storage import outbox
from storage.models import OutboxMessage

log = logging.getLogger(__name__)


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Pacing:
    rate: float = 15.0
    lease: float = 60.0
    idle: float = 0.5
    """Seconds between two looks at an empty queue."""
    max_attempts: int = 6
    backoff: float = 2.0
    backoff_cap: float = 600.0


class Sender:
    """Takes due rows, sends each once, records what happened."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        replier: Replier,
        *,
        loc: Locale,
        pacing: Pacing = Pacing(),
        clock: Callable[[], dt.datetime] = system_clock,
    ) -> None:
        self.sessions = sessions
        self.replier = replier
        self.loc = loc
        self.pacing = pacing
        self.clock = clock
        self.token = secrets.token_hex(8)
        self._pause_until = 0.0

    async def run(self) -> None:
        """Send until cancelled; an error of the database is logged and waited out."""
        while True:
            try:
                sent = await self.step()
            except Exception:
                log.exception("the DingTalk sender failed a step; trying again")
                sent = 0
            if not sent:
                await asyncio.sleep(self.pacing.idle)

    async def step(self) -> int:
        """One claim, sent; how many rows were taken."""
        await self._paused()
        now = self.clock()
        lease = dt.timedelta(seconds=self.pacing.lease)
        async with self.sessions() as session, session.begin():
            for row in await outbox.give_up_interrupted(session, channel=CHANNEL, now=now):
                log.warning("outbox row %s given up: interrupted while sending", row.id)
            for row in await outbox.give_up_expired(session, channel=CHANNEL, now=now):
                log.info("outbox row %s given up: expired", row.id)
            limit = max(1, int(self.pacing.rate))
            rows = await outbox.claim_due(
                session, channel=CHANNEL, now=now, limit=limit, lease=lease,
                token=self.token, per_chat=1,
            )  # fmt: skip
        for row in rows:
            await self._paused()  # a rate limit met by the row before holds the rest
            await self._deliver(row, lease)
            await asyncio.sleep(1 / self.pacing.rate)
        return len(rows)

    async def _paused(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() < self._pause_until:
            await asyncio.sleep(self._pause_until - loop.time())

    async def _deliver(self, row: OutboxMessage, lease: dt.timedelta) -> None:
        assert row.id is not None
        async with self.sessions() as session, session.begin():
            held = await outbox.mark_sending(
                session, ids=[row.id], token=self.token, now=self.clock(), lease=lease
            )
        if row.id not in held:
            return
        try:
            reply = notices.reply_of(row)
        except ValueError as exc:  # a button this version does not know: never a dead one
            await self._failed(row, Refused(str(exc)))
            return
        parts = list(self.replier.parts(reply))
        done = min(row.parts_sent, len(parts) - 1) if parts else 0
        try:
            for part in parts[done:]:  # a retry sends only what did not go yet
                await self.replier.send_one(row.external_id, part)
                done += 1
        except ApiError as exc:
            await self._failed(row, exc, parts_sent=done)
            return
        async with self.sessions() as session, session.begin():
            await outbox.mark_sent(session, ids=[row.id], now=self.clock(), parts=done)
            await outbox.mark_reachable(session, channel=CHANNEL, external_ids=[row.external_id])

    async def _failed(self, row: OutboxMessage, exc: ApiError, *, parts_sent: int = 0) -> None:
        assert row.id is not None
        now = self.clock()
        retry_at: dt.datetime | None = None
        if isinstance(exc, RateLimited):
            self._pause_until = asyncio.get_running_loop().time() + exc.retry_after
            retry_at = now + dt.timedelta(seconds=exc.retry_after)
        elif isinstance(exc, Transient) and row.attempts < self.pacing.max_attempts:
            wait = self.pacing.backoff * 2 ** max(row.attempts, 0)
            retry_at = now + dt.timedelta(seconds=min(wait, self.pacing.backoff_cap))
        log.warning("outbox row %s %s: %s", row.id, "retried" if retry_at else "given up", exc)
        async with self.sessions() as session, session.begin():
            await outbox.mark_failed(
                session, message_id=row.id, token=self.token, now=now,
                error=str(exc), retry_at=retry_at, parts_sent=max(parts_sent, row.parts_sent),
            )  # fmt: skip
            if isinstance(exc, Unreachable):
                identity = await outbox.mark_unreachable(
                    session, channel=CHANNEL, external_id=row.external_id, now=now
                )
                if identity is not None:  # once per episode, however many rows bounce
                    await notices.tell_admins_unreachable(
                        session, identity=identity, now=now, loc=self.loc
                    )
