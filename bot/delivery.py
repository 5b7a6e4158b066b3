"""Talking to the engine and sending its replies back.

Every handler does the same three things: describe the Telegram user as a
:class:`~dialogs.ui.UserRef`, hand one event to the conversation, send the
replies in order.  Keeping that here keeps the routers declarative.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

from aiogram import Bot
from aiogram.exceptions import AiogramError, TelegramBadRequest, TelegramForbiddenError
from aiogram.types import FSInputFile, InputFile, Message, User

from bot.keyboards import reply_markup
from dialogs.i18n import Locale
from dialogs.textfit import fit_replies, utf16_length
from dialogs.ui import Inbound, Media, Outcome, Reply, UpdateKey, UserRef

logger = logging.getLogger(__name__)

CHANNEL = "telegram"


class Converses(Protocol):
    """What the transport needs from the dialog engine (``dialogs.service.Conversation``)."""

    async def handle(
        self, user: UserRef, event: Inbound, *, update_key: UpdateKey | None = None
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
    update_key: UpdateKey | None,
) -> Outcome:
    """Hand one event to the engine; it has committed everything when this returns."""
    return await conversation.handle(user_ref(user), event, update_key=update_key)


async def answer_message(
    message: Message,
    event: Inbound,
    bot: Bot,
    conversation: Converses,
    update_key: UpdateKey | None,
    texts: Locale,
) -> None:
    """Hand the event a message carries to the engine and reply in the same chat."""
    if message.from_user is None:
        return
    outcome = await ask(conversation, message.from_user, event, update_key)
    await send_replies(bot, message.chat.id, outcome.replies, texts)


TEXT_LIMIT = 4096
"""Telegram's longest message, in UTF-16 code units."""


class _Unreachable(Exception):
    """The chat cannot take any message now (blocked, deleted, never started)."""


@dataclass(frozen=True)
class Pressed:
    """The message whose button was pressed: a reply marked ``replaces`` is edited into it."""

    message_id: int
    text: str | None


async def send_replies(
    bot: Bot,
    chat_id: int,
    replies: list[Reply],
    texts: Locale,
    *,
    pressed: Pressed | None = None,
) -> Reply | None:
    """Send replies in order as plain text (user answers are echoed, never parsed as HTML).

    A reply longer than Telegram allows goes as several messages, the buttons
    with the last.  Each reply's failure is handled on its own and logged in
    one line: the answer is already saved, so a refused reply is replaced by
    a short notice that keeps the way on (the buttons, or the commands), and
    the replies after it are still sent.  Only a chat that cannot be reached
    at all (the user blocked the bot) ends the sending.

    A reply that ``replaces`` the ``pressed`` message (a tick of a multiple
    choice) edits it in place rather than stacking a copy of the question under
    it; when the edit fails (the message is too old, or gone) it is sent.
    Returns the reply the pressed message now shows, if it was edited.
    """
    edited: Reply | None = None
    for reply in fit_replies(replies, TEXT_LIMIT, utf16_length):
        try:
            into = pressed if edited is None and reply.replaces and not reply.media else None
            if into is not None and await _edit(bot, chat_id, into, reply):
                edited = reply
                continue
            for media in reply.media:
                await _send_media(bot, chat_id, media)
            await _send_or_replace(bot, chat_id, reply, texts)
        except _Unreachable:
            break
    return edited


_NOT_MODIFIED = "message is not modified"


async def _edit(bot: Bot, chat_id: int, pressed: Pressed, reply: Reply) -> bool:
    """Put ``reply`` in the place of the pressed message: its buttons alone when the
    text is the same (a tick changes only the buttons), else text and buttons."""
    markup = reply_markup(reply)
    try:
        if reply.text == pressed.text:
            await bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=pressed.message_id, reply_markup=markup
            )
        else:
            await bot.edit_message_text(
                text=reply.text,
                chat_id=chat_id,
                message_id=pressed.message_id,
                parse_mode=None,
                reply_markup=markup,
            )
    except TelegramForbiddenError:
        raise _Unreachable from None
    except TelegramBadRequest as exc:
        if _NOT_MODIFIED in exc.message.lower():
            return True  # the message already shows this screen (a double tap)
        logger.info("editing message %s failed (%s); sent anew", pressed.message_id, exc.message)
        return False
    except AiogramError as exc:
        logger.info("editing message %s failed (%s); sent anew", pressed.message_id, exc)
        return False
    return True


async def _send_media(bot: Bot, chat_id: int, media: Media) -> None:
    """A photo or file as itself: the stored copy, else the file id Telegram gave it.
    A failure is logged and the text still follows (it names every file)."""
    sources: list[InputFile | str] = []
    if media.path:
        sources.append(FSInputFile(media.path, filename=media.name or None))
    if media.ref:
        sources.append(media.ref)
    send = bot.send_photo if media.kind == "photo" else bot.send_document
    for source in sources:
        try:
            await send(chat_id, source)
            return
        except TelegramForbiddenError:
            raise _Unreachable from None
        except (AiogramError, OSError) as exc:  # refused, or the stored copy is gone
            logger.warning("a file for chat %s was not sent: %s", chat_id, exc)


async def _send_or_replace(bot: Bot, chat_id: int, reply: Reply, texts: Locale) -> None:
    try:
        await _send(bot, chat_id, reply.text, reply)
        return
    except TelegramForbiddenError as exc:
        logger.info("chat %s cannot be reached (%s); replies dropped", chat_id, exc.message)
        raise _Unreachable from None
    except TelegramBadRequest as exc:
        if "chat not found" in exc.message.lower():
            logger.info("chat %s not found; replies dropped", chat_id)
            raise _Unreachable from None
        logger.warning("a reply to chat %s was refused: %s", chat_id, exc.message)
    except AiogramError as exc:  # network trouble, a server error, a flood limit hit twice
        logger.warning("a reply to chat %s failed: %s", chat_id, exc)
        return
    # Refused for its content: say so, keeping the buttons (the way on) if they pass.
    for keep_buttons in (True, False):
        try:
            await _send(bot, chat_id, texts.t("bot.reply_refused"), reply if keep_buttons else None)
            return
        except TelegramForbiddenError:
            raise _Unreachable from None
        except AiogramError as exc:
            logger.warning("the notice for chat %s failed too: %s", chat_id, exc)


async def _send(bot: Bot, chat_id: int, text: str, markup_of: Reply | None) -> None:
    markup = reply_markup(markup_of) if markup_of is not None else None
    await bot.send_message(chat_id, text, parse_mode=None, reply_markup=markup)


async def quietly(call: Awaitable[Any], what: str) -> None:
    """Await a cosmetic call (answering a press, removing old buttons) and ignore its failure.

    Such calls fail for harmless reasons: the query is too old, the
    keyboard was already removed, the message was deleted.
    """
    try:
        await call
    except AiogramError as exc:  # API errors, and answers a lenient server garbled
        logger.debug("%s failed: %s", what, exc)
