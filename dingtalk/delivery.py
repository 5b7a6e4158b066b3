"""Sending the engine's replies to one DingTalk person.

A reply without buttons goes as a plain text message (answers are echoed,
never read as markdown).  A reply with buttons goes as a card of the
configured template: its ``text`` and a ``buttons`` list, each button's
``payload`` the versioned, range-checked data of ``dingtalk.payload``, which
comes back through the stream when it is pressed.

Without a card template the buttons are numbered lines under the text and
the person answers by typing the number (``#n`` where the question takes
typed text), as in the terminal; the numbers mean the buttons of the last
reply that had any, kept here in memory per person (a restart forgets them,
and the person sees the question again with ``/apply``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from dialogs.i18n import Locale
from dialogs.textfit import fit_replies
from dialogs.ui import Button, ButtonIn, Reply
from dingtalk import payload
from dingtalk.openapi import ApiError, OpenApi, RateLimited, Transient, Unreachable

log = logging.getLogger(__name__)

TEXT_LIMIT = 3000
"""Characters of one message: DingTalk takes about 5000 in a text and less in a card's
markdown; 3000 keeps a question with its buttons on one screen of a phone."""
REPLY_WAIT = 3.0
"""Seconds a direct reply waits out a rate limit before its one more try."""
NUMBER_RE = re.compile(r"^#?\s*([0-9]{1,3})$")


@dataclass(frozen=True)
class Shown:
    """The buttons of the last reply that had any, as numbered for typing."""

    buttons: tuple[Button, ...]
    application_id: int
    revision: int
    expects_text: bool


class Replier:
    """Sends replies; remembers numbered buttons when there is no card template."""

    def __init__(self, api: OpenApi, loc: Locale) -> None:
        self.api = api
        self.loc = loc
        self.cards = bool(api.config.card_template_id)
        self._shown: dict[str, Shown] = {}

    async def send(self, user_id: str, replies: list[Reply], *, pressed: str = "") -> bool:
        """Send in order; a refused reply is logged and the next still goes, but a
        person who cannot be reached ends the sending.  False when a reply was lost
        to the network or a server error (DingTalk may take it a moment later).

        The first reply that ``replaces`` the message whose button was pressed (a
        tick of a multiple choice) changes the ``pressed`` card in place rather
        than stacking a copy of the question under it; if that fails it is sent.
        """
        whole = True
        for reply in fit_replies(replies, TEXT_LIMIT):
            if pressed and await self._replaced(pressed, reply):
                pressed = ""
                continue
            try:
                try:
                    await self.send_one(user_id, reply)
                except RateLimited as exc:  # the person is waiting: once more, soon
                    await asyncio.sleep(min(exc.retry_after, REPLY_WAIT))
                    await self.send_one(user_id, reply)
            except Unreachable:
                log.warning("a DingTalk user cannot be reached; replies dropped")
                return True
            except ApiError as exc:
                log.warning("a reply was not sent: %s", exc)
                whole = whole and not isinstance(exc, Transient)
        return whole

    async def _replaced(self, track: str, reply: Reply) -> bool:
        if not (self.cards and reply.replaces and reply.buttons and not reply.media):
            return False
        try:
            await self.api.update_card(track, card_params(reply, reply.text))
        except ApiError as exc:
            log.info("a card could not be changed in place (%s); sent anew", exc)
            return False
        return True

    def parts(self, reply: Reply) -> list[Reply]:
        """A reply cut to DingTalk's length, the buttons with the last part."""
        return fit_replies([reply], TEXT_LIMIT)

    async def send_one(self, user_id: str, reply: Reply) -> None:
        """One reply: a card with its buttons, or text (buttons numbered in it)."""
        text = reply.text
        for media in reply.media:  # files first, as on Telegram; one never stored: named
            data = await asyncio.to_thread(_read, media.path)
            if data is None:
                text = f"📎 {media.name}\n{text}"
            else:
                await self.api.send_file(user_id, media.name or Path(media.path).name, data)
        if not reply.buttons:
            await self.api.send_text(user_id, text)
            return
        if self.cards:
            await self.api.send_card(user_id, card_params(reply, text))
            return
        flat = tuple(b for row in reply.buttons for b in row)
        self._shown[user_id] = Shown(flat, reply.application_id, reply.revision, reply.expects_text)
        lines = [f"{n}. {b.label}" for n, b in enumerate(flat, start=1)]
        hint = self.loc.t("dingtalk.pick_hash" if reply.expects_text else "dingtalk.pick_plain")
        await self.api.send_text(user_id, "\n".join([text, "", *lines, hint]))

    def typed_press(self, user_id: str, text: str) -> ButtonIn | None:
        """The press a typed number means, if the last buttons shown take it: ``n`` where
        the question takes no text, ``#n`` anywhere."""
        shown = self._shown.get(user_id)
        match = NUMBER_RE.match(text.strip())
        if self.cards or shown is None or match is None:
            return None
        if shown.expects_text and not text.strip().startswith("#"):
            return None
        n = int(match.group(1))
        if not 1 <= n <= len(shown.buttons):
            return None
        b = shown.buttons[n - 1]
        return ButtonIn(b.action, b.arg, shown.application_id, shown.revision, b.key)


def _read(path: str) -> bytes | None:
    """A stored file's bytes, or None when there is none (never downloaded, removed)."""
    if not path:
        return None
    try:
        return Path(path).read_bytes()
    except OSError:
        return None


def card_params(reply: Reply, text: str) -> dict[str, str]:
    """The template's variables (all strings, as the card API wants them)."""
    buttons = [
        {
            "label": b.label,
            "payload": payload.pack(
                b, application_id=reply.application_id, revision=reply.revision
            ),
        }
        for row in reply.buttons
        for b in row
    ]
    return {"text": text, "buttons": json.dumps(buttons, ensure_ascii=False)}
