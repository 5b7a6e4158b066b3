"""Assemble the product from settings: database, file store, programs, dialogs,
and the transport serving them.

This is the one place that wires things together.  Everything is built here,
when asked, and passed on explicitly: no module builds a connection or
registers a handler at import time, and the transport (``bot/``) is handed a
conversation and a config of its own, never these settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import signal
import stat
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import TelegramConfig
from dialogs.loader import BUILTIN_DIR, ProgramRegistry, load_registry
from dialogs.reminding import plan_and_write
from dialogs.service import Clock, Conversation, system_clock
from dingtalk.config import DingTalkConfig
from documents import forms
from reminders.plan import Window
from reminders.tick import Ticker
from storage import repo
from storage.db import PRIVATE_DIR_MODE, create_engine, session_factory
from storage.files import FileStore
from storage.migrate import upgrade_to_head
from studiobot.settings import Settings

log = logging.getLogger(__name__)


def load_programs(settings: Settings, *, quiet: bool = False) -> ProgramRegistry:
    """The built-in programs plus those of ``STUDIOBOT_PROGRAMS_DIR``, all checked.

    A file that does not load is said in one line (its file and first problem;
    ``studiobot programs check`` gives them all) and left out; the others serve.
    ``quiet`` for a caller that shows the broken files itself (``programs list``).
    """
    dirs = [BUILTIN_DIR]
    if settings.programs_dir is not None:
        dirs.append(settings.programs_dir)
    registry = load_registry(*dirs)
    if not quiet:
        for broken in registry.broken:
            more = len(broken.problems) - 1
            log.error(
                "program definition left out: %s (%d more; see studiobot programs check)",
                broken.first,
                more,
            )
    return registry


def private_dir(path: Path) -> None:
    """Make ``path`` (and missing parents) a folder only this user can enter; an
    existing one open to others is tightened (best effort: it may not be ours)."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        if stat.S_IMODE(path.stat().st_mode) & ~PRIVATE_DIR_MODE:
            path.chmod(PRIVATE_DIR_MODE)


async def build_conversation(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    bot_username: str | None = None,
    registry: ProgramRegistry | None = None,
) -> tuple[Conversation, AsyncEngine]:
    """A ready conversation service over a database brought to the newest schema.

    The data folder and its ``files/`` hold applicants' documents: owner-only (0700).
    ``bot_username`` (else ``STUDIOBOT_BOT_USERNAME``) makes invitation links whole.
    ``registry``: the programs to serve instead of the configured ones (one file tried).
    """
    registry = registry if registry is not None else load_programs(settings)
    private_dir(settings.data_dir)
    private_dir(settings.files_dir)
    await upgrade_to_head(settings.database_url)
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        # Markers of handled updates are needed only while Telegram may redeliver.
        await repo.prune_updates(session, before=clock() - repo.UPDATE_MEMORY)
    files = FileStore(settings.files_dir)
    conversation = Conversation(
        registry=registry,
        sessions=sessions,
        files=files,
        forms=forms.maker(registry, files, settings.zone),
        clock=clock,
        zone=settings.zone,
        locale=settings.locale,
        bot_username=bot_username or settings.bot_username,
    )
    return conversation, engine


async def serve_telegram(
    settings: Settings, config: TelegramConfig, *, webhook: bool = False
) -> None:
    """Serve Telegram alone (long polling, or a webhook); see :func:`serve`."""
    await serve(settings, telegram=config, webhook=webhook)


async def serve(
    settings: Settings,
    *,
    telegram: TelegramConfig | None = None,
    dingtalk: DingTalkConfig | None = None,
    webhook: bool = False,
) -> None:
    """Build the conversation and serve it on every channel given, in this one
    process, until SIGINT/SIGTERM; the database is released afterwards.

    Every channel shares the conversation, the reminder tick and the database;
    each runs the outbox's sender of its own channel.
    """
    username = settings.bot_username
    if username is None and telegram is not None:
        username = await _asked_username(telegram)
    conversation, engine = await build_conversation(settings, bot_username=username)
    # Everything loaded so far (libraries, programs, locales) lives as long as the
    # process: kept out of the collector's full passes, which otherwise walk it all
    # and pause an answer now and then by tens of milliseconds.
    gc.collect()
    gc.freeze()
    ticker = reminder_ticker(settings, conversation)
    ticker.start()
    others: list[asyncio.Task[None]] = []
    try:
        if dingtalk is not None:
            from dingtalk.app import run_stream

            stream = run_stream(dingtalk, conversation, outbox=conversation.sessions)
            others.append(asyncio.create_task(stream, name="dingtalk"))
            others[-1].add_done_callback(_log_end)
        if telegram is not None:
            await _serve_telegram(telegram, conversation, webhook=webhook)
        else:
            await _until_signalled()
    finally:
        for task in others:
            task.cancel()
        for task in others:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        ticker.stop()
        await engine.dispose()


async def _serve_telegram(
    config: TelegramConfig, conversation: Conversation, *, webhook: bool
) -> None:
    # Imported when serving: the other commands do without aiogram, which is slow to import.
    from bot.app import run_polling, run_webhook

    # The outbox's sender runs beside either: every later message leaves through it.
    if webhook:
        await run_webhook(config, conversation, outbox=conversation.sessions)
    else:
        await run_polling(config, conversation, outbox=conversation.sessions)


async def _until_signalled() -> None:
    """Wait for SIGINT or SIGTERM (what aiogram's polling does when Telegram serves)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)


def _log_end(task: asyncio.Task[None]) -> None:
    """A channel that stops by itself is a fault: said, the others serve on."""
    if not task.cancelled() and task.exception() is not None:
        log.error("the %s channel stopped: %s", task.get_name(), task.exception())


def window(settings: Settings) -> Window:
    """When reminders may go out, from the settings."""
    return Window(zone=settings.zone, hour=settings.remind_hour, quiet_from=settings.quiet_from)


def reminder_ticker(settings: Settings, conversation: Conversation) -> Ticker:
    """The in-memory tick planning reminders into the outbox (every process runs one)."""

    async def tick(now: dt.datetime) -> int:
        return await plan_and_write(
            conversation.sessions,
            registry=conversation.registry,
            loc=conversation.loc,
            window=window(settings),
            now=now,
        )

    return Ticker(tick, every=settings.remind_every, clock=conversation.clock)


async def _asked_username(config: TelegramConfig) -> str | None:
    """The bot's username from the Bot API, for the links administrators make with
    ``/invite``; None (they then get the bare ``/start`` command) if it cannot be had."""
    from aiogram.exceptions import AiogramError

    from bot.identity import fetch_username

    try:
        return await fetch_username(config)
    except (AiogramError, ValueError, OSError, TimeoutError) as exc:
        log.warning("the bot's username is unknown (%s); /invite gives bare tokens", exc)
        return None
