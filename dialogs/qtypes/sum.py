"""``sum``: a column of a group computed from its sibling numeric columns, never asked."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from dialogs.i18n import Locale
from dialogs.qtypes._numbers import Amount
from dialogs.qtypes.base import Problem
from dialogs.schema import Question
from dialogs.view import Part


class Sum(Amount):
    name = "sum"
    asked = False
    typed = False
    keys: ClassVar[tuple[str, ...]] = (*Amount.keys, "of")

    def unit(self, q: Question, loc: Locale) -> str:
        return q.unit or loc.t("validation.money_unit")

    def total(self, q: Question, row: dict[str, Any]) -> str | None:
        """The sum over a row, in plain notation; None while a part is missing."""
        total = Decimal(0)
        for ref in q.of or []:
            try:
                total += Decimal(str(row.get(ref)))
            except InvalidOperation:
                return None
        return format(total.normalize(), "f")

    def problems(self, q: Question, value: Any, label: Part) -> list[Any]:
        return []

    def check(self, q: Question, *, in_group: bool) -> Iterator[Problem]:
        if q.options is not None:
            yield "options", "E038", f"a '{self.name}' question takes no options"
        if not in_group:
            yield "type", "E039", "a sum is computed inside a group only"
        if not q.of:
            yield "of", "E040", "a sum needs 'of', the fields it adds up"


TYPE = Sum()
