"""Talking to the engine and sending its replies back.

Every handler does the same three things: describe the Telegram user as a
:class:`~dialogs.ui.UserRef`, hand one event to the conversation, send the
replies in order.  Keeping that here keeps the routers declarative.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any, Protocol

from aiogram import Bot
from aiogram.exceptions import AiogramError, TelegramForbiddenError
from aiogram.types import Message, User

from bot.keyboards import reply_markup
from dialogs.ui import Inbound, Outcome, Reply, UserRef

logger = logging.getLogger(__name__)

CHANNEL = "telegram"


class Converses(Protocol):
    """What the transport needs from the dialog engine (``dialogs.service.Conversation``)."""

    async def handle(
        self, user: UserRef, event: Inbound, *, update_key: tuple[str, int] | None = None
    ) -> Outcome: ...


def user_ref(user: User) -> UserRef:
    """The channel identity of a Telegram user; the numeric id is stable, names are not."""
    return UserRef(
        channel=CHANNEL,
        external_id=str(user.id),
        display_name=user.full_name,
        language=user.language_code,
    )


async def ask(
    conversation: Converses,
    user: User,
    event: Inbound,
    update_key: tuple[str, int] | None,
) -> Outcome:
    """Hand one event to the engine; it has committed everything when this returns."""
    return await conversation.handle(user_ref(user), event, update_key=update_key)


async def answer_message(
    message: Message,
    event: Inbound,
    bot: Bot,
    conversation: Converses,
    update_key: tuple[str, int] | None,
) -> None:
    """Hand the event a message carries to the engine and reply in the same chat."""
    if message.from_user is None:
        return
    outcome = await ask(conversation, message.from_user, event, update_key)
    await send_replies(bot, message.chat.id, outcome.replies)


async def send_replies(bot: Bot, chat_id: int, replies: list[Reply]) -> None:
    """Send replies in order as plain text (user answers are echoed, never parsed as HTML).

    A user who blocked the bot cannot be reached; their answer is already
    saved, so that is logged and the rest of the replies is dropped.
    """
    for reply in replies:
        try:
            await bot.send_message(
                chat_id, reply.text, parse_mode=None, reply_markup=reply_markup(reply)
            )
        except TelegramForbiddenError as exc:
            logger.info("chat %s cannot be reached (%s); replies dropped", chat_id, exc.message)
            return


async def quietly(call: Awaitable[Any], what: str) -> None:
    """Await a cosmetic call (answering a press, removing old buttons) and ignore its failure.

    Such calls fail for harmless reasons: the query is too old, the
    keyboard was already removed, the message was deleted.
    """
    try:
        await call
    except AiogramError as exc:  # API errors, and answers a lenient server garbled
        logger.debug("%s failed: %s", what, exc)
