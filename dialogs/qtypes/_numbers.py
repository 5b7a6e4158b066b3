"""What the numeric types share: units in hints and answers, bounds, examples."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

from dialogs.i18n import Locale
from dialogs.qtypes._parsing import dec_str, to_decimal
from dialogs.qtypes.base import Problem, QuestionType
from dialogs.schema import Question
from dialogs.view import Part, Plain, msg


def format_amount(value: Any, unit: str) -> str:
    """``12.5 万元``; a value that is no number is shown as stored."""
    d = to_decimal(value)
    if d is None:
        return str(value)
    return f"{dec_str(d)} {unit}" if unit else dec_str(d)


class Amount(QuestionType):
    """A number with an optional unit and bounds."""

    numeric = True

    def unit(self, q: Question, loc: Locale) -> str:
        return q.unit or ""

    def format(self, q: Question, value: Any, *, loc: Locale, date_style: str) -> str:
        return format_amount(value, self.unit(q, loc))

    def hint(self, q: Question, value: Any, scratch: dict[str, Any]) -> list[Part]:
        unit = msg("engine.unit", unit=q.unit) if q.unit else Plain("")
        return [msg(f"engine.hint.{self.name}", unit=unit)]

    def example(self, q: Question, *, loc: Locale) -> str:
        if q.example:
            return q.example
        default = loc.t(f"validation.examples.{self.name}")
        try:
            value = Decimal(default)
        except InvalidOperation:
            return default
        rounding = ROUND_CEILING
        if q.min is not None and value < q.min:
            value = q.min
        if q.max is not None and value > q.max:
            value, rounding = q.max, ROUND_FLOOR
        if self.name == "integer":
            value = value.to_integral_value(rounding=rounding)
        return dec_str(value)

    def check(self, q: Question, *, in_group: bool) -> Iterator[Problem]:
        yield from super().check(q, in_group=in_group)
        if q.min is not None and q.max is not None and q.min > q.max:
            yield "min", "E042", "min is larger than max"
