"""Workbooks of declarations for union staff: one program's submitted declarations
as an .xlsx, for counting, filtering and filing in Excel or WPS.

The first sheet has one row per declaration (its number, status, the level of
the review chain it is at, its organisation, the dates it was submitted and
decided, then one column per question, the label as header); each repeating
table (the team's members) has a sheet of its own, one row per table row,
with the declaration's number and studio name on each.  Dates are Excel dates,
counts and amounts numbers, the options of a multiple choice joined with 、.

Nothing a person typed is ever evaluated: a text starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is written as text with Excel's own
leading-apostrophe mark (``quotePrefix``), so it shows as typed and stays text
when the cell is edited.  The workbook streams (openpyxl's write-only mode):
rows go to disk as they come, a batch of declarations at a time, so its
memory does not grow with the number of declarations.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.i18n import Locale
from dialogs.qtypes import kind
from dialogs.qtypes._numbers import Amount
from dialogs.qtypes._parsing import to_decimal
from dialogs.qtypes.sum import Sum
from dialogs.schema import Program, Question
from storage import exports as data
from storage.exports import EXPORTED_VALUES, Declared

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (or a DDE call)."""

CELL_CHARS = 32767
"""The most characters an Excel cell holds; a longer text is cut there."""

ILLEGAL = re.compile(r"[\000-\010\013\014\016-\037]")
"""Control characters an .xlsx cannot hold (openpyxl refuses them)."""

MEASURED_ROWS = 200
"""Rows a sheet holds back to fit its column widths before streaming (write-only
sheets fix their widths before the first row)."""

WIDTH_MIN, WIDTH_MAX = 6, 50
DATE_FORMAT, MONTH_FORMAT = "yyyy-mm-dd", "yyyy-mm"
UPLOADS = ("photo", "file")


def display_width(text: str) -> int:
    """Columns ``text`` takes in a spreadsheet: a CJK (wide) character counts double;
    the longest line of a text of several lines."""
    return max(
        (
            sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
            for line in text.splitlines() or [""]
        ),
        default=0,
    )


def safe_text(value: str) -> str:
    """A text as a cell may hold it: without control characters, at most a cell long."""
    return ILLEGAL.sub("", value)[:CELL_CHARS]


def sheet_title(label: str, taken: set[str]) -> str:
    """A label as a new sheet's name: at most 31 characters, none of ``[]:*?/\\``, not
    one of ``taken`` (a number is added), and added to ``taken``."""
    base = "".join("_" if ch in "[]:*?/\\" else ch for ch in label).strip("' ") or "Sheet"
    title, n = base[:31], 1
    while title.casefold() in {t.casefold() for t in taken}:
        n += 1
        title = f"{base[: 31 - len(str(n)) - 1]}_{n}"
    taken.add(title)
    return title


class Sheet:
    """One sheet being streamed: its header, the first rows held back to fit the
    column widths, then every row straight to disk."""

    def __init__(self, book: Workbook, title: str, header: list[str]) -> None:
        made = book.create_sheet(title)
        assert isinstance(made, WriteOnlyWorksheet)
        self.sheet = made
        self.header = header
        self.held: list[list[Any]] | None = []
        self.rows = 0

    def add(self, values: list[Any]) -> None:
        self.rows += 1
        if self.held is None:
            self.sheet.append([self._cell(v) for v in values])
            return
        self.held.append(values)
        if len(self.held) >= MEASURED_ROWS:
            self.flush()

    def flush(self) -> None:
        """Fix the widths from the header and the rows held, and write them."""
        if self.held is None:
            return
        held, self.held = self.held, None
        for c, label in enumerate(self.header, start=1):
            widest = max([display_width(label), *(_shown_width(r[c - 1]) for r in held)])
            width = min(WIDTH_MAX, max(WIDTH_MIN, widest + 2))
            self.sheet.column_dimensions[get_column_letter(c)].width = width
        self.sheet.freeze_panes = "A2"
        bold = Font(bold=True)
        heads = []
        for label in self.header:
            cell = WriteOnlyCell(self.sheet, value=safe_text(label))
            cell.data_type = "s"
            cell.font = bold
            cell.alignment = Alignment(vertical="center")
            heads.append(cell)
        self.sheet.append(heads)
        for values in held:
            self.sheet.append([self._cell(v) for v in values])

    def _cell(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, dt.date):
            cell = WriteOnlyCell(self.sheet, value=value)
            cell.number_format = DATE_FORMAT
            return cell
        if isinstance(value, Month):
            cell = WriteOnlyCell(self.sheet, value=value.first)
            cell.number_format = MONTH_FORMAT
            return cell
        text = safe_text(str(value))
        if not text.startswith(FORMULA_STARTS):
            return text
        cell = WriteOnlyCell(self.sheet, value=text)
        cell.data_type = "s"  # set after the value: openpyxl took "=…" for a formula
        cell.quotePrefix = True
        return cell


class Month:
    """A year and month (出生年月), written as the month's first day shown ``yyyy-mm``."""

    __slots__ = ("first",)

    def __init__(self, first: dt.date) -> None:
        self.first = first


def _shown_width(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, dt.date):
        return 10
    if isinstance(value, Month):
        return 7
    return display_width(str(value)[:200])


