"""What a DingTalk robot message or card press means to the dialogs.

A robot message names its sender by ``senderStaffId`` (the person's id in the
organisation, which sending needs) and, outside it, by ``senderId``; the nick
is only a display name.  Texts become :class:`TextIn` (a leading ``/`` a
command), pictures and files :class:`FileIn` whose bytes are fetched through
the robot download API only when the dialogs want them, so the same byte
checks apply as on Telegram.  A card press carries the payload of
``dingtalk.payload``, decoded and checked before it becomes a :class:`ButtonIn`;
anything else is answered as an out-of-date button.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

from dialogs.i18n import Locale
from dialogs.ui import (
    CommandIn,
    FileIn,
    Inbound,
    Outcome,
    Reply,
    TextIn,
    UnsupportedIn,
    UpdateKey,
    UserRef,
)
from dingtalk import payload
from dingtalk.delivery import Replier
from dingtalk.openapi import OpenApi

log = logging.getLogger(__name__)

CHANNEL = "dingtalk"
KINDS = {"audio": "voice"}
"""DingTalk's message types where the dialogs call them otherwise (a voice note)."""
CARD_SOURCE = "dingtalk-card"
"""Card presses have ids of their own, kept apart from messages' ids."""


class RepliesLost(Exception):
    """The answer is saved but a reply did not reach DingTalk."""


class Converses(Protocol):
    async def handle(
        self, user: UserRef, event: Inbound, *, update_key: UpdateKey | None = None
    ) -> Outcome: ...


class Channel:
    """Hands DingTalk's events to the conversation, one person at a time, and replies."""

    def __init__(self, conversation: Converses, api: OpenApi, loc: Locale) -> None:
        self.conversation = conversation
        self.api = api
        self.loc = loc
        self.replier = Replier(api, loc)
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: defaultdict[str, int] = defaultdict(int)

    async def message(self, data: dict[str, Any], message_id: str) -> None:
        """A robot message; returns once its answer is committed and sent."""
        if str(data.get("conversationType", "1")) != "1":
            return  # group chats are not served: declarations are personal
        user = sender(data)
        if user is None:
            return
        event = self.event(data, user.external_id)
        key = (CHANNEL, str(data.get("msgId") or message_id))
        await self._handle(user, event, key)

    async def card(self, data: dict[str, Any], message_id: str) -> None:
        """A card's button pressed; the payload is checked before anything is read."""
        user_id = str(data.get("userId") or "")
        if not user_id:
            return
        press = payload.unpack(_pressed_payload(data))
        user = UserRef(CHANNEL, user_id)
        if press is None:
            async with self._serial(user_id):
                await self.replier.send(user_id, [Reply(self.loc.t("dingtalk.stale"))])
            return
        key = (CARD_SOURCE, message_id or _card_key(data))
        await self._handle(user, press, key, pressed=str(data.get("outTrackId") or ""))

    async def _handle(
        self, user: UserRef, event: Inbound, key: UpdateKey, *, pressed: str = ""
    ) -> None:
        async with self._serial(user.external_id):
            outcome = await self.conversation.handle(user, event, update_key=key)
            replies = list(outcome.replies)
            if outcome.toast and not replies:
                replies = [Reply(outcome.toast)]
            if not await self.replier.send(user.external_id, replies, pressed=pressed):
                # Not acknowledged: DingTalk delivers the message again, and the
                # redelivery (recognised by its id) shows the person where they are.
                raise RepliesLost("a reply was lost to the network; the message will come again")

    @asynccontextmanager
    async def _serial(self, user_id: str) -> AsyncIterator[None]:
        """One person's events one after another, in the order they came (a lock's
        waiters are woken first come, first served); the lock is dropped when no
        event of theirs is left, so the map does not grow with every person ever seen."""
        lock = self._locks.setdefault(user_id, asyncio.Lock())
        self._waiting[user_id] += 1
        try:
            async with lock:
                yield
        finally:
            self._waiting[user_id] -= 1
            if not self._waiting[user_id]:
                del self._waiting[user_id]
                del self._locks[user_id]

    def event(self, data: dict[str, Any], user_id: str) -> Inbound:
        kind = str(data.get("msgtype", ""))
        content = data.get("content") if isinstance(data.get("content"), dict) else {}
        assert isinstance(content, dict)
        if kind == "text":
            text = str((data.get("text") or {}).get("content", "")).strip()
            return self.typed(text, user_id)
        if kind == "picture" and content.get("downloadCode"):
            return self._file("photo", "photo.jpg", str(content["downloadCode"]))
        if kind == "file" and content.get("downloadCode"):
            name = str(content.get("fileName") or "file")
            return self._file("document", name, str(content["downloadCode"]))
        if kind == "richText":
            parts = content.get("richText") if isinstance(content.get("richText"), list) else []
            assert isinstance(parts, list)
            text = "".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))
            if text.strip():
                return self.typed(text.strip(), user_id)
            codes = [
                p["downloadCode"] for p in parts if isinstance(p, dict) and "downloadCode" in p
            ]
            if codes:
                return self._file("photo", "photo.jpg", str(codes[0]))
        return UnsupportedIn(KINDS.get(kind, kind) or "other")

    def typed(self, text: str, user_id: str) -> Inbound:
        """A command, a number meaning a shown button (no card template), or text."""
        if text.startswith("/") and len(text) > 1:
            head, _, rest = text[1:].partition(" ")
            return CommandIn(name=head.lower(), args=rest.strip())
        press = self.replier.typed_press(user_id, text)
        return press if press is not None else TextIn(text)

    def _file(self, kind: str, name: str, code: str) -> FileIn:
        fetch: Callable[[], Awaitable[bytes]] = lambda: self.api.download(code)  # noqa: E731
        mime = "image/jpeg" if kind == "photo" else ""
        # Download codes expire: a file that cannot be fetched now is not kept by reference.
        return FileIn(kind, name, mime, None, code, fetch, kept=False)


def sender(data: dict[str, Any]) -> UserRef | None:
    """Who wrote: the staff id when DingTalk gives it (an organisation member), else
    the sender id; None when neither is there."""
    external = str(data.get("senderStaffId") or data.get("senderId") or "")
    if not external:
        return None
    return UserRef(CHANNEL, external, str(data.get("senderNick") or ""))


def _pressed_payload(data: dict[str, Any]) -> object:
    """The payload in a card callback's ``content`` (a JSON string): the params of the
    press, ``cardPrivateData.params.payload``."""
    try:
        content = json.loads(str(data.get("content") or "{}"))
    except ValueError:
        return None
    if not isinstance(content, dict):
        return None
    private = content.get("cardPrivateData")
    params = private.get("params") if isinstance(private, dict) else None
    return params.get("payload") if isinstance(params, dict) else None


def _card_key(data: dict[str, Any]) -> str:
    return f"{data.get('outTrackId', '')}:{_pressed_payload(data)}"[:120]
