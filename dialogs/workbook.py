"""The .xlsx side of tables: the template the bot offers for a repeating group,
and the cells of a sheet the user sends back.

A team leader with thirty names in a spreadsheet fills the template (one
column per field, the labels as headers, a row under them saying what each
column takes) and sends it back; :func:`read_cells` turns the first sheet into
plain strings for :func:`dialogs.tables.read_grid`, which reads them as a
paste is read.  Whether bytes are a workbook is decided by the bytes (a zip
holding ``xl/workbook.xml``), never by a file name.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from dialogs.i18n import Locale
from dialogs.qtypes import kind
from dialogs.qtypes.group import asked_fields
from dialogs.schema import Question

MAX_ROWS = 1000
MAX_COLUMNS = 40
"""What is read of a sheet at most (a table of a declaration is far smaller)."""

MAX_UNPACKED_BYTES = 50 * 1024 * 1024
"""What a sheet may unpack to (a filled-in template is well under a megabyte)."""

DEFAULT_TEMPLATE_ROWS = 50
"""Rows made ready (typed as text) in the template of a table without ``max_rows``."""


class NotAWorkbook(ValueError):
    """Bytes that are no .xlsx workbook, or one that cannot be opened."""


def is_xlsx(data: bytes) -> bool:
    """Whether ``data`` is an Office Open XML workbook (a zip with ``xl/workbook.xml``)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return False


def hints(group: Question, loc: Locale) -> list[str]:
    """What each column takes, in the fields' order: the options of a choice, the
    example of a date or a number (plain text needs none), and whether it may be
    left empty."""
    out = []
    for f in asked_fields(group):
        if f.options:
            text = loc.t(
                "table.xlsx.options",
                options=loc.t("table.xlsx.option_sep").join(o.label for o in f.options),
            )
        elif f.example or f.type != "text":
            text = loc.t("table.xlsx.example", example=kind(f).example(f, loc=loc))
        else:  # a name, a trade: the column's label says it all
            text = ""
        if not f.required:
            text = loc.t("table.xlsx.optional", text=text) if text else loc.t("table.xlsx.may_skip")
        out.append(text)
    return out


def template(group: Question, loc: Locale) -> bytes:
    """An .xlsx with the group's fields as header columns and a hint row under them."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook always has its first sheet
    sheet.title = _sheet_title(group.label)
    fields = asked_fields(group)
    grey = PatternFill("solid", fgColor="EEEEEE")
    for c, (f, hint) in enumerate(zip(fields, hints(group, loc), strict=True), start=1):
        head = _text(sheet.cell(row=1, column=c), f.label)
        head.font = Font(bold=True)
        note = _text(sheet.cell(row=2, column=c), hint)
        note.font = Font(italic=True, color="777777")
        note.fill = grey
        note.alignment = Alignment(wrap_text=True, vertical="top")
        letter = get_column_letter(c)
        sheet.column_dimensions[letter].width = max(12, min(30, 2 * len(f.label) + 4))
        # Typed as text, so 1985.3 stays 1985.3 and a leading zero stays.
        last = 2 + (group.max_rows or DEFAULT_TEMPLATE_ROWS)
        for row in range(3, last + 1):
            sheet.cell(row=row, column=c).number_format = "@"
        choices = _choice_list(f)
        if choices is not None:  # a drop-down of the options (typing one still works)
            rule = DataValidation(type="list", formula1=choices, allow_blank=True)
            rule.add(f"{letter}3:{letter}{last}")
            sheet.add_data_validation(rule)
    sheet.freeze_panes = "A3"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _choice_list(f: Question) -> str | None:
    """A choice's labels as a list rule's formula, when Excel can hold them (no comma
    or quote in a label, at most 255 characters); None otherwise."""
    labels = [o.label for o in f.options or []]
    if not labels or any("," in x or '"' in x for x in labels):
        return None
    joined = ",".join(labels)
    return f'"{joined}"' if len(joined) <= 255 else None


def _text(cell: Cell, value: str) -> Cell:
    """Put ``value`` in ``cell`` as text: a string starting with ``=`` is not a formula."""
    cell.value = value
    cell.data_type = "s"
    return cell


def _sheet_title(label: str) -> str:
    """A label as a sheet's name (at most 31 characters, none of ``[]:*?/\\``)."""
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in label).strip("'")
    return cleaned[:31] or "Sheet1"


def _unpacked_size(data: bytes) -> int:
    """What the archive's parts add up to unpacked (as declared: Python's zip reader
    never yields more than a part declares)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return sum(info.file_size for info in archive.infolist())


def read_cells(data: bytes) -> list[list[str]]:
    """The first sheet's cells as strings, row 1 first (empty cells as "")."""
    if not is_xlsx(data):
        raise NotAWorkbook("not an .xlsx workbook")
    if _unpacked_size(data) > MAX_UNPACKED_BYTES:  # a zip bomb is no team list
        raise NotAWorkbook("the workbook unpacks to too much")
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many kinds for a damaged file
        raise NotAWorkbook(str(err)) from err
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            return []
        grid = [
            [_cell_text(v) for v in row[:MAX_COLUMNS]]
            for row in sheet.iter_rows(max_row=MAX_ROWS, values_only=True)
        ]
    finally:
        book.close()
    return grid


def _cell_text(value: object) -> str:
    """A cell as a person would have typed it: a date as 1985-03-01, 12.0 as 12."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
