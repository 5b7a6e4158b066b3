"""Callback data of inline buttons.

Telegram limits ``callback_data`` to 64 bytes and echoes it back verbatim,
possibly long after the message was sent.  So the payload is compact, typed
and versioned: the prefix ``d1`` names the layout, and a future layout gets a
new prefix instead of reinterpreting old buttons still sitting in chats.
Besides the action and its argument, every button carries the application
and revision it was shown for, so the engine can recognise a stale press.
"""

from __future__ import annotations

from typing import Annotated

from aiogram.filters.callback_data import MAX_CALLBACK_LENGTH, CallbackData
from pydantic import Field

from dialogs.ui import Action, Button, ButtonIn

# The numbers end up in 32-bit database columns; data beyond these bounds was
# forged and is refused while parsing (answered as an out-of-date button), so
# it never reaches a query.  The widest payload fits into 64 bytes
# (``largest_packed_length``, checked below and by the tests).
MAX_ARG = 2**31 - 1
MAX_APPLICATION_ID = 2**31 - 1
MAX_REVISION = 2**31 - 1


class DialogCallback(CallbackData, prefix="d1"):
    """``d1:<action>:<arg>:<application>:<revision>``; the action travels as its int value."""

    a: Action
    g: Annotated[int, Field(ge=-MAX_ARG, le=MAX_ARG)]
    p: Annotated[int, Field(ge=0, le=MAX_APPLICATION_ID)]
    r: Annotated[int, Field(ge=0, le=MAX_REVISION)]

    @classmethod
    def for_button(cls, button: Button, *, application_id: int, revision: int) -> DialogCallback:
        return cls(a=button.action, g=button.arg, p=application_id, r=revision)

    def to_event(self) -> ButtonIn:
        return ButtonIn(action=self.a, arg=self.g, application_id=self.p, revision=self.r)


def largest_packed_length() -> int:
    """Byte length of the widest payload within the promised bounds."""
    widest = DialogCallback(a=max(Action), g=-MAX_ARG, p=MAX_APPLICATION_ID, r=MAX_REVISION).pack()
    return len(widest.encode())


assert largest_packed_length() <= MAX_CALLBACK_LENGTH  # a layout change must fail loudly
