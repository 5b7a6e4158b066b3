"""What the numeric types share: units in hints and answers, bounds, examples, and
asking once about a number far outside what such answers usually are."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any, ClassVar

from dialogs.i18n import Locale
from dialogs.qtypes._parsing import dec_str, to_decimal
from dialogs.qtypes.base import (
    REFUSED,
    InvalidAnswer,
    JSONValue,
    Outcome,
    Problem,
    QuestionType,
)
from dialogs.schema import Question
from dialogs.ui import Action
from dialogs.view import Answer, ButtonView, Part, Plain, msg

PENDING = "ask"
"""Scratch key: the readings of a typed number offered as buttons, awaiting a tap."""


def format_amount(value: Any, unit: str) -> str:
    """``12.5 万元``; a value that is no number is shown as stored."""
    d = to_decimal(value)
    if d is None:
        return str(value)
    return f"{dec_str(d)} {unit}" if unit else dec_str(d)


class Amount(QuestionType):
    """A number with an optional unit and bounds."""

    numeric = True
    keys: ClassVar[tuple[str, ...]] = ("min", "max", "unit", "plausible")
    default_plausible: tuple[Decimal, Decimal] | None = None
    """The usual range when the definition gives none (None: any number is usual)."""

    def unit(self, q: Question, loc: Locale) -> str:
        return q.unit or ""

    def format(self, q: Question, value: Any, *, loc: Locale, date_style: str) -> str:
        return format_amount(value, self.unit(q, loc))

    # ----------------------------------------------------------- asking once
    def read(self, q: Question, text: str, *, today: dt.date) -> tuple[JSONValue, bool]:
        """The value typed, and whether it might mean something else when unusual
        (a count means what it says, so only its size is in doubt)."""
        return self.parse(q, text, today=today), True

    def readings(self, q: Question, value: JSONValue) -> list[JSONValue]:
        """What an unusual number may have meant, offered as buttons (itself at least)."""
        return [value]

    def plausible(self, q: Question) -> tuple[Decimal, Decimal] | None:
        return q.plausible or self.default_plausible

    def unusual(self, q: Question, value: JSONValue) -> bool:
        usual = self.plausible(q)
        number = to_decimal(value)
        return usual is not None and number is not None and not usual[0] <= number <= usual[1]

    def on_text(
        self, q: Question, text: str, value: Any, scratch: dict[str, Any], *, today: dt.date
    ) -> Outcome:
        try:
            parsed, doubtful = self.read(q, text, today=today)
        except InvalidAnswer:
            return super().on_text(q, text, value, scratch, today=today)  # refused as usual
        # Asked once: what is typed after the question is taken as typed.
        if doubtful and PENDING not in scratch and self.unusual(q, parsed):
            return Outcome(scratch={PENDING: self.readings(q, parsed)})
        return Outcome(value=parsed, scratch={}, advance=True)

    def press(
        self, q: Question, action: Action, arg: int, key: str, value: Any, scratch: dict[str, Any]
    ) -> Outcome:
        offered = scratch.get(PENDING)
        if action is not Action.READING or not isinstance(offered, list):
            return REFUSED
        if not 0 <= arg < len(offered):
            return REFUSED
        return Outcome(value=offered[arg], scratch={}, advance=True)

    def hint(self, q: Question, value: Any, scratch: dict[str, Any]) -> list[Part]:
        unit = msg("engine.unit", unit=q.unit) if q.unit else Plain("")
        lines: list[Part] = [msg(f"engine.hint.{self.name}", unit=unit)]
        offered = scratch.get(PENDING)
        if isinstance(offered, list) and len(offered) == 2:
            lines.append(
                msg("parse.reading.which", a=Answer(q, offered[0]), b=Answer(q, offered[1]))
            )
        elif isinstance(offered, list) and offered:
            usual = self.plausible(q) or (Decimal(0), Decimal(0))
            lines.append(
                msg(
                    "parse.reading.sure",
                    value=Answer(q, offered[0]),
                    low=Answer(q, dec_str(usual[0])),
                    high=Answer(q, dec_str(usual[1])),
                )
            )
        return lines

    def buttons(self, q: Question, value: Any, scratch: dict[str, Any]) -> list[list[ButtonView]]:
        offered = scratch.get(PENDING)
        if not isinstance(offered, list):
            return []
        return [[ButtonView(Answer(q, v), Action.READING, i) for i, v in enumerate(offered)]]

    # ----------------------------------------------------------- showing
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
        if q.plausible is not None:
            low, high = q.plausible
            if low > high:
                yield "plausible", "E080", "plausible is [low, high], and low is larger than high"
            if (q.min is not None and low < q.min) or (q.max is not None and high > q.max):
                yield "plausible", "E081", "plausible lies outside min and max"
