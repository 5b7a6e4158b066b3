"""The declaration as a Word file (.docx): the program's own template where one
lies beside its definition (``<program id>.docx``, filled with docxtpl), else a
clean form built from the definition's sections.

A template is a Word file a union can edit in Word; its fields are Jinja tags:
``{{ a.<question id> }}`` an answer as printed, ``{%tr for r in t.<table id> %}``
a row per table row (``{{ r.<column id> }}``), ``{{ p.<photo question id> }}``
its photos, ``{{ box.<level id>.text }}`` / ``.signer`` / ``.date`` a level's
opinion box, ``{{ box.<level id>.approved_name }}`` the name a level approved.
``studiobot programs check`` refuses a template naming an unknown field.

Both are A4 in 宋体 (仿宋 where a template says so); a PDF made from them falls
back to Noto CJK where those fonts are missing (``documents.pdf``).
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.table import Table, _Cell
from docxtpl import DocxTemplate, InlineImage

from dialogs.i18n import Locale
from dialogs.qtypes import kind
from dialogs.schema import Program
from documents.content import UPLOADS, Box, FormContent, Picture

FONT = "宋体"
"""The form's Chinese font (every seed's forms are set in it, CCCC's in 仿宋)."""
LATIN = "Times New Roman"
PICTURE_WIDTH = Cm(7)
LABEL_CM = 4.2
ANSWER_CM = 12.4
"""The generic form's two columns on A4 between 2.2 cm margins."""
TEMPLATE_SUFFIX = ".docx"
TAG = re.compile(r"\{[{%]-?\s*(?:tr\s+|tc\s+|p\s+)?(.*?)\s*-?[}%]\}")
NAME = re.compile(r"\b(a|t|p|box)\.([A-Za-z_][A-Za-z0-9_]*)")


def template_for(definition: Path) -> Path | None:
    """The program's own template beside its definition file, if it has one."""
    path = definition.with_suffix(TEMPLATE_SUFFIX)
    return path if path.is_file() else None


def template_names(path: Path) -> set[tuple[str, str]]:
    """The fields a template names, as (``a``/``t``/``p``/``box``, id): read from the
    document's XML, where Word may have split a tag across runs (the tags are
    matched on the text with the markup removed)."""
    with zipfile.ZipFile(path) as z:
        parts = [n for n in z.namelist() if n.startswith("word/") and n.endswith(".xml")]
        xml = " ".join(z.read(n).decode("utf-8") for n in parts)
    text = re.sub(r"<[^>]+>", "", xml)
    found: set[tuple[str, str]] = set()
    for tag in TAG.findall(text):
        found.update((m.group(1), m.group(2)) for m in NAME.finditer(tag))
    return found


def template_problems(program: Program, template: Path) -> list[str]:
    """What in ``template`` names no field of ``program`` (an unknown question,
    table, photo question or review level), one line each."""
    questions = [q for _, q in program.questions()]
    kinds = {
        "a": {q.id for q in questions if not kind(q).repeats},
        "t": {q.id for q in questions if kind(q).repeats},
        "p": {q.id for q in questions if q.type in UPLOADS},
        "box": {level.id for level in program.review_chain},
    }
    what = {"a": "question", "t": "table", "p": "photo question", "box": "review level"}
    try:
        names = template_names(template)
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        return [f"{template}: not a Word file ({exc})"]
    return [
        f"{template}: {{{{ {space}.{name} }}}} names no {what[space]} of '{program.id}'"
        for space, name in sorted(names)
        if name not in kinds[space]
    ]


def _date(box_date: Any, loc: Locale) -> str:
    if box_date is None:
        return loc.t("documents.blank_date")
    return loc.t("documents.date", y=box_date.year, m=box_date.month, d=box_date.day)


def _box_context(box: Box, loc: Locale) -> dict[str, str]:
    texts = [o.text for o in box.opinions if o.text]
    signers = [o.signer for o in box.opinions if o.signer]
    dates = [o.date for o in box.opinions if o.date is not None]
    names = [o.approved_name for o in box.opinions if o.approved_name]
    sep = loc.t("engine.sep.list")
    return {
        "label": box.label,
        "text": "\n".join(texts),
        "signer": sep.join(signers),
        "organisation": sep.join(o.organisation for o in box.opinions if o.organisation),
        "date": _date(max(dates) if dates else None, loc),
        "stamp": loc.t("documents.stamp") if box.stamp else "",
        "approved_name": names[-1] if names else "",
    }


def render_template(content: FormContent, template: Path, loc: Locale) -> bytes:
    """The program's own template filled in."""
    doc = DocxTemplate(str(template))
    pictures = {
        qid: [InlineImage(doc, pic.path, width=PICTURE_WIDTH) for pic in shown]
        for qid, shown in content.pictures.items()
    }
    context = {
        "a": content.values,
        "t": content.tables,
        "p": pictures,
        "box": {box.id: _box_context(box, loc) for box in content.boxes},
        "studio_name": content.studio_name,
        "number": content.number,
        "submitted": _date(content.submitted, loc) if content.submitted else "",
    }
    doc.render(context, autoescape=True)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


# --------------------------------------------------------------------------- generic form


