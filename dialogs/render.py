"""Turn the walker's state into screens: questions, group menus, the preview.

Kept apart from the walker so that what is said and how it is laid out can
change without touching navigation.  Every text comes from the locale.
"""

from __future__ import annotations

import string
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from dialogs.answers import format_answer
from dialogs.schema import UPLOAD_TYPES, QType, Question
from dialogs.ui import Action, Button

if TYPE_CHECKING:
    from dialogs.engine import Screen, Walker

TELEGRAM_LIMIT = 4096
MESSAGE_BUDGET = 3900  # room for a header added by a transport
PREVIEW_TEXT_CHARS = 120
TEXT_TYPES = frozenset(
    {
        QType.TEXT,
        QType.LONGTEXT,
        QType.INTEGER,
        QType.NUMBER,
        QType.MONEY,
        QType.YEARMONTH,
        QType.DATE,
        QType.PHONE,
    }
)


def _screen(
    text: str, buttons: list[list[Button]] | None = None, expects_text: bool = False
) -> Screen:
    from dialogs.engine import Screen

    return Screen(text=text, buttons=buttons or [], expects_text=expects_text)


def fmt(w: Walker, q: Question, value: Any) -> str:
    """A stored value as the user reads it."""
    return format_answer(q, value, locale=w.loc, date_style=w.p.date_style)


def _sum(q: Question, row: dict[str, Any]) -> str | None:
    total = Decimal(0)
    for ref in q.of or []:
        try:
            total += Decimal(str(row.get(ref)))
        except InvalidOperation:
            return None
    return format(total.normalize(), "f")


def row_summary(w: Walker, group: Question, row: dict[str, Any]) -> str:
    """One row of a repeating group on one line: 姓名 张三；性别 男；…"""
    parts = []
    for f in group.fields or []:
        value = _sum(f, row) if f.type is QType.SUM else row.get(f.id)
        if value is None:
            continue
        parts.append(f"{f.label} {fmt(w, f, value)}")
    return "；".join(parts) or w.loc.t("engine.group.empty_row")


def suggestions(w: Walker, q: Question) -> list[str]:
    """Suggested answers with their slots filled; those missing an answer are left out."""
    out: list[str] = []
    today = w.today.isoformat()
    for template in q.suggest or []:
        refs = [f for _, f, _, _ in string.Formatter().parse(template) if f]
        values: dict[str, str] = {}
        for ref in refs:
            value = today if ref == "today" else w.answers.get(ref)
            if value in (None, ""):
                break
            values[ref] = str(value)
        else:
            text = template.format(**values)
            if text not in out:
                out.append(text)
    return out


def progress(w: Walker) -> str:
    """第 5/32 题 · 团队成员 (and the row and column inside a group)."""
    q = w.question()
    visible = [x.id for x in w.visible()]
    n = visible.index(q.id) + 1 if q.id in visible else len(visible)
    section = w.p.section_of(q.id).title
    text = w.loc.t("engine.progress", n=n, total=len(visible), section=section)
    if q.type is QType.GROUP and w.in_row():
        fields = [f.id for f in w.asked_fields(q)]
        text += w.loc.t(
            "engine.row_progress",
            row=int(w.cur["row"]) + 1,
            f=fields.index(w.cur["f"]) + 1,
            nf=len(fields),
        )
    return text


def _back(w: Walker) -> list[Button]:
    """上一步, unless this is the very first question (where it could only repeat it)."""
    if w.in_row() or w.neighbour(w.question().id, -1) is not None:
        return [Button(w.loc.t("engine.btn.back"), Action.BACK)]
    return []


def _nav(w: Walker, target: Question, value: Any) -> list[list[Button]]:
    t = w.loc.t
    row = _back(w)
    if not target.required:
        row.append(Button(t("engine.btn.skip"), Action.SKIP))
    if value is not None and target.type not in UPLOAD_TYPES:
        row.append(Button(t("engine.btn.keep"), Action.KEEP))
    rows = [row] if row else []
    last = [Button(t("engine.btn.save_exit"), Action.SAVE_EXIT)]
    if w.cur.get("edit") is not None:
        last.insert(0, Button(t("engine.btn.preview"), Action.PREVIEW))
    rows.append(last)
    return rows


def _pairs(buttons: list[Button], width: int = 2) -> list[list[Button]]:
    if any(len(b.label) > 10 for b in buttons):
        width = 1
    return [buttons[i : i + width] for i in range(0, len(buttons), width)]


