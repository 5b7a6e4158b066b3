"""Everything else a user can send, and edits of sent messages.

Stickers, voice, locations and the like cannot answer a form question; the
engine replies with a hint for the kind and repeats the current question, so
the user is never left wondering whether the bot is still there.  Edits are
not answers either (the original was already taken), so the user is told to
send a new message instead.
"""

from __future__ import annotations

from enum import Enum

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.types import Message, ReplyParameters

from bot.delivery import Converses, answer_message
from dialogs.i18n import Locale
from dialogs.ui import UnsupportedIn, UpdateKey


def other_router() -> Router:
    """Must be included after the routers for text, commands and files: it takes anything."""
    router = Router(name="other")
    router.message.filter(F.chat.type == ChatType.PRIVATE)
    router.edited_message.filter(F.chat.type == ChatType.PRIVATE)
    router.message.register(on_unsupported)
    router.edited_message.register(on_edited)
    return router


def content_kind(message: Message) -> str:
    """The Bot API name of what was sent: ``sticker``, ``voice``, ``location``..."""
    kind = message.content_type
    return kind.value if isinstance(kind, Enum) else str(kind)


async def on_unsupported(
    message: Message,
    bot: Bot,
    conversation: Converses,
    update_key: UpdateKey | None,
    texts: Locale,
) -> None:
    event = UnsupportedIn(kind=content_kind(message))
    await answer_message(message, event, bot, conversation, update_key, texts)


async def on_edited(message: Message, bot: Bot, texts: Locale) -> None:
    await bot.send_message(
        message.chat.id,
        texts.t("bot.edited"),
        parse_mode=None,
        reply_parameters=ReplyParameters(
            message_id=message.message_id, allow_sending_without_reply=True
        ),
    )
