"""Callback data of inline buttons.

Telegram limits ``callback_data`` to 64 bytes and echoes it back verbatim,
possibly long after the message was sent.  So the payload is compact, typed
and versioned: the prefix ``d1`` names the layout, and a future layout gets a
new prefix instead of reinterpreting old buttons still sitting in chats.
Besides the action and its argument, every button carries the application
and revision it was shown for, so the engine can recognise a stale press.
"""

from __future__ import annotations

from aiogram.filters.callback_data import MAX_CALLBACK_LENGTH, CallbackData

from dialogs.ui import Action, Button, ButtonIn

# Bounds we promise fit into 64 bytes (checked by ``largest_packed_length``
# and the tests): far beyond anything a deployment will reach.
MAX_ARG = 10**6 - 1
MAX_APPLICATION_ID = 10**12 - 1
MAX_REVISION = 10**9 - 1


class DialogCallback(CallbackData, prefix="d1"):
    """``d1:<action>:<arg>:<application>:<revision>``; the action travels as its int value."""

    a: Action
    g: int
    p: int
    r: int

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
