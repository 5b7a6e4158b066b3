"""A fake Telegram Bot API server for tests, speaking real HTTP.

The bot under test talks to it exactly as to Telegram (point
``STUDIOBOT_TELEGRAM_API_URL`` at :attr:`FakeBotAPI.url`), so the real aiogram
session, polling loop, file download and error handling are exercised; the
test plays the users by injecting updates and reads what the bot sent.

    api = await FakeBotAPI().start()
    api.send_command(1001, "apply")
    [menu] = await api.wait_for_messages(1001)
    api.press_button(1001, "大连市总工会 · 劳模创新工作室")
    ...
    await api.stop()

Behaviour follows Telegram where tests can tell the difference:

* requests go to ``/bot<token>/<method>`` with JSON, form or multipart bodies
  (values of complex fields as JSON strings, as aiogram sends them); a wrong
  token gets 401, an unknown method 404;
* ``getUpdates`` long-polls (``timeout``), honours ``limit`` and
  ``allowed_updates`` (updates of other types are dropped), returns updates
  again until a later ``offset`` confirms them, and a newer ``getUpdates``
  terminates an older waiting one with 409;
* ``sendMessage`` refuses texts over 4096 characters, ``callback_data`` over
  64 bytes and unparsable HTML, like Telegram (400);
* editing a message to what it already is fails with "message is not
  modified"; answering a callback query twice fails with "query is too old";
* files are served at ``/file/bot<token>/<file_path>`` after ``getFile``.

One deliberate difference: an update injected again with :meth:`inject`
keeps its old ``update_id`` and is delivered once more even though a later
offset was confirmed, which is how a redelivery after a crash looks to the
bot.

Injection and inspection methods are plain (not async) and must be called
from the event loop the server runs in; waiting helpers are async.  The
server can serve a bot in another process (e.g. ``studiobot run``) as long
as the test keeps its event loop running (awaits while the bot works).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

DEFAULT_TOKEN = "123456:TEST"
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_DOWNLOAD = 20 * 1024 * 1024

_JSON_FIELDS = {
    "reply_markup", "allowed_updates", "commands", "scope", "entities",
    "caption_entities", "reply_parameters", "link_preview_options", "media",
}
_HTML_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
    "a", "code", "pre", "blockquote", "tg-emoji",
}
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply "
    "markup are exactly the same as a current content and reply markup of the message"
)
_QUERY_TOO_OLD = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)


class ApiError(Exception):
    """An error response, shaped like Telegram's."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": False, "error_code": self.status, "description": self.description
        }
        if self.retry_after is not None:
            out["parameters"] = {"retry_after": self.retry_after}
        return out


@dataclass(frozen=True)
class InlineButton:
    """One button of an inline keyboard as the bot sent it."""

    text: str
    callback_data: str | None = None
    url: str | None = None


def _buttons(markup: dict[str, Any] | None) -> list[list[InlineButton]]:
    if not markup or "inline_keyboard" not in markup:
        return []
    return [
        [
            InlineButton(b.get("text", ""), b.get("callback_data"), b.get("url"))
            for b in row
        ]
        for row in markup["inline_keyboard"]
    ]


@dataclass
class SentMessage:
    """A message the bot sent; ``reply_markup``/``text`` follow later edits."""

    message_id: int
    chat_id: int
    method: str
    text: str | None
    reply_markup: dict[str, Any] | None
    parse_mode: str | None
    raw: dict[str, Any]
    original_markup: dict[str, Any] | None = None
    file_name: str | None = None
    file_data: bytes | None = None
    edits: int = 0

    @property
    def buttons(self) -> list[list[InlineButton]]:
        """The inline keyboard as it is now (empty once the bot removed it)."""
        return _buttons(self.reply_markup)

    @property
    def original_buttons(self) -> list[list[InlineButton]]:
        """The inline keyboard as first sent, e.g. to press a button that is gone."""
        return _buttons(self.original_markup)

    @property
    def labels(self) -> list[str]:
        """Labels of the current buttons, row by row, flattened."""
        return [b.text for row in self.buttons for b in row]

    def button(self, text_or_index: str | int, *, original: bool = False) -> InlineButton:
        """A button by flattened index, exact label or (unique) part of a label."""
        flat = [b for row in (self.original_buttons if original else self.buttons) for b in row]
        if isinstance(text_or_index, int):
            if not 0 <= text_or_index < len(flat):
                raise LookupError(f"no button #{text_or_index} in {[b.text for b in flat]}")
            return flat[text_or_index]
        exact = [b for b in flat if b.text == text_or_index]
        if exact:
            return exact[0]
        partial = [b for b in flat if text_or_index in b.text]
        if len(partial) == 1:
            return partial[0]
        raise LookupError(f"no single button {text_or_index!r} in {[b.text for b in flat]}")


