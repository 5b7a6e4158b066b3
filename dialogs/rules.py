"""The seed's rules on a declaration: what forbids submitting it, and what a table
of 「近两年」 must hold.

A union reviewer sends back a declaration that breaks a rule the notice sets
(a studio named before applying again, a team smaller than the notice allows, a
name without the elements it prescribes): such a rule (``Check.blocks``) keeps
the declaration a draft, and the applicant is told the rule, the clause it
cites and which answer to change, with a button that opens that answer.  A
rule the notice only advises stays a warning (``Walker.warnings``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dialogs.conditions import evaluate
from dialogs.qtypes.base import stable_key
from dialogs.schema import Check, Program, Question
from dialogs.ui import Action
from dialogs.view import ButtonView, Joined, Msg, Plain, msg


@dataclass(frozen=True)
class Blocked:
    """A blocking rule the answers break, and the numbered answer that lifts it."""

    check: Check
    n: int
    question: Question

    def line(self) -> Msg:
        """The rule, its clause and the answer to change."""
        return msg(
            "rules.blocked",
            message=Plain(self.check.message),
            cite=Plain(self.check.cite),
            n=self.n,
            label=Plain(self.question.label),
        )

    def button(self) -> ButtonView:
        """Opens the answer to change alone, back to the preview once answered."""
        label = msg("rules.btn.fix", n=self.n, label=Plain(self.question.label))
        return ButtonView(label, Action.EDIT_ANSWER, 0, stable_key(self.question.id))


def blocked(
    program: Program, answers: dict[str, Any], numbered: list[tuple[int, Question]]
) -> list[Blocked]:
    """The blocking rules the answers break, each with the visible question to change
    (a rule whose question is hidden is left: nothing on the form could lift it)."""
    shown = {q.id: (n, q) for n, q in numbered}
    out: list[Blocked] = []
    for check in program.checks:
        target = shown.get(check.fix_field or "")
        if check.blocks and target is not None and evaluate(check.when, answers):
            out.append(Blocked(check, *target))
    return out


def warnings(program: Program, answers: dict[str, Any]) -> list[tuple[str, str]]:
    """The advisory rules the answers raise: (message, cited clause)."""
    return [
        (c.message, c.cite) for c in program.checks if not c.blocks and evaluate(c.when, answers)
    ]


def expected_years(q: Question, today: dt.date) -> list[int]:
    """The years a ``row_years`` table holds, oldest first (declaring in 2026 with two
    rows: 2024, 2025)."""
    count = q.row_years.count if q.row_years is not None else 0
    return [today.year - back for back in range(count, 0, -1)]


def year_problems(q: Question, value: Any, label: Msg, today: dt.date) -> Iterator[Msg]:
    """A ``row_years`` table answered with other years than those it is for (or one of
    them twice) is a problem naming the years it should hold."""
    if q.row_years is None or not isinstance(value, list) or not value:
        return
    want = expected_years(q, today)
    got = [row.get(q.row_years.field) for row in value if isinstance(row, dict)]
    if sorted(str(y) for y in got) != sorted(str(y) for y in want):
        yield msg(
            "rules.years",
            label=label,
            want=_years(want),
            got=_years([y for y in got if y is not None]),
        )


def _years(years: list[Any]) -> Joined:
    return Joined(tuple(Plain(str(y)) for y in years), sep="engine.sep.list")
