"""Several rows of a table at once: a block pasted from Excel or WeChat, or the
cells of an uploaded sheet, read into rows of a repeating group.

A team of thirty is 150 answers when walked field by field; pasted, it is one
message.  People paste what they have: Excel gives tab-separated cells, WeChat
lists use commas (，,), 、 or spaces, some lines are numbered, some blocks start
with the column names.  Each line is one row; its cells are the group's asked
fields in order, each read by its field's own type (``kind(field).parse``), so
a pasted row passes exactly the checks a row typed field by field passes.  A
line that cannot be read is named with why (its number, the field, the
refusal) and the good lines are kept: one typo must not cost the other 29.

What was read waits in the cursor's scratch as a :class:`Pending` (plain JSON,
so it survives leaving, resuming and a restart) until the user confirms it.
Nothing here knows the engine, a transport or a language.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dialogs.qtypes import kind
from dialogs.qtypes.base import InvalidAnswer, NotTyped
from dialogs.qtypes.group import asked_fields
from dialogs.schema import Question

SCRATCH_KEY = "paste"
"""Where the rows waiting for confirmation live inside the cursor's scratch ``s``."""

LINE_CHARS = 40
"""A refused line is quoted up to this many characters."""

MAX_LINES = 500
"""Lines read from one message or sheet (a pasted novel is not a table)."""

SHEET_LIMIT_BYTES = 5 * 1024 * 1024
"""The largest spreadsheet taken (a filled-in template is a few kilobytes)."""

_STRONG = re.compile(r"[,，、;；]")
_SPACES = re.compile(r"\s+")
_NUMBERED = re.compile(r"\d{1,3}[.、．)）]?")
_NUMBER_MARK = re.compile(r"\s*\d{1,3}\s*[.、．)）](?!\d)\s*")
"""「1、」「2.」「3）」 opening a line of a numbered list."""
_ROW_NUMBER_LABELS = ("序号", "编号", "No.", "No", "#")


@dataclass(frozen=True)
class BadLine:
    """A line that could not be read: its number, the line itself, and why.

    ``column`` names the field whose cell was refused with ``key``/``params``
    (a ``validation.*`` refusal of that field's type); without one, the line
    as a whole was wrong: ``missing`` lists required columns it lacks, or ``key``
    says it has more cells than the table has columns.
    """

    n: int
    text: str
    column: str = ""
    key: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    missing: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "text": self.text,
            "column": self.column,
            "key": self.key,
            "params": self.params,
            "missing": list(self.missing),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BadLine:
        return cls(
            n=int(data.get("n", 0)),
            text=str(data.get("text", "")),
            column=str(data.get("column", "")),
            key=str(data.get("key", "")),
            params=dict(data.get("params") or {}),
            missing=tuple(str(m) for m in data.get("missing") or []),
        )


@dataclass
class Reading:
    """What one message or sheet gave: good rows (with the line each came from)
    and the lines that could not be read."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)
    last: int = 0
    """The number of the last line looked at (the next message goes on from it)."""
    header: bool = False
    """Whether a line naming the columns was seen (and skipped)."""


@dataclass
class Pending:
    """Rows read and not yet confirmed, kept in the cursor between messages: a block
    the terminal delivers line by line, or a correction sent after the first paste,
    adds to what waits."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)
    last: int = 0

    def __bool__(self) -> bool:
        return bool(self.rows or self.bad)

    @classmethod
    def of(cls, scratch: dict[str, Any]) -> Pending:
        data = scratch.get(SCRATCH_KEY)
        if not isinstance(data, dict):
            return cls()
        rows = [r for r in data.get("rows") or [] if isinstance(r, dict)]
        lines = [int(n) for n in data.get("lines") or []][: len(rows)]
        bad = [BadLine.from_json(b) for b in data.get("bad") or [] if isinstance(b, dict)]
        return cls(rows, lines, bad, int(data.get("last", 0)))

    def plus(self, reading: Reading) -> Pending:
        return Pending(
            [*self.rows, *reading.rows],
            [*self.lines, *reading.lines],
            [*self.bad, *reading.bad],
            max(self.last, reading.last),
        )

    def to_scratch(self) -> dict[str, Any]:
        return {
            SCRATCH_KEY: {
                "rows": self.rows,
                "lines": self.lines,
                "bad": [b.to_json() for b in self.bad],
                "last": self.last,
            }
        }


