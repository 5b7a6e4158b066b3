"""A scripted applicant: decides a valid next move for any program definition.

Tests drive the same script through different transports (the conversation
service, the fake Bot API, a real ``studiobot run`` process).  The script
looks at the application's stored cursor to know which question is asked:
that is the state a real user sees on screen.
"""

from __future__ import annotations

import copy
import datetime as dt
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from dialogs import tables
from dialogs.conditions import evaluate
from dialogs.engine import Walker
from dialogs.qtypes._upload import accepts_mime
from dialogs.qtypes.base import stable_key
from dialogs.qtypes.group import asked_fields
from dialogs.schema import Program, QType, Question
from dialogs.ui import Action, ButtonIn, FileIn, Inbound, Outcome, TextIn
from storage.files import MIME_MP4, MIME_PDF, MIME_PNG


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


def pdf(seed: int) -> bytes:
    """A small valid one-page PDF whose text depends on ``seed`` (so files differ)."""
    text = f"BT /F1 12 Tf 72 720 Td (proof {seed}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def mp4(seed: int) -> bytes:
    """The first box of an MP4 video (what the type is judged by), varied by ``seed``."""
    ftyp = b"ftypisom\x00\x00\x02\x00isomiso2avc1mp41"
    free = b"free" + bytes([seed % 256]) * 8
    return struct.pack(">I", len(ftyp) + 4) + ftyp + struct.pack(">I", len(free) + 4) + free


def upload_for(q: Question, n: int) -> Upload:
    """The ``n``-th file sent to upload question ``q``: a photo question gets a PNG, a
    file question a PDF (a scan of the material) where it takes one, else a picture,
    else an MP4 (a video question)."""
    if q.type == QType.FILE and accepts_mime(q, MIME_PDF):
        return Upload(pdf(n), f"材料{n}.pdf", MIME_PDF)
    if accepts_mime(q, MIME_PNG):
        return Upload(png(n), f"photo{n}.png", MIME_PNG)
    return Upload(mp4(n), f"video{n}.mp4", MIME_MP4)


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
        # 总数 of five parts of 5 (CCCC's 培养人才: the grades add up to it)
        guess = 30 if "人数" in q.label else 25 if "总数" in q.label else 5
        return str(min(max(guess, low), high))
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


