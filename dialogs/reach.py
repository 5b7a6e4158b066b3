"""Which questions of a definition can never be asked, and which sections are
left empty, whatever the applicant answers.

A question is asked when its section's ``when`` and its own hold
(:mod:`dialogs.engine`).  Each answer a condition tests takes one of a few
telling values: a choice one of its option ids, a yes/no question true or
false, a number a point of each interval the condition's bounds cut, a table
or upload a count of rows around its bounds, and any question no answer at
all.  A test the values cannot decide (a pattern, equality on a number, a text)
is *unknown*, read with three-valued logic.  A condition is reported only when
it is false for every combination of values: never a false alarm, at the price
of missing some conditions that cannot hold.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dialogs.conditions import evaluate
from dialogs.qtypes import registry
from dialogs.schema import Condition, Program, Question, Section

MAX_CASES = 20_000
"""Combinations tried at most for one condition (more: nothing is said about it)."""

_PRESENT = "x"
_BOUNDS = ("lt", "lte", "gt", "gte")


@dataclass(frozen=True)
class _Field:
    values: tuple[Any, ...]
    exact: frozenset[str]
    """Operators whose outcome the values decide (others are unknown)."""


def _atoms(cond: Condition) -> Iterator[Condition]:
    if cond.field is not None:
        yield cond
    for sub in (cond.all or []) + (cond.any or []):
        yield from _atoms(sub)
    if cond.not_ is not None:
        yield from _atoms(cond.not_)


def _numbers(atoms: list[Condition]) -> tuple[Any, ...]:
    bounds = sorted({getattr(a, op) for a in atoms for op in _BOUNDS if op in a.operators()})
    if not bounds:
        return (None, Decimal(0))
    points = [bounds[0] - 1, *bounds, bounds[-1] + 1]
    points += [(lo + hi) / 2 for lo, hi in itertools.pairwise(bounds)]
    return (None, *points)


def _rows(atoms: list[Condition]) -> tuple[Any, ...]:
    counts = {0}
    for a in atoms:
        for bound in (a.rows_lt, a.rows_gte):
            if bound is not None:
                counts |= {max(bound - 1, 0), bound, bound + 1}
    return (None, *([_PRESENT] * n for n in sorted(counts)))


def _domain(q: Question, atoms: list[Condition]) -> _Field:
    unit = registry().get(q.type)
    if q.options and q.type == "choice":
        exact = {"eq", "ne", "in_", "not_in", "answered", *_BOUNDS, "rows_lt", "rows_gte"}
        return _Field((None, *(o.id for o in q.options)), frozenset(exact))
    if q.type == "yesno":
        return _Field((None, True, False), frozenset({"eq", "ne", "in_", "not_in", "answered"}))
    if unit is not None and unit.numeric:
        return _Field(_numbers(atoms), frozenset({*_BOUNDS, "answered"}))
    if unit is not None and (unit.repeats or unit.upload):
        return _Field(_rows(atoms), frozenset({"rows_lt", "rows_gte", "answered"}))
    return _Field((None, _PRESENT), frozenset({"answered"}))


def _holds(cond: Condition, answers: dict[str, Any], fields: dict[str, _Field]) -> bool | None:
    """Three-valued: None when the values cannot tell."""
    if cond.all is not None:
        parts = [_holds(c, answers, fields) for c in cond.all]
        return False if False in parts else (None if None in parts else True)
    if cond.any is not None:
        parts = [_holds(c, answers, fields) for c in cond.any]
        return True if True in parts else (None if None in parts else False)
    if cond.not_ is not None:
        inner = _holds(cond.not_, answers, fields)
        return None if inner is None else not inner
    assert cond.field is not None
    field = fields.get(cond.field)
    op = cond.operators()[0]
    if field is None or op not in field.exact:
        return None
    return evaluate(cond, answers)


def never(conds: list[Condition], known: dict[str, Question]) -> bool:
    """Whether ``conds`` can never all hold at once (False when unsure)."""
    atoms = [a for c in conds for a in _atoms(c)]
    refs = {ref for c in conds for ref in c.fields()}
    if any(ref not in known for ref in refs) or any(
        re.search(r"\{[a-z]", a.matches or a.not_matches or "") for a in atoms
    ):
        return False  # reported elsewhere, or depends on another answer's text
    fields = {
        ref: _domain(known[ref], [a for a in atoms if a.field == ref])
        for ref in sorted({a.field for a in atoms if a.field is not None})
    }
    cases = 1
    for f in fields.values():
        cases *= len(f.values)
    if cases > MAX_CASES:
        return False
    both = Condition(all=list(conds))
    for combo in itertools.product(*(f.values for f in fields.values())):
        answers = dict(zip(fields, combo, strict=True))
        if _holds(both, answers, fields) is not False:
            return False
    return True


@dataclass(frozen=True)
class Unreachable:
    """A part of the form no answers reach: ``where`` is its field path."""

    where: str
    code: str
    message: str


def unreachable(p: Program) -> Iterator[Unreachable]:
    """Sections never shown, sections left empty and questions never asked."""
    known: dict[str, Question] = {}
    for si, section in enumerate(p.sections):
        before = dict(known)
        for q in section.questions:
            known.setdefault(q.id, q)
        yield from _section(si, section, before)
    for ci, check in enumerate(p.checks):
        if never([check.when], known):
            message = f"check '{check.id}' is never raised: its condition can never hold"
            yield Unreachable(f"checks[{ci}].when", "E133", message)


def _section(si: int, section: Section, before: dict[str, Question]) -> Iterator[Unreachable]:
    """What of one section is never shown (``before``: the questions of earlier sections)."""
    base = [section.when] if section.when is not None else []
    if base and never(base, before):
        message = f"section '{section.id}' is never shown: its condition can never hold"
        yield Unreachable(f"sections[{si}].when", "E130", message)
        return
    lost: list[tuple[int, Question]] = []
    asked = [(qi, q) for qi, q in enumerate(section.questions) if _asked(q)]
    for qi, q in asked:
        earlier = {x.id: x for x in section.questions[:qi]}
        if q.when is not None and never([*base, q.when], {**before, **earlier}):
            lost.append((qi, q))
    if asked and len(lost) == len(asked):
        ids = ", ".join(q.id for _, q in lost)
        message = (
            f"section '{section.id}' is left empty: none of its questions ({ids}) "
            "can be asked, their conditions can never hold"
            + (" together with the section's" if base else "")
        )
        yield Unreachable(f"sections[{si}]", "E131", message)
        return
    for qi, q in lost:
        message = f"question '{q.id}' is never asked: its condition can never hold" + (
            f" while section '{section.id}' is shown" if base else ""
        )
        yield Unreachable(f"sections[{si}].questions[{qi}].when", "E132", message)


def _asked(q: Question) -> bool:
    unit = registry().get(q.type)
    return unit is None or unit.asked
