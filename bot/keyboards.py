"""Engine replies → inline keyboards.

Buttons are identified only by their callback data, never by their label:
labels are translated and may change between releases, callback data is the
stable contract.
"""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import DialogCallback
from dialogs.ui import Reply


def reply_markup(reply: Reply) -> InlineKeyboardMarkup | None:
    """The inline keyboard for a reply, or None when it has no buttons."""
    rows = [
        [
            InlineKeyboardButton(
                text=button.label,
                callback_data=DialogCallback.for_button(
                    button, application_id=reply.application_id, revision=reply.revision
                ).pack(),
            )
            for button in row
        ]
        for row in reply.buttons
        if row
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None
