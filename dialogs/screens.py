"""The screens of a declaration, decided as views from plain data.

Each builder takes what the walker worked out (the question, its answer, the
progress, which ways on exist) and returns a :class:`~dialogs.view.View`;
none looks at the walker itself, so this module and the engine do not know
each other's insides, and none changes anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dialogs.qtypes import kind
from dialogs.qtypes._upload import need_phrase
from dialogs.qtypes.base import stable_key
from dialogs.qtypes.group import asked_fields, missing_fields
from dialogs.qtypes.sum import Sum
from dialogs.rules import Blocked
from dialogs.schema import Program, Question, Section
from dialogs.suggest import Suggestion
from dialogs.table_screens import field_order
from dialogs.ui import Action
from dialogs.view import Answer, ButtonView, Joined, Msg, Part, Plain, View, msg, rows

PREVIEW_TEXT_CHARS = 120
"""A long answer is clipped to this many characters as 当前答案 (the preview shows it
whole, to be proofread; a transport splits a long preview into several messages)."""

BUTTON_LABEL_CHARS = 14
"""A question's label on a picker's button is clipped to this many characters (a
phone shows about this much of a one-button row)."""
BUTTON_VALUE_CHARS = 12
"""An answer quoted on a picker's button is clipped to this many characters."""
MAX_PICKER_BUTTONS = 90
"""Telegram takes at most 100 buttons in one keyboard; a picker keeps room for the rest."""

MAX_PROBLEMS_SHOWN = 20


@dataclass(frozen=True)
class Place:
    """Where the user is: question ``n`` of ``total`` in ``section``, maybe inside a row."""

    n: int
    total: int
    section: str
    row: int | None = None
    field: int | None = None
    fields: int | None = None
    intro: str | None = None
    """The section's own help, said on its first question (the section begins)."""

    def part(self) -> Part:
        head = msg("engine.progress", n=self.n, total=self.total, section=self.section)
        if self.row is None:
            if self.intro:
                return Joined((head, msg("engine.section_intro", text=self.intro)))
            return head
        inside = msg("engine.row_progress", row=self.row, f=self.field, nf=self.fields)
        return Joined((head, inside), sep="engine.sep.none")


@dataclass(frozen=True)
class Ways:
    """The ways on offered under a question."""

    back: bool
    skip: bool = False
    keep: bool = False
    to_preview: bool = False

    def rows(self) -> list[list[ButtonView]]:
        first: list[ButtonView] = []
        if self.back:
            first.append(ButtonView(msg("engine.btn.back"), Action.BACK))
        if self.skip:
            first.append(ButtonView(msg("engine.btn.skip"), Action.SKIP))
        if self.keep:
            first.append(ButtonView(msg("engine.btn.keep"), Action.KEEP))
        last = [ButtonView(msg("engine.btn.save_exit"), Action.SAVE_EXIT)]
        if self.to_preview:
            last.insert(0, ButtonView(msg("engine.btn.preview"), Action.PREVIEW))
        return [first, last]


def question(
    target: Question,
    value: Any,
    scratch: dict[str, Any],
    place: Place,
    ways: Ways,
    suggested: Sequence[Suggestion] = (),
    *,
    fill_row: bool = False,
) -> View:
    """The screen asking ``target``; ``suggested`` answers and, in the first row of a
    team table, the button filling it from the leader's answers (``fill_row``)."""
    unit = kind(target)
    label: Part = msg("engine.label", label=target.label)
    if not target.required:
        label = Joined((label, msg("engine.optional")), sep="engine.sep.none")
    lines: list[Part] = [place.part(), Plain(""), label]
    if target.help:
        lines.append(Plain(target.help))
    lines += unit.hint(target, value, scratch)
    buttons = unit.buttons(target, value, scratch)
    if fill_row:
        buttons.append([ButtonView(msg("suggest.fill_row"), Action.ROW_FROM_LEADER, 0)])
    buttons += [[ButtonView(s.label, Action.SUGGEST, i)] for i, s in enumerate(suggested)]
    if value is not None and unit.keepable(value):
        lines.append(msg("engine.current", value=Answer(target, value, PREVIEW_TEXT_CHARS)))
    return View(
        lines=tuple(lines),
        buttons=rows(*buttons, *ways.rows()),
        expects_text=unit.typed,
        kind="question",
    )


