"""``group``: a table whose rows are filled field by field (team members, equipment),
with ``min_rows``/``max_rows``; the engine walks its rows and menus."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dialogs.i18n import Locale
from dialogs.qtypes.base import Problem, QuestionType, kind, registry
from dialogs.schema import Question
from dialogs.view import Joined, Msg, Part, Plain, msg


def asked_fields(q: Question) -> list[Question]:
    """The columns a user fills in (computed ones are shown only)."""
    return [f for f in q.fields or [] if kind(f).asked]


def missing_fields(q: Question, row: dict[str, Any]) -> Joined | None:
    """The labels of required columns a row still lacks, or None when it is complete."""
    missing = [Plain(f.label) for f in asked_fields(q) if f.required and row.get(f.id) is None]
    return Joined(tuple(missing), sep="engine.sep.list") if missing else None


class Group(QuestionType):
    name = "group"
    typed = False
    repeats = True
    keys = ("fields", "min_rows", "max_rows", "first_row_from", "row_years")

    def format(self, q: Question, value: Any, *, loc: Locale, date_style: str) -> str:
        raise ValueError(f"group '{q.id}' is formatted row by row, field by field")

    def minimum(self, q: Question) -> int:
        return q.min_rows or (1 if q.required else 0)

    def problems(self, q: Question, value: Any, label: Part) -> list[Msg]:
        rows = value if isinstance(value, list) else []
        # As for files: ``min_rows`` binds a table that was filled in, or a required one.
        need = self.minimum(q) if rows or q.required else 0
        out = (
            [msg("engine.problem.rows", label=label, min=need, count=len(rows))]
            if len(rows) < need
            else []
        )
        for n, row in enumerate(rows, start=1):
            missing = missing_fields(q, row)
            if missing is not None:
                out.append(msg("engine.problem.row", label=label, n=n, fields=missing))
        return out

    def check(self, q: Question, *, in_group: bool) -> Iterator[Problem]:
        if q.options is not None:
            yield "options", "E038", "a 'group' question takes no options"
        if q.of is not None:
            yield "of", "E041", "only a sum takes 'of'"
        if in_group:
            yield "type", "E030", "a group cannot hold another group"
        if not q.fields:
            yield "fields", "E031", "a group needs its fields"
            return
        seen: set[str] = set()
        for f in q.fields:
            if f.id in seen:
                yield "fields", "E032", f"duplicate field id '{f.id}'"
            seen.add(f.id)
        yield from _sum_references(q.fields)
        if q.min_rows is not None and q.max_rows is not None and q.min_rows > q.max_rows:
            yield "min_rows", "E034", "min_rows is larger than max_rows"


def _sum_references(fields: list[Question]) -> Iterator[Problem]:
    """A sum column adds up numeric columns of its own group."""
    units = registry()
    sibling = {f.id: f for f in fields}
    for i, f in enumerate(fields):
        if f.type != "sum":
            continue
        for ref in f.of or []:
            target = sibling.get(ref)
            unit = units.get(target.type) if target is not None else None
            if unit is None or not unit.numeric:
                yield f"fields[{i}].of", "E033", f"'{ref}' is not a numeric field of this group"


TYPE = Group()