def question(w: Walker) -> Screen:
    """The screen asking the current question."""
    t = w.loc.t
    target, value, _ = w.target()
    lines = [progress(w), ""]
    label = t("engine.label", label=target.label)
    if not target.required:
        label += t("engine.optional")
    lines.append(label)
    if target.help:
        lines.append(target.help)
    hint_params: dict[str, Any] = {
        "unit": t("engine.unit", unit=target.unit) if target.unit else "",
        "need": need_phrase(w, target),
    }
    lines.append(t(f"engine.hint.{target.type}", **hint_params))
    buttons: list[list[Button]] = []
    if target.type is QType.CHOICE:
        buttons += _pairs([Button(o, Action.CHOOSE, i) for i, o in enumerate(target.options or [])])
    elif target.type is QType.YESNO:
        buttons.append(
            [
                Button(t("engine.btn.yes"), Action.CHOOSE, 1),
                Button(t("engine.btn.no"), Action.CHOOSE, 0),
            ]
        )
    elif target.type is QType.MULTICHOICE:
        chosen = set(w.cur.get("sel", value or []))
        marks = [
            Button(("☑ " if o in chosen else "☐ ") + o, Action.TOGGLE, i)
            for i, o in enumerate(target.options or [])
        ]
        buttons += _pairs(marks)
        buttons.append([Button(t("engine.btn.done_count", count=len(chosen)), Action.DONE)])
    elif target.type is QType.LONGTEXT:
        parts = w.cur.get("buf") or []
        if parts:
            joined = "\n".join(p for p in parts if p)
            lines.append(t("engine.longtext.buffered", count=len(joined)))
            buttons.append(
                [
                    Button(t("engine.btn.done"), Action.DONE),
                    Button(t("engine.btn.clear"), Action.CLEAR),
                ]
            )
    elif target.type in UPLOAD_TYPES:
        count = len(value or [])
        if count:
            lines.append(t("engine.upload.have", count=count))
        need = target.min_files or (1 if target.required else 0)
        row = []
        if count >= need and count:
            row.append(Button(t("engine.btn.done"), Action.DONE))
        if count:
            row.append(Button(t("engine.btn.clear_files"), Action.CLEAR))
        if row:
            buttons.append(row)
    for i, text in enumerate(suggestions(w, target)):
        buttons.append([Button(t("engine.btn.suggest", text=text), Action.SUGGEST, i)])
    if value is not None and target.type not in UPLOAD_TYPES:
        lines.append(t("engine.current", value=_clip(fmt(w, target, value))))
    return _screen("\n".join(lines), buttons + _nav(w, target, value), target.type in TEXT_TYPES)


