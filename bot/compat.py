"""Tolerance for Bot API servers that are not Telegram itself.

Local servers and emulators sometimes leave out fields that Telegram always
sends (``User.is_bot``, ``CallbackQuery.chat_instance``, a message's
``message_id`` or ``date``) or answer an unknown method with a bare error
body.  aiogram then fails to parse the whole response, and the polling loop
drops every update in it, so a user's taps vanish.  ``tolerant_loads`` fills
such gaps with neutral values before aiogram parses the response; responses
of Telegram itself carry every field and pass through unchanged.
"""

from __future__ import annotations

import json
from typing import Any


def _fill(node: Any, *, top: bool) -> None:
    if isinstance(node, list):
        for item in node:
            _fill(item, top=False)
        return
    if not isinstance(node, dict):
        return
    if "id" in node and "first_name" in node and "is_bot" not in node:
        # Only getMe returns a user at the top of a result: the bot itself.
        node["is_bot"] = top
    if "chat" in node and isinstance(node["chat"], dict):
        node.setdefault("message_id", 0)
        node.setdefault("date", 0)
    if "callback_query" in node and isinstance(node["callback_query"], dict):
        node["callback_query"].setdefault("chat_instance", "0")
    for value in node.values():
        _fill(value, top=False)


def tolerant_loads(text: str) -> Any:
    """``json.loads`` for Bot API responses and webhook updates, completing what a
    lenient server left out."""
    data = json.loads(text)
    if not isinstance(data, dict):
        return data
    if "update_id" in data:  # an update posted to the webhook (aiogram parses it here too)
        _fill(data, top=False)
        return data
    if "ok" not in data:
        description = data.get("description") or data.get("message") or text[:200]
        return {
            "ok": False,
            "error_code": data.get("error_code", 500),
            "description": str(description),
        }
    if "result" in data:
        _fill(data["result"], top=True)
    return data
