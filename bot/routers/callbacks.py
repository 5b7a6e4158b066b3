"""Button presses.

Telegram shows a spinner on a pressed button until the query is answered, so
every query is answered: with the engine's toast, with an apology when the
engine failed (see the errors router), or with a polite "this button is out
of date" when its data cannot be read (a layout from an older release, or
data forged by a client).  After a press the keyboard of the pressed message
is removed, so old buttons do not linger; the engine sends fresh ones.  A
press that only changed the question in place (a tick) edits the pressed
message instead, so four ticks leave one question in the chat, not four.
"""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.types import CallbackQuery, InaccessibleMessage

from bot.callbacks import DialogCallback
from bot.delivery import Converses, Pressed, ask, quietly, send_replies
from dialogs.i18n import Locale
from dialogs.ui import UpdateKey


def callbacks_router() -> Router:
    router = Router(name="callbacks")
    router.callback_query.register(on_button, DialogCallback.filter())
    router.callback_query.register(on_unreadable)
    return router


def _chat_id(query: CallbackQuery) -> int:
    # In a private chat the chat id is the user id, which also covers old
    # messages Telegram no longer returns in full.
    return query.message.chat.id if query.message is not None else query.from_user.id


async def _remove_keyboard(bot: Bot, query: CallbackQuery) -> None:
    message = query.message
    if message is None or isinstance(message, InaccessibleMessage):
        return
    if message.reply_markup is None:
        return
    await quietly(
        bot.edit_message_reply_markup(
            chat_id=message.chat.id, message_id=message.message_id, reply_markup=None
        ),
        "removing the keyboard",
    )


async def on_button(
    query: CallbackQuery,
    callback_data: DialogCallback,
    bot: Bot,
    conversation: Converses,
    update_key: UpdateKey | None,
    texts: Locale,
) -> None:
    outcome = await ask(conversation, query.from_user, callback_data.to_event(), update_key)
    await quietly(query.answer(outcome.toast), "answering the button")
    edited = await send_replies(
        bot, _chat_id(query), outcome.replies, texts, pressed=_pressed(query)
    )
    if not edited:
        # Cosmetic, so after the replies: the user sees the next question one round trip sooner.
        await _remove_keyboard(bot, query)


def _pressed(query: CallbackQuery) -> Pressed | None:
    """The message a reply may be edited into (an old one Telegram no longer shows
    in full cannot be: its text is unknown)."""
    message = query.message
    if message is None or isinstance(message, InaccessibleMessage):
        return None
    return Pressed(message.message_id, message.text)


async def on_unreadable(query: CallbackQuery, bot: Bot, texts: Locale) -> None:
    await quietly(query.answer(texts.t("bot.stale")), "answering an unreadable button")
    await _remove_keyboard(bot, query)
