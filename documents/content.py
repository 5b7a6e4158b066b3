"""What a declaration's printed form holds, independent of Word: every answer as
the paper shows it, the tables row by row, the photos, and each level's opinion
box (filled once decided, blank with its stamp and date lines before).

Built from the definition and the stored answers alone (:func:`build`), so the
same content feeds a program's own template and the generic form, and tests
can read it without opening a document.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from dialogs.answers import format_answer
from dialogs.engine import Walker
from dialogs.i18n import Locale
from dialogs.qtypes import kind
from dialogs.qtypes.sum import Sum
from dialogs.schema import Program, QType, Question

UPLOADS = (QType.PHOTO, QType.FILE)


@dataclass(frozen=True)
class Picture:
    """An uploaded image placed in the form (its bytes on disk)."""

    path: str
    name: str


@dataclass(frozen=True)
class Item:
    """One answer in its box: the label as printed and the text written in it; a
    table's column labels and rows; an upload's pictures and other files' names."""

    id: str
    label: str
    text: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    pictures: list[Picture] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def is_table(self) -> bool:
        return bool(self.columns)


@dataclass(frozen=True)
class Part:
    """A section of the form, with the answers it shows."""

    title: str
    items: list[Item]


@dataclass(frozen=True)
class Opinion:
    """One organisation's written opinion in a level's box."""

    text: str
    signer: str
    organisation: str
    date: dt.date | None
    approved_name: str | None = None


@dataclass(frozen=True)
class Box:
    """A level's opinion box: its printed label, whether it is stamped and signed,
    and the opinions once decided (none yet: the box is printed blank)."""

    id: str
    label: str
    stamp: bool
    signature: bool
    opinions: list[Opinion] = field(default_factory=list)


@dataclass(frozen=True)
class Attached:
    """An uploaded file's place in the form: which question, its name, its path."""

    question_id: str
    name: str
    path: str
    mime_type: str


@dataclass(frozen=True)
class FormContent:
    """Everything the printed form holds, by part, plus values by question id for
    a template (``values``: the text; ``tables``: rows as dicts of column id)."""

    program: Program
    title: str
    union: str
    studio_name: str
    parts: list[Part]
    boxes: list[Box]
    values: dict[str, str]
    tables: dict[str, list[dict[str, str]]]
    pictures: dict[str, list[Picture]]
    submitted: dt.date | None = None
    number: str = ""


def _text(q: Question, value: Any, loc: Locale, style: str) -> str:
    if value is None:
        return ""
    return format_answer(q, value, locale=loc, date_style=style)


def _table(
    q: Question, value: Any, loc: Locale, style: str
) -> tuple[list[str], list[list[str]], list[dict[str, str]]]:
    fields = list(q.fields or [])
    rows = value if isinstance(value, list) else []
    cells: list[list[str]] = []
    named: list[dict[str, str]] = []
    for row in rows:
        texts = {f.id: _text(f, _cell(f, row), loc, style) for f in fields}
        cells.append([texts[f.id] for f in fields])
        named.append(texts)
    return [f.label for f in fields], cells, named


def _cell(f: Question, row: dict[str, Any]) -> Any:
    """A row's value for column ``f``; a computed column (合计) worked out."""
    unit = kind(f)
    return unit.total(f, row) if isinstance(unit, Sum) else row.get(f.id)


def _upload(q: Question, value: Any, files: dict[int, Attached]) -> tuple[list[Picture], list[str]]:
    pictures: list[Picture] = []
    others: list[str] = []
    for ref in value if isinstance(value, list) else []:
        found = files.get(ref) if isinstance(ref, int) else None
        if found is None:
            continue
        if found.mime_type.startswith("image/") and found.path:
            pictures.append(Picture(found.path, found.name))
        else:
            others.append(found.name)
    return pictures, others


def build(
    program: Program,
    answers: dict[str, Any],
    *,
    boxes: list[Box],
    files: dict[int, Attached],
    loc: Locale,
    today: dt.date,
    submitted: dt.date | None = None,
    number: str = "",
) -> FormContent:
    """The form of ``answers``: the questions a reader of the declaration sees (those
    a skip condition hides are not printed), each as the paper shows it."""
    style = program.date_style
    walker = Walker(program, answers, {"mode": "preview"}, today=today)
    visible = {q.id for q in walker.visible()}
    parts: list[Part] = []
    values: dict[str, str] = {}
    tables: dict[str, list[dict[str, str]]] = {}
    pictures: dict[str, list[Picture]] = {}
    for section in program.sections:
        items: list[Item] = []
        for q in section.questions:
            value = answers.get(q.id)
            if q.id not in visible:
                values[q.id] = ""
                continue
            if kind(q).repeats:
                columns, rows, named = _table(q, value, loc, style)
                tables[q.id] = named
                items.append(Item(q.id, q.label, columns=columns, rows=rows))
            elif q.type in UPLOADS:
                shown, others = _upload(q, value, files)
                pictures[q.id] = shown
                values[q.id] = loc.t("engine.sep.list").join(others)
                items.append(Item(q.id, q.label, pictures=shown, files=others))
            else:
                values[q.id] = _text(q, value, loc, style)
                items.append(Item(q.id, q.label, text=values[q.id]))
        if items:
            parts.append(Part(section.title, items))
    spec = program.studio_name
    name = answers.get(spec.field) if spec is not None else None
    return FormContent(
        program=program,
        title=program.form_title,
        union=program.union,
        studio_name=str(name) if name else "",
        parts=parts,
        boxes=boxes,
        values=values,
        tables=tables,
        pictures=pictures,
        submitted=submitted,
        number=number,
    )


def blank_boxes(program: Program) -> list[Box]:
    """Every level's box as printed before anyone decides."""
    return [
        Box(level.id, level.opinion_label, level.stamp, level.signature)
        for level in program.review_chain
    ]
