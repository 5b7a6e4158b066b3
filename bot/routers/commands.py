"""Slash commands.

Every command goes to the engine, which owns the menu and the help text
(unknown ones included, so the user gets its "unknown command" answer rather
than having ``/foo`` taken as an answer to the current question).
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.delivery import Converses, answer_message
from dialogs.i18n import Locale
from dialogs.ui import CommandIn, UpdateKey

# The commands advertised in the Telegram menu, in menu order.
COMMANDS = ("start", "apply", "status", "deadlines", "inbox", "settings", "help", "cancel")


def commands_router() -> Router:
    router = Router(name="commands")
    router.message.filter(F.chat.type == ChatType.PRIVATE)
    router.message.register(on_command, Command(*COMMANDS, ignore_case=True))
    router.message.register(on_unknown_command, F.text.regexp(r"^/[A-Za-z0-9_]+(@\w+)?(\s|$)"))
    return router


async def on_command(
    message: Message,
    command: CommandObject,
    bot: Bot,
    conversation: Converses,
    update_key: UpdateKey | None,
    texts: Locale,
) -> None:
    # ``/start <token>``: how a link t.me/<bot>?start=<token> arrives (an invitation).
    event = CommandIn(name=command.command.lower(), args=command.args or "")
    await answer_message(message, event, bot, conversation, update_key, texts)


async def on_unknown_command(
    message: Message,
    bot: Bot,
    conversation: Converses,
    update_key: UpdateKey | None,
    texts: Locale,
) -> None:
    if message.text is None:
        return
    head, *rest = message.text[1:].split(maxsplit=1)
    name = head.split("@", 1)[0].lower()
    event = CommandIn(name=name, args=rest[0] if rest else "")
    await answer_message(message, event, bot, conversation, update_key, texts)