class TableExport:
    """The workbook of one program's declarations, written to ``path`` batch by batch."""

    def __init__(self, program: Program, *, loc: Locale, zone: ZoneInfo, path: Path) -> None:
        self.program = program
        self.loc = loc
        self.zone = zone
        self.path = path
        self.book = Workbook(write_only=True)
        taken: set[str] = set()
        self.top = [q for _, q in program.questions()]
        head = [loc.t(f"export.column.{c}") for c in FIXED]
        self.main = Sheet(
            self.book,
            sheet_title(loc.t("export.sheet.main"), taken),
            head + [self._header(q) for q in self.top],
        )
        self.tables: list[tuple[Question, list[Question], Sheet]] = []
        for q in self.top:
            if kind(q).repeats:
                fields = list(q.fields or [])
                header = [loc.t(f"export.column.{c}") for c in ROW_FIXED]
                sheet = Sheet(
                    self.book,
                    sheet_title(q.label, taken),
                    header + [self._header(f) for f in fields],
                )
                self.tables.append((q, fields, sheet))
        self.count = 0

    def _header(self, q: Question) -> str:
        qtype = kind(q)
        if qtype.repeats:
            return self.loc.t("export.header.rows", label=q.label)
        if q.type in UPLOADS:
            return self.loc.t("export.header.files", label=q.label)
        unit = qtype.unit(q, self.loc) if isinstance(qtype, Amount) else ""
        return self.loc.t("export.header.unit", label=q.label, unit=unit) if unit else q.label

    def add(self, batch: Sequence[Declared]) -> None:
        """Write a batch of declarations (and their tables' rows)."""
        for d in batch:
            self.count += 1
            self.main.add(self._fixed(d) + [self.value(q, d.answers.get(q.id)) for q in self.top])
            studio = self.studio_name(d)
            for q, fields, sheet in self.tables:
                rows = d.answers.get(q.id)
                for n, row in enumerate(rows if isinstance(rows, list) else [], start=1):
                    if not isinstance(row, dict):
                        continue
                    cells = [self._field(f, row) for f in fields]
                    sheet.add([d.id, studio, n, *cells])

    def finish(self) -> int:
        """Save the workbook; the number of declarations in it."""
        for sheet in [self.main, *(s for _, _, s in self.tables)]:
            sheet.flush()
        self.book.save(self.path)
        return self.count

    def _fixed(self, d: Declared) -> list[Any]:
        chain = self.program.review_chain
        level = chain[min(max(d.review_level, 0), len(chain) - 1)].reviewer
        return [
            d.id,
            self.loc.t(f"export.status.{d.status}"),
            level,
            d.organisation or "",
            self._day(d.submitted_at),
            self._day(d.decided_at),
        ]

    def _day(self, moment: dt.datetime | None) -> dt.date | None:
        return moment.astimezone(self.zone).date() if moment is not None else None

    def studio_name(self, d: Declared) -> str:
        """The name the last level approved, else the one the applicant asked for."""
        if d.named_as:
            return d.named_as
        asked = self.program.studio_name
        value = d.answers.get(asked.field) if asked is not None else None
        return value if isinstance(value, str) else ""

    def _field(self, f: Question, row: dict[str, Any]) -> Any:
        qtype = kind(f)
        if isinstance(qtype, Sum):
            return _number(qtype.total(f, row))
        return self.value(f, row.get(f.id))

    def value(self, q: Question, value: Any) -> Any:
        """An answer as a cell holds it: a number, a date, a count or a text."""
        if value is None:
            return None
        qtype = kind(q)
        if qtype.repeats or q.type in UPLOADS:
            return len(value) if isinstance(value, list) else None
        if qtype.numeric:
            number = _number(value)
            return number if number is not None else str(value)
        if q.type == "date":
            return _date(value) or str(value)
        if q.type == "yearmonth":
            first = _date(f"{value}-01") if isinstance(value, str) else None
            return Month(first) if first is not None else str(value)
        return qtype.format(q, value, loc=self.loc, date_style=self.program.date_style)


FIXED = ("id", "status", "level", "organisation", "submitted", "decided")
"""The columns before the questions on the declarations' sheet (``export.column.*``)."""

ROW_FIXED = ("declaration", "studio", "row")
"""The columns before the fields on a table's sheet."""


def _number(value: Any) -> int | float | None:
    d = to_decimal(value)
    if d is None:
        return None
    return int(d) if d == d.to_integral_value() and abs(d) < Decimal(2) ** 53 else float(d)


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


async def write_table(
    session: AsyncSession,
    program: Program,
    *,
    loc: Locale,
    zone: ZoneInfo,
    path: Path,
    under: int | None = None,
    statuses: Sequence[str] = EXPORTED_VALUES,
) -> int:
    """Write the workbook of ``program``'s declarations (under the organisation
    ``under``, with one of ``statuses``) to ``path``, reading them a batch at a time;
    the number written.  The rows are written off the event loop."""
    export = TableExport(program, loc=loc, zone=zone, path=path)
    async for batch in data.declarations(
        session, program_id=program.id, under=under, statuses=statuses
    ):
        await asyncio.to_thread(export.add, batch)
        del batch  # written: not held while the next one is read
    return await asyncio.to_thread(export.finish)