def row_summary(group: Question, row: dict[str, Any]) -> Part:
    """One row of a group on one line: 姓名 张三；性别 男；…"""
    cells: list[Part] = []
    for f in group.fields or []:
        unit = kind(f)
        value = unit.total(f, row) if isinstance(unit, Sum) else row.get(f.id)
        if value is not None:
            cells.append(msg("engine.group.cell", label=f.label, value=Answer(f, value)))
    if not cells:
        return msg("engine.group.empty_row")
    return Joined(tuple(cells), sep="engine.sep.cells")


def group_menu(q: Question, table: list[dict[str, Any]], place: Place, ways: Ways) -> View:
    """The table of a repeating group with add / edit / delete / done."""
    unit = kind(q)
    lines: list[Part] = [place.part(), Plain(""), msg("engine.label", label=q.label)]
    if q.help:
        lines.append(Plain(q.help))
    room_left = q.max_rows is None or len(table) < q.max_rows
    if room_left:
        lines.append(msg("table.menu.hint", fields=field_order(q)))
    lines.append(
        msg(
            "engine.group.status",
            count=len(table),
            min=q.min_rows or 0,
            max=q.max_rows if q.max_rows is not None else msg("engine.group.no_limit"),
        )
    )
    lines += [
        msg("engine.numbered", n=i, text=row_summary(q, row)) for i, row in enumerate(table, 1)
    ]
    buttons: list[list[ButtonView]] = []
    if room_left:
        buttons.append(
            [
                ButtonView(msg("engine.btn.row_add"), Action.ROW_ADD),
                ButtonView(msg("table.btn.template"), Action.TABLE_TEMPLATE),
            ]
        )
    for i in range(len(table)):
        buttons.append(
            [
                ButtonView(msg("engine.btn.row_edit", n=i + 1), Action.ROW_EDIT, i),
                ButtonView(msg("engine.btn.row_delete", n=i + 1), Action.ROW_DELETE, i),
            ]
        )
    nav, last = ways.rows()
    if table and len(table) >= unit.minimum(q):
        nav.append(ButtonView(msg("engine.btn.done"), Action.DONE))
    if not q.required and not table:
        nav.append(ButtonView(msg("engine.btn.skip"), Action.SKIP))
    return View(lines=tuple(lines), buttons=rows(*buttons, nav, last), kind="group")


def confirm_delete(q: Question, table: list[dict[str, Any]], row: int) -> View:
    summary = row_summary(q, table[row]) if row < len(table) else Plain("")
    return View(
        lines=(msg("engine.group.confirm_delete", n=row + 1, row=summary),),
        buttons=rows(
            [
                ButtonView(msg("engine.btn.delete_ok"), Action.ROW_DELETE_OK, row),
                ButtonView(msg("engine.btn.cancel"), Action.CANCEL),
            ]
        ),
        kind="confirm",
    )


def incomplete_row(q: Question, row: dict[str, Any], n: int) -> View | None:
    """Why row ``n`` cannot be left yet, or None when it is complete."""
    missing = missing_fields(q, row)
    if missing is None:
        return None
    return View(lines=(msg("engine.group.row_incomplete", n=n, fields=missing),))


def upload_progress(target: Question, count: int, ways: Ways) -> View:
    """After each file: how many are in, how many are needed, and the way on."""
    need = kind(target).minimum(target)
    if count >= need:
        line = msg("engine.upload.received", count=count, need=need_phrase(target))
        row = [ButtonView(msg("engine.btn.done"), Action.DONE)]
    else:
        line = msg("engine.upload.received_more", count=count, left=need - count)
        row = []
    row.append(ButtonView(msg("engine.btn.clear_files"), Action.CLEAR))
    return View(lines=(line,), buttons=rows(row, *ways.rows()), kind="upload")


def _answer_lines(
    q: Question, value: Any, clip: int | None = PREVIEW_TEXT_CHARS, n: int | None = None
) -> list[Part]:
    """One answer's lines; numbered ``n`` (and its rows ``n.r``) in the applicant's
    preview, where typing the number opens the answer."""

    def item(shown: Part) -> Msg:
        if n is None:
            return msg("engine.preview.item", label=q.label, value=shown)
        return msg("preview.item", n=n, label=q.label, value=shown)

    def row(i: int, r: dict[str, Any]) -> Msg:
        if n is None:
            return msg("engine.preview.row", n=i, text=row_summary(q, r))
        return msg("preview.row", n=n, row=i, text=row_summary(q, r))

    if kind(q).repeats:
        table = value if isinstance(value, list) else []
        if not table:
            return [item(msg("engine.preview.none"))]
        count = msg("engine.preview.rows", count=len(table))
        return [item(count), *(row(i, r) for i, r in enumerate(table, 1))]
    shown: Part
    if value is None:
        shown = msg("engine.preview.missing" if q.required else "engine.preview.skipped")
    else:
        shown = Answer(q, value, clip)
    return [item(shown)]


