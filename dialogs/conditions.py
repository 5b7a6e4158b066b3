"""Evaluate definition conditions against the answers given so far.

A test on a question that has no answer yet is false (except ``answered:
false``): a question depending on an unanswered one stays hidden, and an
eligibility warning is not raised about something the user has not said.
"""

from __future__ import annotations

import re
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
    if op == "eq":
        return bool(value == cond.eq)
    if op == "ne":
        return bool(value != cond.ne)
    if op == "in_":
        return value in (cond.in_ or [])
    if op == "not_in":
        return value not in (cond.not_in or [])
    if op in ("rows_lt", "rows_gte"):
        n = _count(value)
        return n < (cond.rows_lt or 0) if op == "rows_lt" else n >= (cond.rows_gte or 0)
    if op in ("matches", "not_matches"):
        pattern = _fill((cond.matches if op == "matches" else cond.not_matches) or "", answers)
        if pattern is None:
            return False
        found = re.search(pattern, str(value)) is not None
        return found if op == "matches" else not found
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