# --------------------------------------------------------------------------- text


def split_cells(line: str, width: int) -> list[str]:
    """The cells of one pasted line.

    Tabs (a paste from Excel) are exact: nothing else separates.  Otherwise
    commas, 、 and semicolons separate; when they give fewer cells than the
    table has columns, runs of spaces separate too (「张三 男 钳工」, or mixed:
    「张三，男 钳工」).  Empty cells at the end are dropped.
    """
    if "\t" in line:
        cells = [c.strip() for c in line.split("\t")]
    else:
        cells = [c.strip() for c in _STRONG.split(line)]
        if len(cells) < width:
            cells = [w for c in cells for w in (_SPACES.split(c) if c else [""])]
    return _trimmed(cells)


def _norm(text: str) -> str:
    return _SPACES.sub("", text).casefold()


def _drop_row_number(cells: list[str], fields: Sequence[Question]) -> list[str]:
    """A numbered list (「1、张三、男…」, 「序号 姓名 …」) loses its number column when the
    table has none."""
    if len(cells) != len(fields) + 1 or kind(fields[0]).numeric:
        return cells
    first = cells[0]
    if _NUMBERED.fullmatch(first) or first in _ROW_NUMBER_LABELS:
        return cells[1:]
    return cells


def is_header(cells: Sequence[str], fields: Sequence[Question]) -> bool:
    """Whether a line names the columns (the first ones at least) instead of giving a row."""
    labels = [_norm(f.label) for f in fields]
    named = [_norm(c) for c in cells]
    return len(named) >= min(2, len(labels)) and named == labels[: len(named)]


def read_text(group: Question, text: str, *, today: dt.date, first: int = 1) -> Reading:
    """Rows from a pasted block: one line a row.  ``first`` numbers the first line
    (a block continuing an earlier one goes on counting)."""
    fields = asked_fields(group)
    reading = Reading(last=first - 1)
    for n, line in enumerate(text.split("\n")[:MAX_LINES], start=first):
        reading.last = n
        if not line.strip():
            continue
        if not kind(fields[0]).numeric:
            line = _NUMBER_MARK.sub("", line, count=1) if _NUMBER_MARK.match(line) else line
        cells = _drop_row_number(split_cells(line, len(fields)), fields)
        if not any(cells):  # separators only
            continue
        if is_header(cells, fields):
            reading.header = True
            continue
        if len(cells) > len(fields) and "\t" not in line:
            cells = _join_surplus(cells, fields)
        _read_row(reading, n, line.strip(), cells, fields, today)
    return reading


def _join_surplus(cells: list[str], fields: Sequence[Question]) -> list[str]:
    """Spaces inside the last cell (「北京 城建集团」) when the last column is plain text."""
    if fields[-1].type != "text":
        return cells
    width = len(fields)
    return [*cells[: width - 1], " ".join(cells[width - 1 :])]


def _read_row(
    reading: Reading,
    n: int,
    line: str,
    cells: Sequence[str],
    fields: Sequence[Question],
    today: dt.date,
) -> None:
    """Read one line's cells into a row of ``reading``, or name it as bad."""
    shown = _clip(line)
    if len(cells) > len(fields):
        reading.bad.append(
            BadLine(n, shown, key="table.bad.too_many", params={"count": len(cells)})
        )
        return
    row: dict[str, Any] = {}
    for f, cell in zip(fields, [*cells, *[""] * (len(fields) - len(cells))], strict=True):
        if not cell:
            row[f.id] = None
            continue
        try:
            row[f.id] = kind(f).parse(f, cell, today=today)
        except InvalidAnswer as err:
            reading.bad.append(BadLine(n, shown, f.id, err.key, _plain(err.params)))
            return
        except NotTyped:
            reading.bad.append(BadLine(n, shown, f.id, "table.bad.not_typed"))
            return
    missing = tuple(f.id for f in fields if f.required and row.get(f.id) is None)
    if missing:
        reading.bad.append(BadLine(n, shown, missing=missing))
        return
    reading.rows.append(row)
    reading.lines.append(n)


