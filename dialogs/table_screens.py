"""The screens of a table's rows read at once (a paste, a sheet): shown back as a
table to confirm, the lines that could not be read with why, and what was
added.  Views only, like ``dialogs.screens``: built from plain data, nothing
changed, no words chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dialogs.qtypes.group import asked_fields
from dialogs.schema import Question
from dialogs.tables import BadLine, Pending, Reading
from dialogs.ui import Action
from dialogs.view import Answer, ButtonView, Joined, Part, Plain, Refusal, View, msg, notice, rows

MAX_PASTED_SHOWN = 40
"""Rows of a paste listed one by one for confirmation; more are counted."""

MAX_BAD_SHOWN = 8
"""Unreadable lines explained one by one; more are named by number."""


def _labels(q: Question, sep: str) -> Joined:
    return Joined(tuple(Plain(f.label) for f in asked_fields(q)), sep=sep)


def field_order(q: Question) -> Joined:
    """The columns in the order a pasted line gives them (for the table's menu)."""
    return _labels(q, "table.sep.fields")


def _numbers(ns: Sequence[int]) -> Joined:
    return Joined(tuple(Plain(str(n)) for n in ns), sep="table.sep.lines")


def _cells(q: Question, row: dict[str, Any]) -> Joined:
    cells: list[Part] = []
    for f in asked_fields(q):
        value = row.get(f.id)
        cells.append(msg("table.confirm.empty_cell") if value is None else Answer(f, value))
    return Joined(tuple(cells), sep="table.sep.cell")


def room(q: Question, have: int, count: int) -> int:
    """How many of ``count`` new rows fit a group that has ``have``."""
    return count if q.max_rows is None else max(0, min(count, q.max_rows - have))


def table_confirm(
    q: Question, pending: Pending, have: int, since: tuple[int, int] = (0, 0)
) -> View:
    """Rows read from a paste or a sheet, shown back as a table to confirm, with the
    lines that could not be read and why.

    ``since``: how many rows and bad lines were waiting before this message; the
    view then shows only what it added and the total (a block the terminal
    delivers line by line would otherwise be shown whole after every line).
    """
    count = len(pending.rows)
    rows_before, bad_before = since
    lines: list[Part] = []
    if since == (0, 0):
        lines += [msg("table.confirm.title", count=count)]
        if count:
            lines.append(msg("table.confirm.head", cells=_labels(q, "table.sep.cell")))
    elif count > rows_before:
        lines += [msg("table.confirm.added", new=count - rows_before, count=count)]
    lines += _pending_rows(q, pending.rows, have, rows_before)
    fits = room(q, have, count)
    lines += _overflow(q, pending, have, fits)
    if len(pending.bad) > bad_before:
        lines += [Plain(""), msg("table.confirm.bad_title", count=len(pending.bad) - bad_before)]
        lines += bad_lines(q, pending.bad[bad_before:])
    if since == (0, 0):
        lines.append(msg("table.confirm.footer"))
    ok = [ButtonView(msg("table.btn.confirm", count=fits), Action.TABLE_OK, count)] if fits else []
    return View(
        lines=tuple(lines),
        buttons=rows(
            ok,
            [ButtonView(msg("table.btn.cancel"), Action.TABLE_CANCEL)],
            [ButtonView(msg("engine.btn.save_exit"), Action.SAVE_EXIT)],
        ),
        kind="table_confirm",
    )


def _pending_rows(q: Question, pending: list[dict[str, Any]], have: int, since: int) -> list[Part]:
    """The rows waiting from number ``since`` on, numbered as the table will number them."""
    shown = pending[since : since + MAX_PASTED_SHOWN]
    out: list[Part] = [
        msg("table.confirm.row", n=have + since + i, cells=_cells(q, row))
        for i, row in enumerate(shown, start=1)
    ]
    left = len(pending) - since - len(shown)
    if left > 0:
        out.append(msg("table.confirm.more_rows", count=left, total=len(pending)))
    return out


def _overflow(q: Question, pending: Pending, have: int, fits: int) -> list[Part]:
    """What does not fit under ``max_rows``."""
    count = len(pending.rows)
    if fits == 0 and count:
        return [msg("table.confirm.full", max=q.max_rows)]
    if fits < count:
        lines = _numbers(pending.lines[fits:])
        return [msg("table.confirm.overflow", max=q.max_rows, have=have, free=fits, lines=lines)]
    return []


def bad_lines(q: Question, bad: Sequence[BadLine]) -> list[Part]:
    """Each unreadable line with why (the first few; the rest by number)."""
    out: list[Part] = [
        msg("table.bad.line", n=b.n, text=Plain(b.text), why=_why(q, b))
        for b in bad[:MAX_BAD_SHOWN]
    ]
    if len(bad) > MAX_BAD_SHOWN:
        rest = [b.n for b in bad[MAX_BAD_SHOWN:]]
        out.append(msg("table.confirm.more_bad", count=len(rest), lines=_numbers(rest)))
    return out


def _why(q: Question, bad: BadLine) -> Part:
    fields = {f.id: f for f in asked_fields(q)}
    column = fields.get(bad.column)
    if column is not None:
        why: Part = (
            Refusal(column, bad.key, bad.params)
            if bad.key.startswith("validation.")
            else msg(bad.key)
        )
        return msg("table.bad.cell", label=column.label, why=why)
    if bad.missing:
        names = tuple(Plain(fields[i].label) for i in bad.missing if i in fields)
        return msg("table.bad.missing", fields=Joined(names, sep="engine.sep.list"))
    return msg(bad.key or "table.bad.too_many", **bad.params)


def table_unread(q: Question, reading: Reading) -> View:
    """A paste of which no line could be added: why, line by line."""
    if not reading.bad:
        key = "table.read.header" if reading.header else "table.read.nothing"
        return notice(msg(key, fields=field_order(q)))
    return View(lines=(msg("table.read.none_good"), *bad_lines(q, reading.bad)))


def table_added(q: Question, left_out: Sequence[int], bad: Sequence[BadLine]) -> View | None:
    """After confirming: the lines that did not fit, and those to send again."""
    lines: list[Part] = []
    if left_out:
        lines.append(msg("table.added.left_out", lines=_numbers(left_out), max=q.max_rows))
    if bad:
        lines.append(msg("table.added.bad", lines=_numbers([b.n for b in bad])))
    return View(lines=tuple(lines)) if lines else None
