"""Evaluate definition conditions against the answers given so far.

A test on a question that has no answer yet is false (except ``answered:
false``): a question depending on an unanswered one stays hidden, and an
eligibility warning is not raised about something the user has not said.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from dialogs.schema import Condition


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _fill(pattern: str, answers: dict[str, Any]) -> str | None:
    """Put escaped answers into ``{ref}`` slots; None if a referenced answer is missing."""
    missing = False

    def sub(match: re.Match[str]) -> str:
        nonlocal missing
        value = answers.get(match.group(1))
        if value is None or value == "":
            missing = True
            return ""
        return re.escape(str(value))

    filled = re.sub(r"\{([a-z][a-z0-9_]*)\}", sub, pattern)
    return None if missing else filled


def _count(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0


def evaluate(cond: Condition, answers: dict[str, Any]) -> bool:
    """Whether ``cond`` holds for ``answers`` (question id -> stored value)."""
    if cond.all is not None:
        return all(evaluate(c, answers) for c in cond.all)
    if cond.any is not None:
        return any(evaluate(c, answers) for c in cond.any)
    if cond.not_ is not None:
        return not evaluate(cond.not_, answers)
    assert cond.field is not None
    value = answers.get(cond.field)
    op = cond.operators()[0]
    if op == "answered":
        present = value is not None and value != "" and value != []
        return present is bool(cond.answered)
    if value is None:
        return False
    return _TESTS[op](cond, value, answers)


def _matches(pattern: str | None, value: Any, answers: dict[str, Any]) -> bool | None:
    filled = _fill(pattern or "", answers)
    return None if filled is None else re.search(filled, str(value)) is not None


def _compare(op: str) -> Callable[[Condition, Any, dict[str, Any]], bool]:
    def test(cond: Condition, value: Any, _answers: dict[str, Any]) -> bool:
        number = _number(value)
        if number is None:
            return False
        bound: Decimal = getattr(cond, op)
        return {
            "lt": number < bound,
            "lte": number <= bound,
            "gt": number > bound,
            "gte": number >= bound,
        }[op]

    return test


_TESTS: dict[str, Callable[[Condition, Any, dict[str, Any]], bool]] = {
    "eq": lambda c, v, _a: bool(v == c.eq),
    "ne": lambda c, v, _a: bool(v != c.ne),
    "in_": lambda c, v, _a: v in (c.in_ or []),
    "not_in": lambda c, v, _a: v not in (c.not_in or []),
    "rows_lt": lambda c, v, _a: _count(v) < (c.rows_lt or 0),
    "rows_gte": lambda c, v, _a: _count(v) >= (c.rows_gte or 0),
    "matches": lambda c, v, a: _matches(c.matches, v, a) is True,
    "not_matches": lambda c, v, a: _matches(c.not_matches, v, a) is False,
    **{op: _compare(op) for op in ("lt", "lte", "gt", "gte")},
}
"""The test behind each field operator (a value is there; ``answered`` is handled apart)."""
