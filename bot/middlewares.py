"""Dispatcher and request middlewares.

aiogram may process several updates at once (webhook requests arrive in
parallel, polling can run updates as tasks).  Answers of one user must be
applied in the order they were typed, so updates are serialised per user
while different users still proceed concurrently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import TelegramObject, Update, User

from bot.delivery import CHANNEL, Converses
from dialogs.ui import UpdateKey

logger = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


@dataclass
class _UserLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    holders: int = 0  # running or waiting updates of this user


def _log_orphan_failure(work: asyncio.Future[Any]) -> None:
    if not work.cancelled() and work.exception() is not None:
        logger.error("update failed while shutting down", exc_info=work.exception())


class SerialPerUser(BaseMiddleware):
    """Outer middleware on ``dispatcher.update``: one update per user at a time.

    Locks live only while a user has updates in flight, so the table does not
    grow with the number of users ever seen.  Each update runs in its own
    shielded task, so stopping the dispatcher (which cancels polling) does not
    cut an answer in half; :meth:`drain` waits for those tasks on shutdown.
    """

    def __init__(self) -> None:
        self._locks: dict[int, _UserLock] = {}
        self._running: set[asyncio.Future[Any]] = set()

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        work = asyncio.ensure_future(self._serialised(user, handler, event, data))
        self._running.add(work)
        work.add_done_callback(self._running.discard)
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            # Nobody will await the result now, so a failure must be logged here.
            work.add_done_callback(_log_orphan_failure)
            raise

    async def _serialised(
        self, user: User | None, handler: Handler, event: TelegramObject, data: dict[str, Any]
    ) -> Any:
        if user is None:
            return await handler(event, data)
        entry = self._locks.setdefault(user.id, _UserLock())
        entry.holders += 1
        try:
            async with entry.lock:
                return await handler(event, data)
        finally:
            entry.holders -= 1
            if entry.holders == 0:
                del self._locks[user.id]

    async def drain(self, grace: float = 30) -> None:
        """Wait for updates still being handled, e.g. after polling was stopped."""
        if not self._running:
            return
        logger.info("waiting for %d update(s) still being handled", len(self._running))
        _done, pending = await asyncio.wait(set(self._running), timeout=grace)
        if pending:
            logger.warning("%d update(s) still running after %ss", len(pending), grace)


class ConversationContext(BaseMiddleware):
    """Outer middleware on ``dispatcher.update``: gives handlers the engine and the update key.

    The key lets the engine recognise an update Telegram delivers again
    (after a crash before the offset was confirmed) and handle it once.  It is
    ``("telegram:<bot id>", "<update id>")``: event ids are text for every
    channel, Telegram's numbers written in decimal digits.
    """

    def __init__(self, conversation: Converses) -> None:
        self._conversation = conversation

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        data["conversation"] = self._conversation
        bot: Bot | None = data.get("bot")
        # Update ids are numbered per bot: two bots sharing a database must not collide.
        source = f"{CHANNEL}:{bot.id}" if bot is not None else CHANNEL
        key: UpdateKey | None = (
            (source, str(event.update_id)) if isinstance(event, Update) else None
        )
        data["update_key"] = key
        return await handler(event, data)


class RetryAfterOnce(BaseRequestMiddleware):
    """Session middleware: on 429 wait ``retry_after`` seconds and try the call once more.

    Flood limits are short and a user waiting a second beats a lost reply.
    Polling has its own back-off, so ``getUpdates`` is left alone.
    """

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        try:
            return await make_request(bot, method)
        except TelegramRetryAfter as exc:
            if isinstance(method, GetUpdates):
                raise
            logger.warning(
                "%s: flood limit, retrying in %ss", method.__api_method__, exc.retry_after
            )
            await asyncio.sleep(exc.retry_after)
            return await make_request(bot, method)


class PatientPolling(BaseRequestMiddleware):
    """Session middleware: pause when ``getUpdates`` returns nothing at once.

    Telegram holds an empty long poll open for its timeout; a server that
    answers immediately instead (some emulators do) would make the polling
    loop spin at full speed.  Real long polls are not slowed down.
    """

    def __init__(self, pause: float = 0.5) -> None:
        self.pause = pause

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        response = await make_request(bot, method)
        # aiogram types this as a Response, but the session hands back the bare result.
        updates = getattr(response, "result", response)
        empty_poll = isinstance(method, GetUpdates) and method.timeout and not updates
        if empty_poll and loop.time() - started < self.pause:
            await asyncio.sleep(self.pause)
        return response
