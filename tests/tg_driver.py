"""Play an applicant on Telegram: the scripted applicant's moves sent through the
fake Bot API, as taps and messages of a real user.

The moves are decided from the application row in the database (what the
user sees on screen); they reach the bot only as Telegram updates, and the
buttons pressed are those of the bot's real messages.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlmodel import select

from bot.app import create_bot, create_dispatcher, poll
from bot.callbacks import DialogCallback
from bot.config import TelegramConfig
from dialogs.loader import ProgramRegistry
from dialogs.service import Conversation
from storage.db import SessionFactory
from storage.files import FileStore
from storage.models import Application, ChannelIdentity
from tests.fakebotapi import DEFAULT_TOKEN, FakeBotAPI, SentMessage
from tests.walkthrough import Applicant, Move, Press, Text, Upload


def transcript(api: FakeBotAPI, user_id: int) -> str:
    """Everything the user was shown: message texts and the labels of their buttons."""
    parts: list[str] = []
    for m in api.sent_to(user_id):
        parts.append(m.text)
        parts.extend(b.text for row in m.original_buttons for b in row)
    return "\n".join(parts)


async def application(
    sessions: SessionFactory, user_id: int, program_id: str
) -> Application | None:
    """The user's application for a program, as stored right now."""
    async with sessions() as session:
        result = await session.execute(
            select(Application)
            .join(ChannelIdentity, ChannelIdentity.person_id == Application.user_id)  # type: ignore[arg-type]
            .where(
                ChannelIdentity.channel == "telegram",
                ChannelIdentity.external_id == str(user_id),
            )
            .where(Application.program_id == program_id)
        )
        return result.scalars().first()


def find_button(api: FakeBotAPI, user_id: int, move: Press) -> tuple[SentMessage, str]:
    """The bot's latest message offering this action, and the callback data to send."""
    message = api.last_message(user_id, with_buttons=True)
    for row in message.buttons:
        for button in row:
            if button.callback_data is None:
                continue
            data = DialogCallback.unpack(button.callback_data)
            if (data.a, data.g, data.k) == (move.action, move.arg, move.key):
                return message, button.callback_data
    raise LookupError(f"{move} is not offered in: {message.text[:200]}")


def _shown(api: FakeBotAPI, user_id: int) -> tuple[int, int]:
    """How many messages the user was sent, and how many edits they had."""
    sent = api.sent_to(user_id)
    return len(sent), sum(m.edits for m in sent)


def upload_update(api: FakeBotAPI, user_id: int, move: Upload) -> dict[str, Any]:
    """An upload as Telegram delivers it: a picture as a photo, anything else as a file."""
    if move.mime_type.startswith("image/"):
        return api.photo_update(user_id, move.data)
    return api.document_update(user_id, move.data, move.file_name, move.mime_type)


async def send_move(api: FakeBotAPI, user_id: int, move: Move) -> None:
    """Deliver one move as a Telegram update."""
    if isinstance(move, Text):
        api.send_text(user_id, move.text)
    elif isinstance(move, Upload):
        api.inject(upload_update(api, user_id, move))
    else:
        message, data = find_button(api, user_id, move)
        api.press(user_id, message, data)


@asynccontextmanager
async def first_question(
    api: FakeBotAPI,
    registry: ProgramRegistry,
    sessions: SessionFactory,
    files: FileStore,
    user: int,
) -> AsyncIterator[SentMessage]:
    """The real bot polling the fake Bot API for a registry of one program, the user
    applied to it; yields its first question as the user received it."""
    conversation = Conversation(registry=registry, sessions=sessions, files=files)
    config = TelegramConfig(token=DEFAULT_TOKEN, api_url=api.url, polling_timeout=5)
    bot = create_bot(config)
    dispatcher = create_dispatcher(config, conversation)
    task = asyncio.create_task(poll(dispatcher, bot, config, handle_signals=False))
    try:
        api.send_command(user, "apply")
        await api.wait_for_reply(user)
        api.press_button(user, 0)
        *_intro, question = await api.wait_for_reply(user)
        yield question
    finally:
        await dispatcher.stop_polling()
        await task
        await bot.session.close()


async def open_program(
    api: FakeBotAPI, registry: ProgramRegistry, user_id: int, program_id: str
) -> None:
    """/apply, then tap the program's button (labelled union · kind)."""
    program = registry.get(program_id)
    assert program is not None
    api.send_command(user_id, "apply")
    await api.wait_for_messages(user_id, 1, timeout=20)
    api.press_button(user_id, program.button_title)
    await api.wait_for_messages(user_id, 1, timeout=20)
    await api.settle(quiet=0.05, timeout=20)


async def walk_on_telegram(
    api: FakeBotAPI,
    sessions: SessionFactory,
    registry: ProgramRegistry,
    user_id: int,
    program_id: str,
    *,
    today: dt.date,
    stop_after: int | None = None,
) -> int:
    """Answer until submitted (or ``stop_after`` moves); returns the number of moves."""
    program = registry.get(program_id)
    assert program is not None
    applicant = Applicant(program, today)
    moves = 0
    while stop_after is None or moves < stop_after:
        app = await application(sessions, user_id, program_id)
        assert app is not None
        if app.status == "submitted":
            return moves
        move = applicant.next_move(app.answers, app.cursor)
        before = _shown(api, user_id)
        await send_move(api, user_id, move)
        # A reply is a new message, or the pressed one edited in place (a tick).
        await api.wait_for(lambda n=before: _shown(api, user_id) != n, timeout=20)
        await api.settle(quiet=0.05, timeout=20)
        moves += 1
        assert moves < 800, "the walk does not end"
    return moves