@dataclass(frozen=True)
class AnsweredCallback:
    """An ``answerCallbackQuery`` the bot made."""

    callback_query_id: str
    user_id: int
    data: str | None
    text: str | None
    show_alert: bool


@dataclass
class ApiCall:
    """One request the bot made, recorded on arrival; ``status`` is the HTTP status it got
    (0 while the request is still being served, e.g. a waiting long poll)."""

    method: str
    params: dict[str, Any]
    status: int = 0
    description: str | None = None  # the error description, when the call was refused


@dataclass
class _Fault:
    status: int
    description: str
    retry_after: int | None
    remaining: int


@dataclass
class _Queued:
    update: dict[str, Any]
    delivered: bool = False

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])

    @property
    def kind(self) -> str:
        return next(k for k in self.update if k != "update_id")


@dataclass
class _File:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes


@dataclass
class _Query:
    user_id: int
    data: str | None
    answered: bool = False


@dataclass
class _Waker:
    """Wakes every waiter on each change (a fresh event per generation)."""

    event: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self) -> None:
        self.event.set()
        self.event = asyncio.Event()

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), seconds)


def _decode(params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    for key in _JSON_FIELDS & out.keys():
        if isinstance(out[key], str):
            try:
                out[key] = json.loads(out[key])
            except ValueError as exc:
                raise ApiError(400, f"Bad Request: can't parse {key} JSON object") from exc
    return out


def _int(params: dict[str, Any], name: str, default: int | None = None) -> int:
    value = params.get(name, default)
    if value is None or value == "":
        raise ApiError(400, f"Bad Request: {name} is empty")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, f"Bad Request: invalid {name}") from exc


def _bool(params: dict[str, Any], name: str) -> bool:
    value = params.get(name, False)
    if isinstance(value, str):
        return value.lower() in {"true", "1"}
    return bool(value)


def _check_html(text: str) -> None:
    for match in re.finditer(r"<(/?)([^\s>/]*)", text):
        tag = match.group(2).lower()
        if tag not in _HTML_TAGS:
            offset = len(text[: match.start()].encode())
            raise ApiError(
                400,
                f'Bad Request: can\'t parse entities: Unsupported start tag "{tag}" '
                f"at byte offset {offset}",
            )


def _check_markup(markup: Any) -> None:
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not button.get("text"):
                raise ApiError(400, "Bad Request: BUTTON_TEXT_EMPTY")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            if data is None and "url" not in button:
                raise ApiError(
                    400, "Bad Request: text buttons are unallowed in the inline keyboard"
                )