def _fonts(doc: Any, size: float = 12) -> None:
    """宋体 for Chinese and Times New Roman for Latin text, A4 with the margins the
    seeds' forms leave."""
    style = doc.styles["Normal"]
    style.font.name = LATIN
    style.font.size = Pt(size)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)
    for section in doc.sections:
        section.page_width, section.page_height = Cm(21), Cm(29.7)
        section.left_margin = section.right_margin = Cm(2.2)
        section.top_margin = section.bottom_margin = Cm(2.2)


def _heading(doc: Any, text: str, size: float, *, bold: bool = True) -> None:
    para = doc.add_paragraph()
    para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = para.add_run(text)
    run.bold = bold
    run.font.size = Pt(size)


def _write(cell: _Cell, text: str, *, bold: bool = False) -> None:
    """Text in a cell, line breaks kept as paragraphs (a long text in full)."""
    lines = text.split("\n") if text else [""]
    cell.paragraphs[0].text = ""
    first = cell.paragraphs[0].add_run(lines[0])
    first.bold = bold
    for line in lines[1:]:
        cell.add_paragraph().add_run(line).bold = bold


def _pictures(cell: _Cell, shown: list[Picture]) -> None:
    for pic in shown:
        try:
            cell.add_paragraph().add_run().add_picture(pic.path, width=PICTURE_WIDTH)
        except Exception:  # an image Word cannot take: its name instead
            cell.add_paragraph(pic.name)


def _widths(table: Table, widths: list[float]) -> None:
    """Column widths in cm, said both ways Word and LibreOffice read them."""
    table.autofit = False
    grid = table._tbl.tblGrid  # python-docx has no public setter of the grid
    for col, width in zip(grid.gridCol_lst, widths, strict=False):
        col.w = Cm(width)
    for row in table.rows:
        for cell, width in zip(row.cells, widths, strict=False):
            cell.width = Cm(width)


def _nested(cell: _Cell, columns: list[str], rows: list[list[str]], width: float) -> None:
    """A repeating table inside its box, a row per entry, grown to fit; columns share
    the box's width by the length of what they hold (a name is short, a duty long)."""
    inner = cell.add_table(rows=1, cols=len(columns))
    inner.style = "Table Grid"
    for i, label in enumerate(columns):
        _write(inner.rows[0].cells[i], label, bold=True)
    for row in rows:
        cells = inner.add_row().cells  # type: ignore[no-untyped-call]
        for i, text in enumerate(row):
            _write(cells[i], text)
    need = [
        max([len(label), *(len(r[i]) for r in rows)], default=2) for i, label in enumerate(columns)
    ]
    weights = [min(max(n, 3), 12) for n in need]
    _widths(inner, [width * w / sum(weights) for w in weights])


def _box_row(table: Table, box: Box, loc: Locale) -> None:
    cells = table.add_row().cells  # type: ignore[no-untyped-call]
    _write(cells[0], box.label, bold=True)
    ctx = _box_context(box, loc)
    lines = [ctx["text"]] if ctx["text"] else ["", "", ""]
    if box.signature or ctx["signer"]:
        lines.append(loc.t("documents.signer", name=ctx["signer"]))
    if ctx["stamp"]:
        lines.append(ctx["stamp"])
    lines.append(ctx["date"])
    _write(cells[1], "\n".join(lines))
    for para in cells[1].paragraphs[-2:]:
        para.alignment = WD_ALIGN_PARAGRAPH.RIGHT


def render_generic(content: FormContent, loc: Locale) -> bytes:
    """A clean form from the definition: the title, then a two-column table (label,
    answer) part by part, tables inside their box, photos placed, and the opinion
    boxes of the review chain at the end."""
    doc = Document()
    _fonts(doc)
    _heading(doc, content.title, 18)
    _heading(doc, loc.t("documents.issued_by", union=content.union), 12, bold=False)
    if content.submitted is not None:
        said = loc.t("documents.submitted", date=_date(content.submitted, loc))
        doc.add_paragraph(said).alignment = WD_ALIGN_PARAGRAPH.RIGHT
    table = doc.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for part in content.parts:
        if not (len(part.items) == 1 and part.items[0].label == part.title):
            head = table.add_row().cells
            _write(head[0].merge(head[1]), part.title, bold=True)
        for item in part.items:
            cells = table.add_row().cells
            _write(cells[0], item.label, bold=True)
            if item.is_table:
                _write(cells[1], "" if item.rows else loc.t("documents.none"))
                if item.rows:
                    _nested(cells[1], item.columns, item.rows, ANSWER_CM - 0.4)
            elif item.pictures or item.files:
                _write(cells[1], loc.t("engine.sep.list").join(item.files))
                _pictures(cells[1], item.pictures)
            else:
                _write(cells[1], item.text)
    for box in content.boxes:
        _box_row(table, box, loc)
    _widths(table, [LABEL_CM, ANSWER_CM])
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def render(content: FormContent, loc: Locale, template: Path | None = None) -> bytes:
    """The .docx of ``content``: through the program's template when it has one."""
    if template is not None:
        return render_template(content, template, loc)
    return render_generic(content, loc)
