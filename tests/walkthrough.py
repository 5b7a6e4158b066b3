"""A scripted applicant: decides a valid next move for any program definition.

Tests drive the same script through different transports (the conversation
service, the fake Bot API, a real ``studiobot run`` process).  The script
looks at the application's stored cursor to know which question is asked:
that is the state a real user sees on screen.
"""

from __future__ import annotations

import datetime as dt
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from dialogs.engine import Walker
from dialogs.qtypes.base import stable_key
from dialogs.schema import Program, QType, Question
from dialogs.ui import Action


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Press:
    action: Action
    arg: int = 0
    key: str = ""


@dataclass(frozen=True)
class Upload:
    data: bytes
    file_name: str
    mime_type: str


Move = Text | Press | Upload


def png(seed: int, size: int = 4) -> bytes:
    """A small valid PNG whose pixels depend on ``seed`` (so files differ)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    raw = b"".join(b"\x00" + bytes([(seed * 37 + y) % 256, 80, 160] * size) for y in range(size))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


LONG_PARAGRAPH = (
    "本工作室围绕生产中的重点难点问题开展技术攻关，组织师带徒和技能培训，"
    "近两年完成创新项目多项，取得了良好的经济效益和社会效益。"
)


def text_for(q: Question) -> str:
    """A valid typed answer for a text-parsed question."""
    t = q.type
    if t == QType.TEXT:
        if any(word in q.label for word in ("姓名", "负责人", "带头人", "领衔人")):
            return "张伟"
        return f"{q.label[:12]}示例"
    if t == QType.INTEGER:
        low = int(q.min) if q.min is not None else 0
        high = int(q.max) if q.max is not None else 10_000
        return str(min(max(30 if "人数" in q.label or "总数" in q.label else 5, low), high))
    if t == QType.NUMBER:
        return "35.5"
    if t == QType.MONEY:
        return "12.5"
    if t == QType.YEARMONTH:
        return "1985年3月"
    if t == QType.DATE:
        return "20260520"
    if t == QType.PHONE:
        return "0411-82610410"
    raise ValueError(f"no typed answer for {t}")


def long_text(q: Question) -> list[str]:
    """Messages making up a long answer of at least ``min_chars`` characters."""
    need = max(q.min_chars or 0, 20)
    parts: list[str] = []
    while sum(len(p) for p in parts) < need + 10:
        parts.append(LONG_PARAGRAPH)
    return parts


class Applicant:
    """Chooses the next move from the stored application state."""

    def __init__(self, program: Program, today: dt.date) -> None:
        self.program = program
        self.today = today
        self.uploads = 0
        self.pending: list[Move] = []

    def next_move(self, answers: dict[str, Any], cursor: dict[str, Any]) -> Move:
        if self.pending:
            return self.pending.pop(0)
        w = Walker(self.program, answers, cursor, today=self.today)
        if w.mode == "preview":
            return Press(Action.SUBMIT)
        if w.mode == "done":
            raise StopIteration
        q = w.question()
        if q.type == QType.GROUP and not w.in_row():
            rows = w.rows()
            if len(rows) < max(q.min_rows or 0, 1 if q.required else 0, 1):
                return Press(Action.ROW_ADD)
            return Press(Action.DONE)
        target, value, _ = w.target()
        if target.suggest and w.suggestions(target):
            return Press(Action.SUGGEST, 0)
        t = target.type
        first = stable_key(target.options[0].id) if target.options else ""
        if t == QType.CHOICE:
            return Press(Action.CHOOSE, 0, first)
        if t == QType.YESNO:
            return Press(Action.CHOOSE, 1)
        if t == QType.MULTICHOICE:
            if w.scratch.get("sel"):
                return Press(Action.DONE)
            return Press(Action.TOGGLE, 0, first)
        if t == QType.LONGTEXT:
            if w.scratch.get("buf"):
                return Press(Action.DONE)
            parts = long_text(target)
            self.pending = [Text(p) for p in parts[1:]]
            return Text(parts[0])
        if t in (QType.PHOTO, QType.FILE):
            count = len(value or [])
            need = target.min_files or (1 if target.required else 0)
            if count >= max(need, 1):
                return Press(Action.DONE)
            self.uploads += 1
            return Upload(png(self.uploads), f"photo{self.uploads}.png", "image/png")
        return Text(text_for(target))
