"""Assembling and running the Telegram bot.

Polling handles updates one after another (``handle_as_tasks=False``): aiogram
then confirms an update to Telegram only after its handler finished, i.e.
after the engine committed the answer.  A crash (even SIGKILL) therefore never
loses an answer: Telegram delivers the unconfirmed update again and the
engine recognises it by its update key.  Running updates as tasks would
confirm them before they are handled.  The traffic of a declaration bot is
small, so the lost parallelism does not matter; the per-user lock still
orders updates where they do run in parallel (webhook requests).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import signal
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager, suppress
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import AiogramError
from aiogram.methods import TelegramMethod
from aiogram.types import BotCommand, Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from pydantic import ValidationError

from bot.compat import tolerant_loads
from bot.config import TelegramConfig
from bot.delivery import Converses
from bot.middlewares import ConversationContext, PatientPolling, RetryAfterOnce, SerialPerUser
from bot.routers import get_routers
from bot.routers.commands import COMMANDS
from bot.sender import Clock, OutboxSender, SenderConfig, system_clock
from bot.texts import texts
from dialogs.i18n import Locale, available_languages
from storage.db import SessionFactory

logger = logging.getLogger(__name__)

_SERIAL_KEY = "serial_per_user"


def create_bot(config: TelegramConfig) -> Bot:
    """A bot talking to ``config.api_url`` (Telegram, a local Bot API server, a fake)."""
    if not config.token:
        raise ValueError("the bot token is not set")
    session = AiohttpSession(
        api=TelegramAPIServer.from_base(config.api_url), json_loads=tolerant_loads
    )
    session.middleware(RetryAfterOnce())
    session.middleware(PatientPolling())
    # No default parse mode: texts are plain and may quote what users typed.
    return Bot(
        token=config.token,
        session=session,
        default=DefaultBotProperties(parse_mode=None),
    )


def create_sender(
    config: TelegramConfig, sessions: SessionFactory, *, clock: Clock = system_clock
) -> OutboxSender:
    """The outbox's sender, with a bot of its own: no flood retry in the session (the
    sender waits ``retry_after`` itself, holding up nothing else) and its own
    connections, so a slow send never delays polling."""
    session = AiohttpSession(
        api=TelegramAPIServer.from_base(config.api_url), json_loads=tolerant_loads
    )
    bot = Bot(token=config.token, session=session, default=DefaultBotProperties(parse_mode=None))
    settings = SenderConfig(rate=config.send_rate, lease=config.send_lease)
    return OutboxSender(sessions, bot, config=settings, texts=texts(config.locale), clock=clock)


@asynccontextmanager
async def sending(
    config: TelegramConfig, sessions: SessionFactory | None, *, clock: Clock = system_clock
) -> AsyncIterator[OutboxSender | None]:
    """The outbox's sender running in the background for the duration (none without
    ``sessions``); on exit it finishes what is in flight and gives back the rest."""
    if sessions is None:
        yield None
        return
    sender = create_sender(config, sessions, clock=clock)
    sender.start()
    try:
        yield sender
    finally:
        await sender.stop()
        if isinstance(sender.bot, Bot):
            await sender.bot.session.close()


def create_dispatcher(config: TelegramConfig, conversation: Converses) -> Dispatcher:
    """A dispatcher with the routers and middlewares, serving ``conversation``; the
    bot's own texts (errors, notices) in ``config.locale``.

    FSM is disabled: all dialog state lives in the database, owned by the engine.
    """
    serial = SerialPerUser()
    dispatcher = Dispatcher(disable_fsm=True, texts=texts(config.locale))
    dispatcher[_SERIAL_KEY] = serial
    dispatcher.update.outer_middleware(serial)
    dispatcher.update.outer_middleware(ConversationContext(conversation))
    dispatcher.include_routers(*get_routers())
    return dispatcher


async def drain(dispatcher: Dispatcher, grace: float = 30) -> None:
    """Let updates still being handled finish (after polling stopped or the server closed)."""
    serial = dispatcher.get(_SERIAL_KEY)
    if isinstance(serial, SerialPerUser):
        await serial.drain(grace)


def bot_commands(locale: Locale) -> list[BotCommand]:
    """The command menu in one language."""
    return [
        BotCommand(command=name, description=locale.t(f"bot.commands.{name}")) for name in COMMANDS
    ]


async def set_commands(bot: Bot, config: TelegramConfig) -> None:
    """The command menu: the configured language by default, each other language by its code."""
    await bot.set_my_commands(bot_commands(texts(config.locale)))
    for lang in available_languages():
        # Telegram uses two-letter codes: zh-CN serves every "zh" client.
        await bot.set_my_commands(bot_commands(texts(lang)), language_code=lang.split("-")[0])


async def poll(
    dispatcher: Dispatcher, bot: Bot, config: TelegramConfig, *, handle_signals: bool = True
) -> None:
    """Long-poll until stopped (a signal or ``dispatcher.stop_polling()``), then let the
    update in hand finish.  Sequential on purpose, see the module docstring.

    The bot session stays open: its owner closes it.
    """
    await dispatcher.start_polling(
        bot,
        polling_timeout=config.polling_timeout,
        handle_as_tasks=False,
        allowed_updates=dispatcher.resolve_used_update_types(),
        handle_signals=handle_signals,
        close_bot_session=False,
    )
    await drain(dispatcher)


async def run_polling(
    config: TelegramConfig, conversation: Converses, *, outbox: SessionFactory | None = None
) -> None:
    """Serve ``conversation`` by long polling until SIGINT/SIGTERM; see the module
    docstring for why sequential.  With ``outbox`` (the database's sessions) the
    outbox's sender runs alongside.  The conversation's owner disposes of it."""
    bot = create_bot(config)
    try:
        dispatcher = create_dispatcher(config, conversation)
        await optional(bot.delete_webhook(drop_pending_updates=False), "deleting the webhook")
        await optional(set_commands(bot, config), "setting the command menu")
        async with sending(config, outbox):
            await poll(dispatcher, bot, config)
    finally:
        await bot.session.close()


async def optional(call: Awaitable[Any], what: str) -> None:
    """Run a start-up call the bot can live without (a server may not offer it)."""
    try:
        await call
    except AiogramError as exc:
        logger.warning("%s failed, continuing: %s", what, exc)


SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookHandler(SimpleRequestHandler):
    """aiogram's handler, made robust to what anyone on the internet may post.

    A wrong secret gets 401 and a body that is not an update gets 400, each
    logged in one line; aiogram's own handler answers a non-ASCII secret or
    a malformed body with 500 and a traceback, so a stranger could fill the
    log.  The update is handled before the response, as with
    ``handle_in_background=False``.
    """

    def __init__(self, dispatcher: Dispatcher, bot: Bot, *, secret_token: str) -> None:
        super().__init__(
            dispatcher=dispatcher, bot=bot, handle_in_background=False, secret_token=secret_token
        )
        self._secret = secret_token.encode("utf-8")

    def verify_secret(self, telegram_secret_token: str, bot: Bot) -> bool:
        """Compare as bytes: ``secrets.compare_digest`` raises on non-ASCII text.
        aiohttp decodes headers as UTF-8 with surrogate escapes, undone here."""
        try:
            given = telegram_secret_token.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return False
        return hmac.compare_digest(given, self._secret)

    async def _read_update(self, bot: Bot, request: web.Request) -> Update:
        """The request's update; ``ValueError`` (or ``RecursionError``) when it is none."""
        data = bot.session.json_loads(await request.text())
        if not isinstance(data, dict):
            raise ValueError(f"a JSON {type(data).__name__}, not an object")
        return Update.model_validate(data, context={"bot": bot})

    async def handle(self, request: web.Request) -> web.Response:
        bot = await self.resolve_bot(request)
        if not self.verify_secret(request.headers.get(SECRET_HEADER, ""), bot):
            logger.warning("webhook: request from %s refused: wrong secret", request.remote)
            return web.Response(text="Unauthorized", status=401)
        try:
            update = await self._read_update(bot, request)
        except ValidationError as exc:  # before ValueError, its base: no input values logged
            logger.warning(
                "webhook: request from %s refused: not an update (validation errors: %d)",
                request.remote,
                exc.error_count(),
            )
            return web.Response(text="Bad Request", status=400)
        except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, too deep
            logger.warning(
                "webhook: request from %s refused: malformed body (%s)",
                request.remote,
                type(exc).__name__,
            )
            return web.Response(text="Bad Request", status=400)
        result: TelegramMethod[Any] | None = await self.dispatcher.feed_webhook_update(
            bot, update, **self.data
        )
        return web.Response(body=self._build_response_writer(bot=bot, result=result))

    __call__ = handle


def create_webhook_app(config: TelegramConfig, bot: Bot, dispatcher: Dispatcher) -> web.Application:
    """An aiohttp app receiving updates at ``webhook_path``.

    A secret is required: without it anyone who finds the URL could post
    updates in any user's name.  Updates are handled before the response
    (not in background), so Telegram retries an update whose handling failed.
    Bad requests get 401 (secret) or 400 (body) and one log line, see
    :class:`WebhookHandler`.
    """
    app = web.Application()
    WebhookHandler(dispatcher, bot, secret_token=config.required_secret()).register(
        app, path=config.webhook_path
    )
    setup_application(app, dispatcher, bot=bot)
    return app


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        with suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in signals:
            with suppress(NotImplementedError):
                loop.remove_signal_handler(sig)


async def run_webhook(
    config: TelegramConfig, conversation: Converses, *, outbox: SessionFactory | None = None
) -> None:
    """Serve ``conversation`` on a webhook at ``webhook_host:webhook_port`` until
    SIGINT/SIGTERM; with ``outbox`` the outbox's sender runs alongside.  The
    conversation's owner disposes of it.

    The webhook stays registered on exit, so Telegram keeps updates queued
    while the bot is down.
    """
    url = config.webhook_target()
    secret = config.required_secret()
    bot = create_bot(config)
    try:
        dispatcher = create_dispatcher(config, conversation)
        runner = web.AppRunner(create_webhook_app(config, bot, dispatcher))
        await runner.setup()
        async with sending(config, outbox):
            try:
                await web.TCPSite(runner, config.webhook_host, config.webhook_port).start()
                await optional(set_commands(bot, config), "setting the command menu")
                await bot.set_webhook(
                    url, secret_token=secret, allowed_updates=dispatcher.resolve_used_update_types()
                )
                logger.info(
                    "webhook %s served on %s:%s", url, config.webhook_host, config.webhook_port
                )
                await _until_stopped()
            finally:
                await runner.cleanup()
                await drain(dispatcher)
    finally:
        await bot.session.close()