def _clip(text: str, limit: int = PREVIEW_TEXT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"…（{len(text)}）"


def longtext_progress(w: Walker, target: Question, joined: str) -> Screen:
    t = w.loc.t
    need = target.min_chars or 0
    if need and len(joined) < need:
        text = t(
            "engine.longtext.progress_min", count=len(joined), min=need, left=need - len(joined)
        )
    else:
        text = t("engine.longtext.progress", count=len(joined))
    buttons = [
        [Button(t("engine.btn.done"), Action.DONE), Button(t("engine.btn.clear"), Action.CLEAR)]
    ]
    return _screen(text, buttons, expects_text=True)


def need_phrase(w: Walker, target: Question) -> str:
    """How many files a question wants: "3–5", "1", "至少 1"."""
    low = target.min_files or (1 if target.required else 0)
    high = target.max_files
    if high is None:
        return w.loc.t("engine.count.at_least", min=low)
    if low == high:
        return w.loc.t("engine.count.exact", n=high)
    return w.loc.t("engine.count.range", min=low, max=high)


def upload_progress(w: Walker, target: Question, count: int) -> Screen:
    """After each file: how many are in, how many are needed, and the way on."""
    t = w.loc.t
    need = target.min_files or (1 if target.required else 0)
    if count >= need:
        text = t("engine.upload.received", count=count, need=need_phrase(w, target))
        row = [Button(t("engine.btn.done"), Action.DONE)]
    else:
        text = t("engine.upload.received_more", count=count, left=need - count)
        row = []
    row.append(Button(t("engine.btn.clear_files"), Action.CLEAR))
    return _screen(text, [row, *_nav(w, target, None)])


def group_menu(w: Walker) -> Screen:
    """The table of a repeating group with add / edit / delete / done."""
    t = w.loc.t
    q = w.question()
    rows = w.rows()
    lines = [progress(w), "", t("engine.label", label=q.label)]
    if q.help:
        lines.append(q.help)
    lines.append(
        t("engine.group.status", count=len(rows), min=q.min_rows or 0, max=q.max_rows or "∞")
    )
    for i, row in enumerate(rows, start=1):
        lines.append(f"{i}. {row_summary(w, q, row)}")
    buttons: list[list[Button]] = []
    if q.max_rows is None or len(rows) < q.max_rows:
        buttons.append([Button(t("engine.btn.row_add"), Action.ROW_ADD)])
    for i in range(len(rows)):
        buttons.append(
            [
                Button(t("engine.btn.row_edit", n=i + 1), Action.ROW_EDIT, i),
                Button(t("engine.btn.row_delete", n=i + 1), Action.ROW_DELETE, i),
            ]
        )
    need = q.min_rows or (1 if q.required else 0)
    nav = _back(w)
    if len(rows) >= need and rows:
        nav.append(Button(t("engine.btn.done"), Action.DONE))
    if not q.required and not rows:
        nav.append(Button(t("engine.btn.skip"), Action.SKIP))
    if nav:
        buttons.append(nav)
    last = [Button(t("engine.btn.save_exit"), Action.SAVE_EXIT)]
    if w.cur.get("edit") is not None:
        last.insert(0, Button(t("engine.btn.preview"), Action.PREVIEW))
    buttons.append(last)
    return _screen("\n".join(lines), buttons)


def confirm_delete(w: Walker, row: int) -> Screen:
    t = w.loc.t
    q = w.question()
    rows = w.rows()
    summary = row_summary(w, q, rows[row]) if row < len(rows) else ""
    return _screen(
        t("engine.group.confirm_delete", n=row + 1, row=summary),
        [
            [
                Button(t("engine.btn.delete_ok"), Action.ROW_DELETE_OK, row),
                Button(t("engine.btn.cancel"), Action.CANCEL),
            ]
        ],
    )


def _answer_lines(w: Walker, q: Question) -> list[str]:
    t = w.loc.t
    value = w.answers.get(q.id)
    if q.type is QType.GROUP:
        rows = value if isinstance(value, list) else []
        if not rows:
            return [t("engine.preview.item", label=q.label, value=t("engine.preview.none"))]
        lines = [
            t("engine.preview.item", label=q.label, value=t("engine.preview.rows", count=len(rows)))
        ]
        lines += [f"  {i}. {row_summary(w, q, row)}" for i, row in enumerate(rows, start=1)]
        return lines
    if value is None:
        shown = t("engine.preview.missing") if q.required else t("engine.preview.skipped")
    else:
        shown = _clip(fmt(w, q, value))
    return [t("engine.preview.item", label=q.label, value=shown)]


def split_messages(blocks: list[str], limit: int = MESSAGE_BUDGET) -> list[str]:
    """Pack text blocks into as few messages as fit Telegram's limit, never cutting a line
    unless the line alone is too long."""
    pieces: list[str] = []
    for block in blocks:
        if len(block) <= limit:
            pieces.append(block)
            continue
        for line in block.split("\n"):
            while len(line) > limit:
                pieces.append(line[:limit])
                line = line[limit:]
            pieces.append(line)
    messages: list[str] = []
    current = ""
    for piece in pieces:
        candidate = f"{current}\n\n{piece}" if current else piece
        if len(candidate) > limit and current:
            messages.append(current)
            current = piece
        else:
            current = candidate
    if current:
        messages.append(current)
    return messages


def preview(w: Walker) -> list[Screen]:
    """The whole application by section, then warnings, problems and actions."""
    t = w.loc.t
    visible = {q.id for q in w.visible()}
    blocks = [t("engine.preview.title", form=w.p.form_title, union=w.p.union)]
    edit_buttons: list[Button] = []
    for i, section in enumerate(w.p.sections):
        shown = [q for q in section.questions if q.id in visible]
        if not shown:
            continue
        lines = [t("engine.preview.section", title=section.title)]
        for q in shown:
            lines += _answer_lines(w, q)
        blocks.append("\n".join(lines))
        edit_buttons.append(
            Button(t("engine.btn.edit_section", title=section.title), Action.EDIT_SECTION, i)
        )
    tail: list[str] = []
    warnings = w.warnings()
    if warnings:
        tail.append(t("engine.preview.warnings_title"))
        tail += [t("engine.preview.warning", message=m, cite=c) for m, c in warnings]
    problems = w.problems()
    if problems:
        tail.append(t("engine.preview.problems_title", count=len(problems)))
        tail += [f"• {p}" for p in problems[:20]]
        if len(problems) > 20:
            tail.append(t("engine.preview.more", count=len(problems) - 20))
    else:
        tail.append(t("engine.preview.ready"))
    texts = split_messages(blocks)
    actions = split_messages(["\n".join(tail)])
    screens = [_screen(x) for x in texts + actions]
    buttons = _pairs(edit_buttons)
    buttons.append([Button(t("engine.btn.submit"), Action.SUBMIT)])
    buttons.append(
        [
            Button(t("engine.btn.back"), Action.BACK),
            Button(t("engine.btn.save_exit"), Action.SAVE_EXIT),
        ]
    )
    screens[-1].buttons = buttons
    return screens


def problems(w: Walker, items: list[str]) -> Screen:
    """Why submission was refused, with a button to the first unfinished section."""
    t = w.loc.t
    text = "\n".join(
        [t("engine.submit.refused", count=len(items)), *[f"• {p}" for p in items[:30]]]
    )
    buttons: list[list[Button]] = []
    first = w.first_problem_section()
    if first is not None:
        title = w.p.sections[first].title
        buttons.append(
            [Button(t("engine.btn.edit_section", title=title), Action.EDIT_SECTION, first)]
        )
    return _screen(split_messages([text])[0], buttons)