def preview(
    program: Program,
    shown: dict[str, list[Question]],
    answers: dict[str, Any],
    warnings: list[tuple[str, str]],
    problems: list[Msg],
    blocked: Sequence[Blocked] = (),
) -> View:
    """The whole application by section, every answer whole and numbered as the
    questions are (so a long text can be proofread, and a number typed opens its
    answer), then warnings, problems and the actions.

    ``shown`` maps each section id to its visible questions.  A transport
    splits the text where its messages end, between sections first, then
    between answers.
    """
    lines: list[Part] = [msg("engine.preview.title", form=program.form_title, union=program.union)]
    n = 0
    for section in program.sections:
        questions = shown.get(section.id) or []
        if not questions:
            continue
        lines += [Plain(""), msg("engine.preview.section", title=section.title)]
        for q in questions:
            n += 1
            lines += _answer_lines(q, answers.get(q.id), clip=None, n=n)
    lines.append(Plain(""))
    tail = preview_actions(program, shown, warnings, problems, blocked)
    return View(
        lines=(*lines, *tail.lines), buttons=tail.buttons, expects_text=True, kind="preview"
    )


def section_page(
    program: Program, section: Section, questions: list[Question], answers: dict[str, Any]
) -> list[Part]:
    """One section of a declaration as read by a reviewer: its title and every answer
    whole (a long text is not clipped as in the applicant's preview: this is the
    reading that decides)."""
    lines: list[Part] = [msg("engine.preview.section", title=section.title)]
    for q in questions:
        lines += _answer_lines(q, answers.get(q.id), clip=None)
    return lines


def answer_lines(q: Question, value: Any, clip: int | None) -> list[Part]:
    """One answer as the preview shows it (a table as its rows), clipped to ``clip``."""
    return _answer_lines(q, value, clip)


def preview_actions(
    program: Program,
    shown: dict[str, list[Question]],
    warnings: list[tuple[str, str]],
    problems: list[Msg],
    blocked: Sequence[Blocked] = (),
) -> View:
    """The end of the preview alone: warnings, what is missing, the rules that keep it
    from being submitted (each with a button opening the answer to change), and the
    buttons (what a user who typed instead of tapping needs, without every answer
    again)."""
    lines: list[Part] = list(_blocked_lines(blocked))
    if warnings:
        lines.append(msg("engine.preview.warnings_title"))
        lines += [msg("engine.preview.warning", message=m, cite=c) for m, c in warnings]
    if problems:
        lines.append(msg("engine.preview.problems_title", count=len(problems)))
        lines += [msg("engine.bullet", text=p) for p in problems[:MAX_PROBLEMS_SHOWN]]
        if len(problems) > MAX_PROBLEMS_SHOWN:
            lines.append(msg("engine.preview.more", count=len(problems) - MAX_PROBLEMS_SHOWN))
    elif not blocked:
        lines.append(msg("engine.preview.ready"))
    edit = [_pick_button(s) for s in program.sections if shown.get(s.id)]
    width = 1 if any(len(s.title) > 10 for s in program.sections) else 2
    edit_rows = [edit[i : i + width] for i in range(0, len(edit), width)]
    buttons = rows(
        *_fix_rows(blocked),
        *edit_rows,
        [
            ButtonView(msg("engine.btn.submit"), Action.SUBMIT),
            ButtonView(msg("documents.btn.download"), Action.FORM_OWN),
        ],
        [
            ButtonView(msg("engine.btn.back"), Action.BACK),
            ButtonView(msg("engine.btn.save_exit"), Action.SAVE_EXIT),
        ],
    )
    return View(lines=tuple(lines), buttons=buttons, expects_text=True, kind="preview")


def _pick_button(section: Section) -> ButtonView:
    return ButtonView(
        msg("engine.btn.edit_section", title=section.title), Action.EDIT_PICK, 0, section.id
    )


def _short(text: str, limit: int = BUTTON_LABEL_CHARS) -> Part:
    return Plain(text) if len(text) <= limit else msg("preview.short", text=text[:limit])


