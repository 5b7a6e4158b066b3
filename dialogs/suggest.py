"""Answers offered as buttons, so that a person taps instead of typing.

Three sources, all pure (the walker passes in what it knows):

* the question's own ``suggest`` templates: ``{field}`` is an earlier answer,
  ``{field.name}`` the name inside an organisation answer (``{code, name}``),
  ``{today}`` today's date as the question's type writes it (a year-month for
  a ``yearmonth``, the program's date style), ``{year}``, ``{year-1}`` …
  ``{year-9}`` this year and the years before it (CCCC's 「近两年」 rows);
  inside a table, a suggestion another row already holds in the same column
  comes last, so each row is offered the year it has not used yet;
* an earlier declaration of the same person (:func:`recall`): the answer to
  "the same" question, offered while the question has no answer.  The same
  question is the same id in the same program; in another program, a
  question with the same ``same_as`` key, or else the same label (spaces,
  ``*`` and ``·`` aside), and always the same type and unit.  A question whose
  suggestions hold ``{today}`` (填报日期) is about this declaration's day and
  is never recalled;
* the leader's own answers copied into the first row of a team table
  (``first_row_from`` of the group: column id → earlier question id).

Whatever is offered is checked again by the question's type when it is
offered (a choice must still be one of the options, a text still fit its
length) and when it is pressed, since button data is user input.
"""

from __future__ import annotations

import datetime as dt
import re
import string
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dialogs.qtypes import kind
from dialogs.qtypes.base import InvalidAnswer, JSONValue, NotTyped
from dialogs.schema import Program, Question
from dialogs.view import Answer, Msg, Part, Plain, msg

YEAR_SLOT = re.compile(r"year(?:-(?P<back>[1-9]))?")
BUILTIN = "today"

SHORT_EARLIER = 20
"""An earlier answer longer than this many characters is offered by its length alone."""


@dataclass(frozen=True)
class Suggestion:
    """One suggestion button: its label, and either a text to parse as if typed
    (``text``) or a value already checked by the question's type (``value``)."""

    label: Part
    text: str | None = None
    value: Any = None


# --------------------------------------------------------------------------- templates


def template_refs(template: str) -> list[str]:
    """The slots of a template, as written (``unit.name``, ``year-1``, ``today``)."""
    return [f for _, f, _, _ in string.Formatter().parse(template) if f]


def builtin(ref: str) -> bool:
    """Whether a slot is filled from the day rather than from an answer."""
    return ref == BUILTIN or YEAR_SLOT.fullmatch(ref) is not None


def _today_text(q: Question, today: dt.date, style: str) -> str:
    """Today as ``q``'s type reads and the program's form writes it."""
    if q.type == "yearmonth":
        return today.strftime("%Y%m" if style == "compact" else "%Y-%m")
    if q.type == "date" and style == "compact":
        return today.strftime("%Y%m%d")
    return today.isoformat()


def _slot(ref: str, q: Question, answers: Mapping[str, Any], today: dt.date, style: str) -> str:
    """The text of one slot ("" when its answer is missing)."""
    if ref == BUILTIN:
        return _today_text(q, today, style)
    year = YEAR_SLOT.fullmatch(ref)
    if year is not None:
        return str(today.year - int(year["back"] or 0))
    name, _, key = ref.partition(".")
    value = answers.get(name)
    if key:
        value = value.get(key) if isinstance(value, dict) else None
    return "" if value is None or isinstance(value, dict | list) else str(value)


def _fill(template: str, values: Mapping[str, str]) -> str:
    return "".join(
        literal + (values[ref] if ref else "")
        for literal, ref, _, _ in string.Formatter().parse(template)
    )


def from_templates(
    q: Question,
    answers: Mapping[str, Any],
    today: dt.date,
    *,
    style: str = "iso",
    taken: Sequence[Any] = (),
) -> list[Suggestion]:
    """The template suggestions of ``q``; those whose value another row of the table
    already holds (``taken``) come last."""
    texts: list[str] = []
    for template in q.suggest or []:
        values = {ref: _slot(ref, q, answers, today, style) for ref in template_refs(template)}
        if any(not v for v in values.values()):
            continue
        text = _fill(template, values)
        if text not in texts:
            texts.append(text)
    if taken:
        texts.sort(key=lambda text: _parsed(q, text, today) in taken)
    return [Suggestion(msg("engine.btn.suggest", text=text), text=text) for text in texts]


def _parsed(q: Question, text: str, today: dt.date) -> Any:
    try:
        return kind(q).parse(q, text, today=today)
    except (InvalidAnswer, NotTyped):
        return None


# --------------------------------------------------------------------------- checking


