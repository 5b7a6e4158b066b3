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

from collections import OrderedDict

from aiogram import Bot, Router
from aiogram.types import CallbackQuery, InaccessibleMessage

from bot.callbacks import DialogCallback
from bot.delivery import Converses, Pressed, ask, quietly, send_replies
from dialogs.i18n import Locale
from dialogs.ui import Action, Reply, UpdateKey


def callbacks_router() -> Router:
    router = Router(name="callbacks")
    buttons = Buttons()
    router.callback_query.register(buttons.on_button, DialogCallback.filter())
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


def _pressed(query: CallbackQuery) -> Pressed | None:
    """The message a reply may be edited into (an old one Telegram no longer shows
    in full cannot be: its text is unknown)."""
    message = query.message
    if message is None or isinstance(message, InaccessibleMessage):
        return None
    return Pressed(message.message_id, message.text)


ButtonId = tuple[Action, int, str, int]
"""A button as the engine knows it: action, argument, key, application."""


class Retouched:
    """The buttons of the last message edited in place in each chat, with their revision.

    Quick taps on several options of a multiple choice are made on the message as
    the user's screen showed it, before the edit of the previous tap arrived: they
    carry the revision of before and would be answered as out of date, with a copy
    of the question.  A press on a message the bot edited, of a button that message
    still shows, is a press of that button as it is now.  Kept in memory (after a
    restart, or in another process, such a press gets the plain out-of-date
    answer), for the ``limit`` most recent chats.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        self._chats: OrderedDict[int, tuple[int, int, set[ButtonId]]] = OrderedDict()

    def remember(self, chat_id: int, message_id: int, reply: Reply) -> None:
        app = reply.application_id
        shown = {(b.action, b.arg, b.key, app) for row in reply.buttons for b in row}
        self._chats[chat_id] = (message_id, reply.revision, shown)
        self._chats.move_to_end(chat_id)
        while len(self._chats) > self._limit:
            self._chats.popitem(last=False)

    def current(self, chat_id: int, message_id: int, data: DialogCallback) -> DialogCallback:
        """``data`` with the revision the message shows now, when the button is still on it."""
        known = self._chats.get(chat_id)
        if known is None:
            return data
        edited, revision, shown = known
        still_there = (data.a, data.g, data.k, data.p) in shown
        if edited != message_id or data.r >= revision or not still_there:
            return data
        return data.model_copy(update={"r": revision})


class Buttons:
    """The handler of dialog buttons, with what it remembers of messages it edited."""

    def __init__(self) -> None:
        self.retouched = Retouched()

    async def on_button(
        self,
        query: CallbackQuery,
        callback_data: DialogCallback,
        bot: Bot,
        conversation: Converses,
        update_key: UpdateKey | None,
        texts: Locale,
    ) -> None:
        chat_id = _chat_id(query)
        pressed = _pressed(query)
        if pressed is not None:
            callback_data = self.retouched.current(chat_id, pressed.message_id, callback_data)
        outcome = await ask(conversation, query.from_user, callback_data.to_event(), update_key)
        await quietly(query.answer(outcome.toast), "answering the button")
        edited = await send_replies(bot, chat_id, outcome.replies, texts, pressed=pressed)
        if edited is not None and pressed is not None:
            self.retouched.remember(chat_id, pressed.message_id, edited)
        else:
            # Cosmetic, so after the replies: the user sees the next question one
            # round trip sooner.
            await _remove_keyboard(bot, query)


async def on_unreadable(query: CallbackQuery, bot: Bot, texts: Locale) -> None:
    await quietly(query.answer(texts.t("bot.stale")), "answering an unreadable button")
    await _remove_keyboard(bot, query)
