"""Callback data of inline buttons.

Telegram limits ``callback_data`` to 64 bytes and echoes it back verbatim,
possibly long after the message was sent.  So the payload is compact, typed
and versioned: the prefix names the layout, and a new layout gets a new
prefix instead of reinterpreting old buttons still sitting in chats (a ``d1``
button of the previous layout is answered as out of date).  Besides the
action, its number and its key (a program id, an option's key, a section id:
stable ids, never positions in a list), every button carries the application
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
MAX_KEY = 24
"""Longest key: program and section ids are bounded by the loader, option keys are 8 hex."""


class DialogCallback(CallbackData, prefix="d2"):
    """``d2:<action>:<arg>:<application>:<revision>:<key>``; the action travels as its int."""

    a: Action
    g: Annotated[int, Field(ge=-MAX_ARG, le=MAX_ARG)]
    p: Annotated[int, Field(ge=0, le=MAX_APPLICATION_ID)]
    r: Annotated[int, Field(ge=0, le=MAX_REVISION)]
    k: Annotated[str, Field(max_length=MAX_KEY, pattern=r"^[A-Za-z0-9_-]*$")] = ""

    @classmethod
    def for_button(cls, button: Button, *, application_id: int, revision: int) -> DialogCallback:
        return cls(a=button.action, g=button.arg, p=application_id, r=revision, k=button.key)

    def to_event(self) -> ButtonIn:
        return ButtonIn(
            action=self.a, arg=self.g, application_id=self.p, revision=self.r, key=self.k
        )


def largest_packed_length() -> int:
    """Byte length of the widest payload within the promised bounds."""
    widest = DialogCallback(
        a=max(Action), g=-MAX_ARG, p=MAX_APPLICATION_ID, r=MAX_REVISION, k="k" * MAX_KEY
    ).pack()
    return len(widest.encode())


assert largest_packed_length() <= MAX_CALLBACK_LENGTH  # a layout change must fail loudly