def edit_picker(section: Section, items: list[tuple[int, Question, Any]]) -> View:
    """The answers of one section to pick one from: a question (a table: its menu, and
    each of its rows), by number; the section walked whole; back to the preview."""
    lines: list[Part] = [msg("preview.pick.title", title=section.title)]
    buttons: list[list[ButtonView]] = []
    for n, q, value in items:
        key = stable_key(q.id)
        if not kind(q).repeats:
            label = msg("preview.btn.answer", n=n, label=_short(q.label))
            buttons.append([ButtonView(label, Action.EDIT_ANSWER, 0, key)])
            continue
        label = msg("preview.btn.table", n=n, label=_short(q.label))
        buttons.append([ButtonView(label, Action.EDIT_ANSWER, 0, key)])
        table = value if isinstance(value, list) else []
        for i, row in enumerate(table):
            text = msg("preview.btn.row", n=n, row=i + 1, text=_row_name(q, row))
            buttons.append([ButtonView(text, Action.EDIT_ROW, i, key)])
    if len(buttons) > MAX_PICKER_BUTTONS:
        lines.append(msg("preview.pick.more", count=len(buttons) - MAX_PICKER_BUTTONS))
        buttons = buttons[:MAX_PICKER_BUTTONS]
    buttons += [
        [
            ButtonView(
                msg("preview.btn.walk", title=section.title), Action.EDIT_SECTION, 0, section.id
            )
        ],
        [ButtonView(msg("engine.btn.preview"), Action.PREVIEW)],
    ]
    return View(lines=tuple(lines), buttons=rows(*buttons), expects_text=True, kind="pick")


def _row_name(q: Question, row: dict[str, Any]) -> Part:
    """A row on a button: its first filled field (a member's name, a year)."""
    for f in asked_fields(q):
        value = row.get(f.id)
        if value is not None:
            return Answer(f, value, BUTTON_VALUE_CHARS)
    return msg("engine.group.empty_row")


def row_picker(n: int, q: Question, row: int, values: dict[str, Any]) -> View:
    """One row of table ``n``: its fields to pick the one to change."""
    lines: list[Part] = [
        msg("preview.pick.row", n=n, row=row + 1, label=q.label, text=row_summary(q, values))
    ]
    key = stable_key(q.id)
    buttons: list[list[ButtonView]] = []
    for f in asked_fields(q):
        value = values.get(f.id)
        shown: Part = (
            msg("engine.preview.skipped") if value is None else Answer(f, value, BUTTON_VALUE_CHARS)
        )
        label = msg("preview.btn.field", label=_short(f.label), value=shown)
        buttons.append([ButtonView(label, Action.EDIT_FIELD, row, key + stable_key(f.id))])
    buttons.append([ButtonView(msg("engine.btn.preview"), Action.PREVIEW)])
    return View(lines=tuple(lines), buttons=rows(*buttons), expects_text=True, kind="pick")


def _edit_button(section: Section) -> ButtonView:
    return ButtonView(
        msg("engine.btn.edit_section", title=section.title), Action.EDIT_SECTION, 0, section.id
    )


def refused_submission(
    problems: list[Msg], first: Section | None, blocked: Sequence[Blocked] = ()
) -> View:
    """Why submission was refused: the rules broken, each with a button opening the
    answer to change, and what is missing, with a button to the first unfinished
    section."""
    lines: list[Part] = list(_blocked_lines(blocked))
    if problems:
        lines.append(msg("engine.submit.refused", count=len(problems)))
        lines += [msg("engine.bullet", text=p) for p in problems[:30]]
    edit = [[_edit_button(first)]] if first is not None else []
    buttons = rows(*_fix_rows(blocked), *edit)
    return View(lines=tuple(lines), buttons=buttons, kind="problems")


def _blocked_lines(blocked: Sequence[Blocked]) -> list[Part]:
    if not blocked:
        return []
    return [msg("rules.blocked_title", count=len(blocked)), *(b.line() for b in blocked)]


def _fix_rows(blocked: Sequence[Blocked]) -> list[list[ButtonView]]:
    """One button per answer to change (two rules on one answer: one button)."""
    seen: set[str] = set()
    out: list[list[ButtonView]] = []
    for b in blocked:
        if b.question.id not in seen:
            seen.add(b.question.id)
            out.append([b.button()])
    return out


__all__ = [
    "Place",
    "Ways",
    "asked_fields",
    "confirm_delete",
    "edit_picker",
    "group_menu",
    "incomplete_row",
    "preview",
    "question",
    "refused_submission",
    "row_picker",
    "row_summary",
    "upload_progress",
]