class FakeBotAPI:
    """The fake server: start it, point the bot at :attr:`url`, play users, read replies."""

    def __init__(self, token: str = DEFAULT_TOKEN, *, host: str = "127.0.0.1") -> None:
        self.token = token
        self.host = host
        bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.bot_user: dict[str, Any] = {
            "id": bot_id, "is_bot": True, "first_name": "Studio Bot",
            "username": "studio_test_bot", "can_join_groups": False,
            "can_read_all_group_messages": False, "supports_inline_queries": False,
        }
        self.calls: list[ApiCall] = []
        self.answered_callbacks: list[AnsweredCallback] = []
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.webhook: dict[str, Any] | None = None
        self.dropped_updates: list[dict[str, Any]] = []
        self._users: dict[int, dict[str, Any]] = {}
        self._queue: list[_Queued] = []
        self._confirmed_upto = 0
        self._allowed: list[str] | None = None
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._sent: dict[int, list[SentMessage]] = {}
        self._seen: dict[int, int] = {}
        self._messages: dict[tuple[int, int], SentMessage] = {}
        self._files: dict[str, _File] = {}
        self._queries: dict[str, _Query] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._blocked: set[int] = set()
        self._poll_generation = 0
        self._closing = False
        self._updates_waker: _Waker | None = None
        self._sent_waker: _Waker | None = None
        self._last_activity = 0.0
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> FakeBotAPI:
        """Listen on an ephemeral port of ``host``; returns self for chaining."""
        self._updates_waker = _Waker()
        self._sent_waker = _Waker()
        self._last_activity = asyncio.get_running_loop().time()
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, shutdown_timeout=1)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, 0).start()
        self._port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        """Release waiting long polls and close the server."""
        self._closing = True
        self._wake_pollers()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotAPI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """Base URL for the bot (``TelegramAPIServer.from_base`` / STUDIOBOT_TELEGRAM_API_URL)."""
        if self._port is None:
            raise RuntimeError("FakeBotAPI is not started")
        return f"http://{self.host}:{self._port}"

    # ------------------------------------------------------------------ users
    def set_user(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "zh-hans",
    ) -> dict[str, Any]:
        """Name a user (optional: unknown users get ``User<id>``)."""
        user: dict[str, Any] = {
            "id": user_id, "is_bot": False, "first_name": first_name or f"User{user_id}"
        }
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self._users[user_id] = user
        return user

    def _user(self, user_id: int) -> dict[str, Any]:
        return self._users.get(user_id) or self.set_user(user_id)

    def _chat(self, user_id: int) -> dict[str, Any]:
        user = self._user(user_id)
        chat = {"id": user_id, "type": "private", "first_name": user["first_name"]}
        for key in ("last_name", "username"):
            if key in user:
                chat[key] = user[key]
        return chat

    def block_user(self, user_id: int, blocked: bool = True) -> None:
        """From now on every message to this user fails with 403, as after "Block bot"."""
        if blocked:
            self._blocked.add(user_id)
        else:
            self._blocked.discard(user_id)

    # ------------------------------------------------------------------ injecting updates
    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _enqueue(self, update: dict[str, Any]) -> dict[str, Any]:
        self._queue.append(_Queued(update))
        self._touch()
        self._wake_pollers()
        return update

    def inject_update(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update body (``{"message": {...}}``); it gets the next update_id."""
        return self._enqueue({"update_id": next(self._update_ids), **payload})

    def inject(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update again with its own update_id: a redelivery, for dedupe tests."""
        return self._enqueue(json.loads(json.dumps(update)))

    def message_update(self, user_id: int, **content: Any) -> dict[str, Any]:
        """Build (not queue) a message update from a user, e.g. to post it to a webhook."""
        message = {
            "message_id": self._next_message_id(user_id),
            "from": self._user(user_id),
            "chat": self._chat(user_id),
            "date": int(time.time()),
            **content,
        }
        return {"update_id": next(self._update_ids), "message": message}

    # Builders of updates that are not queued (for a webhook, or posted by the test itself).
    # They take the next update id like injected ones, so ids stay unique across both.

    def build_update(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Build (not queue) an update from a raw body (``{"edited_message": {...}}``)."""
        return {"update_id": next(self._update_ids), **payload}

    def command_update(self, user_id: int, command: str, args: str = "") -> dict[str, Any]:
        """Build (not queue) ``/command [args]`` from a user, as :meth:`send_command` sends it."""
        name = command.lstrip("/")
        text = f"/{name}" + (f" {args}" if args else "")
        entity = {"type": "bot_command", "offset": 0, "length": len(name) + 1}
        return self.message_update(user_id, text=text, entities=[entity])

    def callback_update(
        self,
        user_id: int,
        message: SentMessage | dict[str, Any] | None,
        callback_data: str | None,
        *,
        query_id: str | None = None,
    ) -> dict[str, Any]:
        """Build (not queue) a button press; the query is tracked like one of :meth:`press`
        (answerable once, listed by :meth:`unanswered_callbacks` until answered).

        ``message`` is a message the bot sent, any raw message dict (forged ones too), or
        None for a press without a message (as from an inline message).
        """
        query_id = query_id or f"{user_id}{secrets.randbelow(10**12):012d}"
        self._queries[query_id] = _Query(user_id=user_id, data=callback_data)
        query: dict[str, Any] = {
            "id": query_id,
            "from": self._user(user_id),
            "chat_instance": f"-{user_id}77",
        }
        if isinstance(message, SentMessage):
            query["message"] = message.raw
        elif message is not None:
            query["message"] = message
        else:
            query["inline_message_id"] = f"INLINE{secrets.token_hex(6)}"
        if callback_data is not None:
            query["data"] = callback_data
        return self.build_update({"callback_query": query})

    def photo_update(self, user_id: int, data: bytes, caption: str | None = None) -> dict[str, Any]:
        """Build (not queue) a photo message, in sizes like :meth:`send_photo`."""
        sizes = []
        thumbnails = [(90, data[: max(1, len(data) // 8)]), (320, data[: max(1, len(data) // 2)])]
        for width, part in [*thumbnails, (1280, data)]:
            stored = self.add_file(part, folder="photos", suffix=".jpg")
            sizes.append({
                "file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                "width": width, "height": width * 3 // 4, "file_size": len(part),
            })
        content: dict[str, Any] = {"photo": sizes}
        if caption:
            content["caption"] = caption
        return self.message_update(user_id, **content)

    def document_update(
        self, user_id: int, data: bytes, file_name: str | None,
        mime: str | None = "application/octet-stream", *, file_size: int | None = None,
    ) -> dict[str, Any]:
        """Build (not queue) a document message; name, type and size are the client's claims
        (None leaves the field out, as Telegram does when the client sent none)."""
        ext = (file_name or "").rsplit(".", 1)[-1] if "." in (file_name or "") else ""
        # The stored path takes a plain extension only: a hostile name ("../../x") is the
        # bot's business, not a reason for this server to serve the file under a path.
        suffix = f".{ext}" if ext.isascii() and ext.isalnum() and len(ext) <= 8 else ""
        stored = self.add_file(data, suffix=suffix)
        document: dict[str, Any] = {
            "file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
            "file_size": len(data) if file_size is None else file_size,
        }
        if file_name is not None:
            document["file_name"] = file_name
        if mime is not None:
            document["mime_type"] = mime
        return self.message_update(user_id, document=document)

    def sticker_update(self, user_id: int, emoji: str = "👍") -> dict[str, Any]:
        """Build (not queue) a sticker message."""
        stored = self.add_file(b"RIFF-sticker", folder="stickers", suffix=".webp")
        sticker = {
            "file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "type": "regular",
            "width": 512, "height": 512, "is_animated": False, "is_video": False, "emoji": emoji,
        }
        return self.message_update(user_id, sticker=sticker)

    def send_message(self, user_id: int, **content: Any) -> dict[str, Any]:
        """A message from a user with arbitrary content fields (``text=``, ``contact=``...)."""
        return self._enqueue(self.message_update(user_id, **content))

    def send_text(self, user_id: int, text: str) -> dict[str, Any]:
        """The user types ``text``."""
        return self.send_message(user_id, text=text)

    def send_command(self, user_id: int, command: str, args: str = "") -> dict[str, Any]:
        """The user sends ``/command [args]`` (the leading slash is optional here)."""
        name = command.lstrip("/")
        text = f"/{name}" + (f" {args}" if args else "")
        entity = {"type": "bot_command", "offset": 0, "length": len(name) + 1}
        return self.send_message(user_id, text=text, entities=[entity])

    def add_file(self, data: bytes, *, folder: str = "documents", suffix: str = "") -> _File:
        """Store bytes as a Telegram file (reachable by getFile and download)."""
        n = len(self._files) + 1
        stored = _File(
            file_id=f"FILE{n}_{secrets.token_hex(6)}",
            file_unique_id=f"U{n}{secrets.token_hex(3)}",
            file_path=f"{folder}/file_{n}{suffix}",
            data=data,
        )
        self._files[stored.file_id] = stored
        return stored

    def send_photo(self, user_id: int, data: bytes, caption: str | None = None) -> dict[str, Any]:
        """A photo; like Telegram it arrives as several sizes, the last one being ``data``."""
        sizes = []
        thumbnails = [(90, data[: max(1, len(data) // 8)]), (320, data[: max(1, len(data) // 2)])]
        for width, part in [*thumbnails, (1280, data)]:
            stored = self.add_file(part, folder="photos", suffix=".jpg")
            sizes.append({
                "file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                "width": width, "height": width * 3 // 4, "file_size": len(part),
            })
        content: dict[str, Any] = {"photo": sizes}
        if caption:
            content["caption"] = caption
        return self.send_message(user_id, **content)

    def send_document(
        self, user_id: int, data: bytes, file_name: str, mime: str = "application/octet-stream",
        *, file_size: int | None = None,
    ) -> dict[str, Any]:
        """A file sent as a document (``file_size`` may claim a different size than ``data``)."""
        suffix = "." + file_name.rsplit(".", 1)[-1] if "." in file_name else ""
        stored = self.add_file(data, suffix=suffix)
        document = {
            "file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
            "file_name": file_name, "mime_type": mime,
            "file_size": len(data) if file_size is None else file_size,
        }
        return self.send_message(user_id, document=document)

    def send_sticker(self, user_id: int, emoji: str = "👍") -> dict[str, Any]:
        stored = self.add_file(b"RIFF-sticker", folder="stickers", suffix=".webp")
        sticker = {
            "file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "type": "regular",
            "width": 512, "height": 512, "is_animated": False, "is_video": False, "emoji": emoji,
        }
        return self.send_message(user_id, sticker=sticker)

    def send_voice(
        self, user_id: int, data: bytes = b"OggS-voice", duration: int = 3
    ) -> dict[str, Any]:
        stored = self.add_file(data, folder="voice", suffix=".oga")
        voice = {
            "file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
            "duration": duration, "mime_type": "audio/ogg", "file_size": len(data),
        }
        return self.send_message(user_id, voice=voice)

    def send_location(
        self, user_id: int, latitude: float = 38.914, longitude: float = 121.614
    ) -> dict[str, Any]:
        return self.send_message(user_id, location={"latitude": latitude, "longitude": longitude})

    def send_contact(
        self, user_id: int, phone: str = "+8613800000000", name: str = "张三"
    ) -> dict[str, Any]:
        return self.send_message(user_id, contact={"phone_number": phone, "first_name": name})

    def edit_message(self, user_id: int, original: dict[str, Any], text: str) -> dict[str, Any]:
        """The user edits a message sent earlier (``original`` is the update returned for it)."""
        message = dict(original["message"])
        message.update(text=text, edit_date=int(time.time()))
        message.pop("entities", None)
        return self.inject_update({"edited_message": message})

    def press(self, user_id: int, message: SentMessage | int, callback_data: str) -> dict[str, Any]:
        """The user presses a button carrying ``callback_data`` under a bot message."""
        sent = message if isinstance(message, SentMessage) else self._messages[(user_id, message)]
        query_id = f"{user_id}{secrets.randbelow(10**12):012d}"
        self._queries[query_id] = _Query(user_id=user_id, data=callback_data)
        query = {
            "id": query_id,
            "from": self._user(user_id),
            "message": sent.raw,
            "chat_instance": f"-{user_id}77",
            "data": callback_data,
        }
        return self.inject_update({"callback_query": query})

    def press_button(
        self, user_id: int, text_or_index: str | int, *, message: SentMessage | None = None
    ) -> dict[str, Any]:
        """Press a button by label (exact or unique part) or flattened index; by default on
        the latest bot message to the user that still shows a keyboard."""
        if message is None:
            message = self.last_message(user_id, with_buttons=True)
        button = message.button(text_or_index)
        if button.callback_data is None:
            raise LookupError(f"button {button.text!r} is a link, not a callback button")
        return self.press(user_id, message, button.callback_data)

    # ------------------------------------------------------------------ faults
    def fail_next(
        self, method: str, count: int = 1, *, status: int, description: str,
        retry_after: int | None = None,
    ) -> None:
        """The next ``count`` calls of ``method`` fail with this error (and have no effect)."""
        self._faults.setdefault(method.lower(), []).append(
            _Fault(status, description, retry_after, count)
        )

    def flood_next(self, method: str = "sendMessage", count: int = 1, retry_after: int = 1) -> None:
        """The next calls hit the flood limit: 429 with ``retry_after``."""
        self.fail_next(
            method, count, status=429,
            description=f"Too Many Requests: retry after {retry_after}", retry_after=retry_after,
        )

    def block_next(self, method: str = "sendMessage", count: int = 1) -> None:
        """The next calls fail as if the user had blocked the bot: 403."""
        self.fail_next(
            method, count, status=403, description="Forbidden: bot was blocked by the user"
        )

    def _take_fault(self, method: str) -> ApiError | None:
        faults = self._faults.get(method)
        while faults:
            fault = faults[0]
            if fault.remaining <= 0:
                faults.pop(0)
                continue
            fault.remaining -= 1
            return ApiError(fault.status, fault.description, fault.retry_after)
        return None

    # ------------------------------------------------------------------ reading what the bot did
    def sent_to(self, user_id: int) -> list[SentMessage]:
        """Every message the bot sent to the user, oldest first."""
        return list(self._sent.get(user_id, []))

    def last_message(self, user_id: int, *, with_buttons: bool = False) -> SentMessage:
        """The latest bot message to the user (``with_buttons``: the latest showing a keyboard)."""
        for message in reversed(self._sent.get(user_id, [])):
            if not with_buttons or message.buttons:
                return message
        what = "message with buttons" if with_buttons else "message"
        raise LookupError(f"the bot sent user {user_id} no {what}")

    def new_messages(self, user_id: int) -> list[SentMessage]:
        """Messages not yet returned by the waiting helpers (marks them seen)."""
        sent = self._sent.get(user_id, [])
        fresh = sent[self._seen.get(user_id, 0):]
        self._seen[user_id] = len(sent)
        return fresh

    def mark_seen(self, user_id: int) -> None:
        """Forget unread messages: the next wait only returns later ones."""
        self._seen[user_id] = len(self._sent.get(user_id, []))

    async def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 10  # noqa: ASYNC109 - a deadline
    ) -> None:
        """Wait until ``predicate()`` holds (checked on every bot request and injection)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError("condition not met in time")
            assert self._sent_waker is not None
            await self._sent_waker.wait(min(remaining, 0.05))

    async def wait_for_messages(
        self, user_id: int, count: int = 1, timeout: float = 10  # noqa: ASYNC109
    ) -> list[SentMessage]:
        """The next ``count`` unseen bot messages to the user, waiting for them to arrive."""
        start = self._seen.get(user_id, 0)
        try:
            await self.wait_for(lambda: len(self._sent.get(user_id, [])) >= start + count, timeout)
        except TimeoutError:
            got = [m.text for m in self._sent.get(user_id, [])[start:]]
            raise TimeoutError(
                f"user {user_id}: wanted {count} new message(s), got {got}"
            ) from None
        self._seen[user_id] = start + count
        return self._sent[user_id][start: start + count]

    async def wait_for_reply(
        self, user_id: int, timeout: float = 10, quiet: float = 0.3  # noqa: ASYNC109
    ) -> list[SentMessage]:
        """All unseen bot messages once at least one arrived and the bot went quiet."""
        await self.wait_for_messages(user_id, 1, timeout)
        self._seen[user_id] -= 1
        await self.settle(quiet=quiet, timeout=timeout)
        return self.new_messages(user_id)

    async def settle(self, quiet: float = 0.3, timeout: float = 10) -> None:  # noqa: ASYNC109
        """Wait until every queued update was confirmed and the bot made no call for ``quiet`` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            idle = loop.time() - self._last_activity
            if not self._queue and idle >= quiet:
                return
            if loop.time() >= deadline:
                raise TimeoutError(f"bot still busy: {len(self._queue)} update(s) unconfirmed")
            await asyncio.sleep(min(0.05, max(0.01, quiet - idle)))

    def calls_to(self, method: str) -> list[ApiCall]:
        """Requests to one method (case-insensitive), including failed ones."""
        return [c for c in self.calls if c.method == method.lower()]

    @property
    def pending_updates(self) -> int:
        """Updates not yet confirmed by the bot."""
        return len(self._queue)

    def file_data(self, file_id: str) -> bytes:
        return self._files[file_id].data

    # ------------------------------------------------------------------ HTTP plumbing
    def _touch(self) -> None:
        self._last_activity = asyncio.get_running_loop().time()
        if self._sent_waker is not None:
            self._sent_waker.wake()

    def _wake_pollers(self) -> None:
        if self._updates_waker is not None:
            self._updates_waker.wake()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                for key, value in (await request.post()).items():
                    if isinstance(value, web.FileField):
                        params[key] = (value.filename, value.file.read(), value.content_type)
                    else:
                        params[key] = value
        return _decode(params)

    async def _handle_method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        method = request.match_info["method"].lower()
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        call = ApiCall(method, {})
        self.calls.append(call)
        try:
            call.params = await self._params(request)
            fault = self._take_fault(method)
            if fault is not None:
                raise fault
            result = await handler(call.params)
            call.status, body = 200, {"ok": True, "result": result}
        except ApiError as exc:
            call.status, body = exc.status, exc.body()
            call.description = exc.description
        if method != "getupdates":
            self._touch()
        return web.json_response(body, status=call.status)

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        path = request.match_info["path"]
        for stored in self._files.values():
            if stored.file_path == path:
                self._touch()
                return web.Response(body=stored.data, content_type="application/octet-stream")
        return web.json_response(ApiError(404, "Not Found").body(), status=404)

    # ------------------------------------------------------------------ methods: updates
    async def _api_getme(self, params: dict[str, Any]) -> Any:
        return self.bot_user

    async def _api_getupdates(self, params: dict[str, Any]) -> Any:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_pollers()  # an older waiting poll ends with a conflict
        offset = _int(params, "offset", 0)
        limit = min(max(_int(params, "limit", 100), 1), 100)
        timeout = max(_int(params, "timeout", 0), 0)
        if "allowed_updates" in params:
            allowed = params["allowed_updates"]
            self._allowed = list(allowed) if allowed else None
        if offset > 0:
            self._confirmed_upto = max(self._confirmed_upto, offset)
        self._queue = [
            q for q in self._queue if not (q.delivered and q.update_id < self._confirmed_upto)
        ]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            if self._allowed is not None:
                allowed = self._allowed
                self.dropped_updates += [q.update for q in self._queue if q.kind not in allowed]
                self._queue = [q for q in self._queue if q.kind in allowed]
            batch = self._queue[:limit]
            if batch or self._closing or loop.time() >= deadline:
                for queued in batch:
                    queued.delivered = True
                return [q.update for q in batch]
            assert self._updates_waker is not None
            await self._updates_waker.wait(deadline - loop.time())

    async def _api_setwebhook(self, params: dict[str, Any]) -> Any:
        url = params.get("url") or ""
        if not url:
            self.webhook = None
            return True
        self.webhook = {
            "url": url,
            "secret_token": params.get("secret_token"),
            "allowed_updates": params.get("allowed_updates"),
        }
        if _bool(params, "drop_pending_updates"):
            self._queue.clear()
        self._wake_pollers()
        return True

    async def _api_deletewebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = None
        if _bool(params, "drop_pending_updates"):
            self._queue.clear()
        return True

    async def _api_getwebhookinfo(self, params: dict[str, Any]) -> Any:
        info: dict[str, Any] = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self.webhook and self.webhook.get("allowed_updates"):
            info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    async def _api_close(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_logout(self, params: dict[str, Any]) -> Any:
        return True

    # ------------------------------------------------------------------ methods: commands
    @staticmethod
    def _command_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return (scope.get("type", "default"), params.get("language_code") or "")

    async def _api_setmycommands(self, params: dict[str, Any]) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: commands must be an array")
        for command in commands:
            if not _COMMAND_NAME.match(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._command_key(params)] = commands
        return True

    async def _api_getmycommands(self, params: dict[str, Any]) -> Any:
        return self.commands.get(self._command_key(params), [])

    async def _api_deletemycommands(self, params: dict[str, Any]) -> Any:
        self.commands.pop(self._command_key(params), None)
        return True

    # ------------------------------------------------------------------ methods: messages
    def _chat_id(self, params: dict[str, Any]) -> int:
        chat_id = _int(params, "chat_id")
        if chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _record(
        self, method: str, chat_id: int, params: dict[str, Any], content: dict[str, Any],
        *, text: str | None, file_name: str | None = None, file_data: bytes | None = None,
    ) -> dict[str, Any]:
        markup = params.get("reply_markup")
        _check_markup(markup)
        message_id = self._next_message_id(chat_id)
        raw: dict[str, Any] = {
            "message_id": message_id, "from": self.bot_user, "chat": self._chat(chat_id),
            "date": int(time.time()), **content,
        }
        if markup and markup.get("inline_keyboard"):
            raw["reply_markup"] = markup
        else:
            markup = None
        sent = SentMessage(
            message_id=message_id, chat_id=chat_id, method=method, text=text,
            reply_markup=markup, parse_mode=params.get("parse_mode") or None, raw=raw,
            original_markup=markup, file_name=file_name, file_data=file_data,
        )
        self._sent.setdefault(chat_id, []).append(sent)
        self._messages[(chat_id, message_id)] = sent
        return raw

    @staticmethod
    def _check_text(text: str, parse_mode: str | None, limit: int, what: str) -> None:
        if len(text) > limit:
            raise ApiError(400, f"Bad Request: {what} is too long")
        if parse_mode and parse_mode.upper() == "HTML":
            _check_html(text)

    async def _api_sendmessage(self, params: dict[str, Any]) -> Any:
        chat_id = self._chat_id(params)
        text = str(params.get("text") or "")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        self._check_text(text, params.get("parse_mode"), MAX_TEXT, "message")
        return self._record("sendMessage", chat_id, params, {"text": text}, text=text)

    def _upload(self, params: dict[str, Any], field_name: str) -> tuple[str, bytes, str | None]:
        value = params.get(field_name)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
        if isinstance(value, tuple):
            file_name, data, mime = value
            return file_name, data, mime
        if isinstance(value, str) and value in self._files:
            stored = self._files[value]
            return stored.file_path.rsplit("/", 1)[-1], stored.data, None
        raise ApiError(400, f"Bad Request: there is no {field_name} in the request")

    async def _send_file(self, params: dict[str, Any], field_name: str, method: str) -> Any:
        chat_id = self._chat_id(params)
        file_name, data, mime = self._upload(params, field_name)
        caption = params.get("caption")
        if caption:
            self._check_text(caption, params.get("parse_mode"), MAX_CAPTION, "message caption")
        stored = self.add_file(data, folder=f"{field_name}s")
        meta: dict[str, Any] = {
            "file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
            "file_size": len(data),
        }
        if field_name == "photo":
            content: dict[str, Any] = {"photo": [{**meta, "width": 1280, "height": 960}]}
        else:
            content = {field_name: {**meta, "file_name": file_name,
                                    "mime_type": mime or "application/octet-stream"}}
        if caption:
            content["caption"] = caption
        return self._record(method, chat_id, params, content, text=caption,
                            file_name=file_name, file_data=data)

    async def _api_senddocument(self, params: dict[str, Any]) -> Any:
        return await self._send_file(params, "document", "sendDocument")

    async def _api_sendphoto(self, params: dict[str, Any]) -> Any:
        return await self._send_file(params, "photo", "sendPhoto")

    async def _api_sendchataction(self, params: dict[str, Any]) -> Any:
        self._chat_id(params)
        return True

    def _editable(self, params: dict[str, Any]) -> SentMessage:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        key = (_int(params, "chat_id"), _int(params, "message_id"))
        sent = self._messages.get(key)
        if sent is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        return sent

    @staticmethod
    def _new_markup(params: dict[str, Any]) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        _check_markup(markup)
        return markup if markup and markup.get("inline_keyboard") else None

    def _apply_edit(
        self, sent: SentMessage, text: str | None, markup: dict[str, Any] | None
    ) -> Any:
        if text == sent.text and markup == sent.reply_markup:
            raise ApiError(400, _NOT_MODIFIED)
        sent.text = text
        sent.reply_markup = markup
        sent.edits += 1
        key = "text" if sent.method == "sendMessage" else "caption"
        if text is not None:
            sent.raw[key] = text
        sent.raw["edit_date"] = int(time.time())
        if markup is None:
            sent.raw.pop("reply_markup", None)
        else:
            sent.raw["reply_markup"] = markup
        return sent.raw

    async def _api_editmessagetext(self, params: dict[str, Any]) -> Any:
        sent = self._editable(params)
        text = str(params.get("text") or "")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        self._check_text(text, params.get("parse_mode"), MAX_TEXT, "message")
        return self._apply_edit(sent, text, self._new_markup(params))

    async def _api_editmessagereplymarkup(self, params: dict[str, Any]) -> Any:
        sent = self._editable(params)
        return self._apply_edit(sent, sent.text, self._new_markup(params))

    async def _api_answercallbackquery(self, params: dict[str, Any]) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        query = self._queries.get(query_id)
        if query is None or query.answered:
            raise ApiError(400, _QUERY_TOO_OLD)
        text = params.get("text") or None
        if text is not None and len(text) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        query.answered = True
        self.answered_callbacks.append(
            AnsweredCallback(query_id, query.user_id, query.data, text, _bool(params, "show_alert"))
        )
        return True

    def refused_calls(self, *methods: str) -> list[ApiCall]:
        """Calls that got an error (4xx/5xx), of the given methods or of all."""
        wanted = {m.lower() for m in methods}
        return [
            c for c in self.calls if c.status >= 400 and (not wanted or c.method in wanted)
        ]

    def unanswered_callbacks(self) -> list[str]:
        """Ids of pressed buttons the bot has not answered (Telegram keeps a spinner on them)."""
        return [qid for qid, q in self._queries.items() if not q.answered]

    # ------------------------------------------------------------------ methods: files
    async def _api_getfile(self, params: dict[str, Any]) -> Any:
        stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if len(stored.data) > MAX_DOWNLOAD:
            raise ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data), "file_path": stored.file_path,
        }