class Applicant:
    """Chooses the next move from the stored application state.

    The one scripted user of the tests and the benchmarks.  ``long_chars`` is
    the length aimed at for long texts (at least what the question demands),
    sent ``paragraphs`` paragraphs a message; ``rows`` the rows put into each
    group (at least what it demands); without ``uploads`` a photo or file
    question is an error (benchmarks pick programs without them).
    """

    def __init__(
        self,
        program: Program,
        today: dt.date,
        *,
        long_chars: int = 0,
        paragraphs: int = 1,
        rows: int = 0,
        uploads: bool = True,
        unit: str = "申报单位示例",
        paste: bool = False,
        whole: bool = False,
    ) -> None:
        self.unit = unit
        """What is typed at the organisation question (the first match is picked)."""
        self.program = program
        self.today = today
        self.long_chars = long_chars
        self.message = LONG_PARAGRAPH * paragraphs
        self.rows = rows
        self.allow_uploads = uploads
        self.paste = paste
        """Tables of three rows or more are pasted in one message and confirmed."""
        self.whole = whole
        """A long text is sent in one message of the length wanted (pasted from a text
        prepared beforehand), not ``paragraphs`` at a time."""
        self.uploads = 0
        self.confirming: tuple[dict[str, Any], dict[str, Any]] | None = None
        """The state 提交 was pressed in (its confirmation is on screen)."""

    def next_move(self, answers: dict[str, Any], cursor: dict[str, Any]) -> Move:
        w = Walker(self.program, answers, cursor, today=self.today)
        if w.mode == "preview":
            return self._at_preview(w, answers, cursor)
        self.confirming = None
        if w.mode == "done":
            raise StopIteration
        q = w.question()
        if q.type == QType.GROUP and not w.in_row():
            return self._table(q, w)
        if w.row_fill():  # the first team row: the leader's own details, one tap
            return Press(Action.ROW_FROM_LEADER, int(w.cur["row"]))
        target, value, _ = w.target()
        if target.type == QType.LONGTEXT:
            return self._long_text(target, "\n".join(w.scratch.get("buf") or []))
        if target.suggest and w.suggestions(target):
            return Press(Action.SUGGEST, 0)
        if target.type in (QType.PHOTO, QType.FILE):
            return self._upload(target, len(value or []))
        if target.type == QType.ORG:
            return self._organisation(w.scratch)
        if target.type == QType.YESNO and not w.in_row():
            return Press(Action.CHOOSE, self._yes_or_no(target, answers))
        return _pick(target, w.scratch) or Text(self._total(target, answers) or text_for(target))

    def _at_preview(self, w: Walker, answers: dict[str, Any], cursor: dict[str, Any]) -> Move:
        """提交, then 确认提交; where a rule of the seed forbids submitting, the answer it
        names is opened instead (then answered as any other, e.g. the studio's name
        suggested again)."""
        blocked = w.blocked()
        if blocked:
            self.confirming = None
            return Press(Action.EDIT_ANSWER, 0, stable_key(blocked[0].question.id))
        # 提交 asks for a confirmation, which changes nothing stored: pressed
        # again in the same state, the person confirms.
        state = copy.deepcopy((answers, cursor))
        confirm = self.confirming == state
        self.confirming = None if confirm else state
        return Press(Action.SUBMIT_OK if confirm else Action.SUBMIT)

    def _yes_or_no(self, q: Question, answers: dict[str, Any]) -> int:
        """是, unless 是 breaks a rule that forbids submitting (Yangpu's 往年已命名)."""
        said_yes = {**answers, q.id: True}
        for check in self.program.checks:
            if check.blocks and q.id in check.when.fields() and evaluate(check.when, said_yes):
                return 0
        return 1

    def _rows_needed(self, q: Question) -> int:
        """The fewest rows a rule that forbids submitting accepts (a team of three)."""
        least = 0
        for check in self.program.checks:
            if check.blocks and check.when.field == q.id and check.when.rows_lt is not None:
                least = max(least, check.when.rows_lt)
        return least

    def _total(self, q: Question, answers: dict[str, Any]) -> str | None:
        """The sum of a total's parts when they are all answered already (a person who
        makes no mistake adds up: CCCC's 近两年 成果 after each year's)."""
        for rule in self.program.totals:
            parts = [answers.get(p) for p in rule.parts]
            if rule.total == q.id and all(isinstance(v, int) for v in parts):
                return str(sum(v for v in parts if isinstance(v, int)))
        return None

    def _table(self, q: Question, w: Walker) -> Move:
        """At a table's menu: paste the rows (three or more), or add them one by one."""
        need = max(q.min_rows or 0, 1 if q.required else 0, 1, self.rows, self._rows_needed(q))
        if q.max_rows is not None:
            need = min(need, q.max_rows)
        if self.paste and need >= PASTED_ROWS and len(w.rows()) < need:
            return _paste(q, need - len(w.rows()), w.scratch)
        return Press(Action.ROW_ADD) if len(w.rows()) < need else Press(Action.DONE)

    def _organisation(self, scratch: dict[str, Any]) -> Move:
        """Type the unit's name, then pick the first match (or keep the typed name)."""
        if scratch.get("typed") != self.unit:
            return Text(self.unit)
        found = scratch.get("found") or []
        return Press(Action.CHOOSE, 0, stable_key(found[0][0]) if found else "typed")

    def _long_text(self, q: Question, written: str) -> Move:
        want = max(q.min_chars or 0, 20, self.long_chars) + 10
        if q.max_chars:
            want = min(want, q.max_chars)
        if len(written) >= want:
            return Press(Action.DONE)
        if self.whole:
            return Text((LONG_PARAGRAPH * (want // len(LONG_PARAGRAPH) + 1))[:want])
        return Text(self.message)

    def _upload(self, q: Question, count: int) -> Move:
        if not self.allow_uploads:
            raise ValueError(f"{self.program.id} asks for an upload; pick another program")
        if q.type == QType.FILE and not q.required and count == 0:
            return Press(Action.SKIP)  # optional materials (补充材料, 视频): none to give
        need = q.min_files or (1 if q.required else 0)
        if count >= max(need, 1):
            return Press(Action.DONE)
        self.uploads += 1
        return upload_for(q, self.uploads)


PASTED_ROWS = 3
"""From how many rows a table is pasted rather than filled row by row."""


def _paste(group: Question, count: int, scratch: dict[str, Any]) -> Move:
    """The rows as one message, one a line, cells separated by tabs (a paste from
    Excel); once read, the press that confirms them."""
    waiting = tables.Pending.of(scratch).rows
    if waiting:
        return Press(Action.TABLE_OK, len(waiting))
    line = "\t".join(_cell(f) for f in asked_fields(group))
    return Text("\n".join([line] * count))


def _cell(q: Question) -> str:
    """A valid cell of a pasted row: the first option of a choice, else a typed answer."""
    if q.options:
        return q.options[0].label
    if q.type == QType.YESNO:
        return "是"
    return text_for(q)


def _pick(q: Question, scratch: dict[str, Any]) -> Move | None:
    """The press that answers a question with buttons (its first option, or 是)."""
    first = stable_key(q.options[0].id) if q.options else ""
    if q.type == QType.CHOICE:
        return Press(Action.CHOOSE, 0, first)
    if q.type == QType.YESNO:
        return Press(Action.CHOOSE, 1)
    if q.type == QType.MULTICHOICE:
        return Press(Action.DONE) if scratch.get("sel") else Press(Action.TOGGLE, 0, first)
    return None


def event_for(move: Move, last: Outcome) -> Inbound:
    """The inbound event a move is, its buttons' state taken from the newest reply that
    showed buttons (as a person taps the message in front of them)."""
    if isinstance(move, Text):
        return TextIn(move.text)
    if isinstance(move, Upload):
        data = move.data

        async def fetch() -> bytes:
            return data

        sent_as = "photo" if move.mime_type.startswith("image/") else "document"
        return FileIn(sent_as, move.file_name, move.mime_type, len(data), "test", fetch)
    shown = next((r for r in reversed(last.replies) if r.buttons), last.replies[-1])
    return ButtonIn(move.action, move.arg, shown.application_id, shown.revision, move.key)