def _plain(params: dict[str, object]) -> dict[str, Any]:
    """A refusal's parameters as JSON (they are kept in the cursor until confirmed)."""
    return {k: v if isinstance(v, str | int | float) else str(v) for k, v in params.items()}


def _clip(line: str) -> str:
    return line if len(line) <= LINE_CHARS else line[:LINE_CHARS] + "…"


def one_cell(group: Question, text: str) -> bool:
    """Whether ``text`` is one line of one cell while the table has several columns."""
    width = len(asked_fields(group))
    return width > 1 and "\n" not in text.strip() and len(split_cells(text, width)) <= 1


def looks_like_rows(group: Question, text: str, *, today: dt.date) -> bool:
    """Whether text typed where a new row's first field is asked is plainly several
    rows or several fields (several lines, a tab, or a whole good row) rather than
    that one field's answer."""
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) > 1 or "\t" in text:
        return True
    fields = asked_fields(group)
    if len(fields) < 2 or len(split_cells(text, len(fields))) < 2:
        return False
    reading = read_text(group, text, today=today)
    return bool(reading.rows)


# --------------------------------------------------------------------------- sheets


def read_grid(
    group: Question,
    grid: Sequence[Sequence[str]],
    *,
    today: dt.date,
    hints: Sequence[str] = (),
) -> Reading:
    """Rows from a sheet's cells (row 1 first, as the spreadsheet numbers them).

    A header row (found among the first rows by the fields' labels) decides which
    column is which field, so columns may be reordered or extra ones added; the
    template's hint row (``hints``, one per field) is skipped.  A sheet without
    a header is read by position, like a paste.
    """
    fields = asked_fields(group)
    at, columns = _header(grid, fields)
    reading = Reading()
    hint_cells = [_norm(h) for h in hints]
    for n, raw in enumerate(grid[:MAX_LINES], start=1):
        reading.last = n
        if n <= at:
            continue
        if at:
            cells = [raw[c].strip() if c is not None and c < len(raw) else "" for c in columns]
        else:
            cells = _drop_row_number(_trimmed([c.strip() for c in raw]), fields)
        cells = _trimmed(cells)
        if not cells or is_header(cells, fields):
            continue
        if [_norm(c) for c in cells] == hint_cells[: len(cells)]:
            continue
        _read_row(reading, n, "  ".join(c for c in cells if c), cells, fields, today)
    return reading


def _trimmed(cells: list[str]) -> list[str]:
    """``cells`` without the empty ones at the end."""
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _header(
    grid: Sequence[Sequence[str]], fields: Sequence[Question]
) -> tuple[int, list[int | None]]:
    """The header's row number and, per field, its column (None: no such column);
    (0, by position) when no row names the fields."""
    labels = {_norm(f.label): i for i, f in enumerate(fields)}
    for n, raw in enumerate(grid[:10], start=1):
        columns: list[int | None] = [None] * len(fields)
        for c, cell in enumerate(raw):
            i = labels.get(_norm(cell))
            if i is not None and columns[i] is None:
                columns[i] = c
        if sum(c is not None for c in columns) >= min(2, len(fields)):
            return n, columns
    return 0, list(range(len(fields)))


def field_labels(group: Question) -> list[str]:
    """The asked fields' labels, in the order a pasted line gives them."""
    return [f.label for f in asked_fields(group)]


def missing_labels(group: Question, ids: Iterable[str]) -> list[str]:
    by_id = {f.id: f.label for f in asked_fields(group)}
    return [by_id.get(i, i) for i in ids]
