"""The data a card button carries back, and its checks.

A card press comes back through the stream, possibly long after the card was
sent, with whatever a client chose to put into it: it is user input.  So the
payload is compact, typed and versioned like Telegram's callback data
(``bot/callbacks.py``): the prefix names the layout, numbers are range-checked
before they reach a query, the key is a bounded stable id, and anything else
is refused (answered as an out-of-date button).
"""

from __future__ import annotations

import re

from dialogs.ui import DB_INT_MAX, Action, Button, ButtonIn

PREFIX = "k1"
MAX_ARG = 2**31 - 1
MAX_KEY = 24
KEY_RE = re.compile(r"^[A-Za-z0-9_-]{0,24}$")
INT_RE = re.compile(r"^-?[0-9]{1,10}$")
ACTIONS = frozenset(int(a) for a in Action)


def pack(button: Button, *, application_id: int, revision: int) -> str:
    """``k1:<action>:<arg>:<application>:<revision>:<key>``."""
    return f"{PREFIX}:{int(button.action)}:{button.arg}:{application_id}:{revision}:{button.key}"


def unpack(data: object) -> ButtonIn | None:
    """The press a payload describes, or None if it is not one this layout makes."""
    if not isinstance(data, str) or len(data) > 96:
        return None
    parts = data.split(":")
    if len(parts) != 6 or parts[0] != PREFIX:
        return None
    numbers, key = parts[1:5], parts[5]
    if not all(INT_RE.match(n) for n in numbers) or not KEY_RE.match(key):
        return None
    action, arg, application_id, revision = (int(n) for n in numbers)
    if action not in ACTIONS or not -MAX_ARG <= arg <= MAX_ARG:
        return None
    if not (0 <= application_id <= DB_INT_MAX and 0 <= revision <= DB_INT_MAX):
        return None
    return ButtonIn(Action(action), arg, application_id, revision, key)