def recheck(q: Question, value: Any, today: dt.date) -> JSONValue:
    """``value`` as ``q`` would store it now, or None when ``q`` cannot take it: a
    choice must name one of ``q``'s options, anything typed must parse again."""
    unit = kind(q)
    if value is None or unit.repeats or unit.upload or not unit.asked or q.type == "org":
        return None
    if q.options is not None:
        ids = value if isinstance(value, list) else [value]
        if isinstance(value, list) != (q.type == "multichoice") or not ids:
            return None
        if any(not isinstance(v, str) or q.option(v) is None for v in ids):
            return None
        return [str(v) for v in ids] if q.type == "multichoice" else str(value)
    if isinstance(value, bool) or q.type == "yesno":
        return value if isinstance(value, bool) and q.type == "yesno" else None
    if isinstance(value, dict | list):
        return None
    try:
        return unit.parse(q, str(value), today=today)
    except (InvalidAnswer, NotTyped):
        return None


def converted(source: Question, target: Question, value: Any, today: dt.date) -> JSONValue:
    """An answer to ``source`` as an answer to ``target`` (an organisation gives its
    name to a text), or None when it does not fit."""
    if source.type == "org":
        value = value.get("name") if isinstance(value, dict) else None
    return recheck(target, value, today)


# --------------------------------------------------------------------------- earlier declarations


def _norm(label: str) -> str:
    text = unicodedata.normalize("NFKC", label)
    return re.sub(r"[\s*·:：]", "", text)


def recallable(q: Question) -> bool:
    """Whether an earlier declaration's answer to ``q`` may be offered."""
    unit = kind(q)
    if not unit.asked or unit.repeats or unit.upload:
        return False
    return not any(BUILTIN in template_refs(t) for t in q.suggest or [])


def _same(q: Question, other: Question, same_program: bool) -> bool:
    if same_program:
        return q.id == other.id
    if q.type != other.type or q.unit != other.unit or not recallable(other):
        return False
    if q.same_as is not None or other.same_as is not None:
        return q.same_as == other.same_as
    return _norm(q.label) == _norm(other.label)


def recall(
    program: Program, earlier: Sequence[tuple[Program, Mapping[str, Any]]]
) -> dict[str, Any]:
    """For each question of ``program``, the answer that the newest of ``earlier`` (the
    person's other declarations, newest first, with their programs) gave to the same
    question: what :class:`~dialogs.engine.Walker` takes as ``known``."""
    known: dict[str, Any] = {}
    for _, q in program.questions():
        if not recallable(q):
            continue
        for other_program, answers in earlier:
            value = _answer_to_same(q, other_program, answers, other_program.id == program.id)
            if value is not None:
                known[q.id] = value
                break
    return known


def _answer_to_same(
    q: Question, other: Program, answers: Mapping[str, Any], same_program: bool
) -> Any:
    for _, candidate in other.questions():
        if _same(q, candidate, same_program) and answers.get(candidate.id) is not None:
            return answers[candidate.id]
    return None


def from_earlier(
    q: Question, value: Any, today: dt.date, shown: Sequence[str]
) -> Suggestion | None:
    """An earlier declaration's answer as a suggestion (None when ``q`` cannot take it
    or a template already offers the same).  An organisation is offered by its name,
    to be looked for again as if typed (another program may list other ones)."""
    if q.type == "org":
        name = value.get("name") if isinstance(value, dict) else None
        if not isinstance(name, str) or not name.strip():
            return None
        return Suggestion(msg("suggest.earlier", value=Plain(name)), text=name)
    checked = recheck(q, value, today)
    if checked is None or str(checked) in shown:
        return None
    text = str(checked)
    label: Msg
    if q.type == "longtext" or len(text) > SHORT_EARLIER:
        label = msg("suggest.earlier_long", count=len(text))
    else:
        label = msg("suggest.earlier", value=Answer(q, checked, SHORT_EARLIER))
    return Suggestion(label, value=checked)


# --------------------------------------------------------------------------- the first row


def row_sources(program: Program, group: Question) -> Iterator[tuple[Question, Question]]:
    """(column, earlier question) pairs of ``group``'s ``first_row_from``."""
    columns = {f.id: f for f in group.fields or []}
    for column_id, source_id in (group.first_row_from or {}).items():
        column = columns.get(column_id)
        try:
            source = program.question(source_id)
        except KeyError:
            continue
        if column is not None:
            yield column, source


def first_row(
    program: Program, group: Question, answers: Mapping[str, Any], today: dt.date
) -> dict[str, JSONValue]:
    """The first row's columns that the leader's earlier answers fill, checked by the
    columns' types (empty when the group declares none or nothing is answered)."""
    out: dict[str, JSONValue] = {}
    for column, source in row_sources(program, group):
        value = converted(source, column, answers.get(source.id), today)
        if value is not None:
            out[column.id] = value
    return out


def compatible(source: Question, column: Question) -> str | None:
    """Why ``source``'s answers cannot fill ``column`` (None when they can)."""
    if source.type == "org" and column.type == "text":
        return None
    if source.type != column.type:
        return f"a '{source.type}' answer cannot fill a '{column.type}' column"
    if source.unit != column.unit:
        return f"'{source.unit}' and '{column.unit}' are different units"
    missing = [o.id for o in source.options or [] if column.option(o.id) is None]
    if missing:
        return f"option '{missing[0]}' is not an option of the column"
    return None
