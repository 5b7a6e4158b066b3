"""Numbers that must add up: the checks a reviewer makes with a pencil.

A program lists ``totals`` (``dialogs.schema.Total``): parts of a total as the
form breaks it down.  Before submission every rule whose numbers are all
answered is checked, and a mismatch is a problem naming each number, so the
applicant sees which one to correct without adding up the form again.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from dialogs.qtypes._parsing import dec_str, to_decimal
from dialogs.schema import Program, Question, Total
from dialogs.view import Answer, Joined, Msg, Part, Plain, msg


def _numbers(rule: Total, program: Program, answers: dict[str, Any]) -> list[Decimal] | None:
    """The parts' numbers then the total's, or None while one is not answered."""
    out: list[Decimal] = []
    for qid in [*rule.parts, rule.total]:
        number = to_decimal(answers.get(qid))
        if number is None:
            return None
        out.append(number)
    return out


def _holds(rule: Total, parts: Decimal, total: Decimal) -> bool:
    return parts == total if rule.relation == "equal" else parts <= total


def _cell(q: Question, value: Any) -> Part:
    return msg("parse.total.cell", label=Plain(q.label), value=Answer(q, value))


def broken(
    program: Program, answers: dict[str, Any], shown: set[str], *, only: str | None = None
) -> Iterator[Total]:
    """The rules the answers break (rules on hidden or unanswered questions are left);
    ``only``: the rules this question is a number of."""
    for rule in program.totals:
        if only is not None and only not in (rule.total, *rule.parts):
            continue
        if not {rule.total, *rule.parts} <= shown:
            continue
        numbers = _numbers(rule, program, answers)
        if numbers is not None and not _holds(rule, sum(numbers[:-1], Decimal(0)), numbers[-1]):
            yield rule


def problems(
    program: Program, answers: dict[str, Any], shown: set[str], *, only: str | None = None
) -> Iterator[Msg]:
    """A problem for each broken rule, naming every number and their sum."""
    for rule in broken(program, answers, shown, only=only):
        parts = sum((to_decimal(answers.get(p)) or Decimal(0) for p in rule.parts), Decimal(0))
        cells = tuple(_cell(program.question(p), answers.get(p)) for p in rule.parts)
        yield msg(
            f"parse.total.{rule.relation}",
            what=Plain(rule.what),
            parts=Joined(cells, sep="parse.total.plus"),
            sum=dec_str(parts),
            total=_cell(program.question(rule.total), answers.get(rule.total)),
            cite=Plain(rule.cite),
        )
