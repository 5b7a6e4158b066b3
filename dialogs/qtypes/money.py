"""``money``: an amount in 万元; "50000元" and "5万" both become 5."""

from __future__ import annotations

import datetime as dt

from dialogs.i18n import Locale
from dialogs.qtypes._numbers import Amount
from dialogs.qtypes._parsing import parse_money
from dialogs.qtypes.base import JSONValue
from dialogs.schema import Question


class Money(Amount):
    name = "money"

    def unit(self, q: Question, loc: Locale) -> str:
        return q.unit or loc.t("validation.money_unit")

    def parse(self, q: Question, text: str, *, today: dt.date) -> JSONValue:
        return parse_money(q, text)


TYPE = Money()
