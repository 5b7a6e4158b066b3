"""``money``: an amount in 万元; "50000元" and "5万" both become 5.

People count in 元: a bare ``50000`` for an amount in 万元 is far outside what a
studio's funds are, so it is asked about once, with a button for each reading
(5 万元 or 50000 万元).  A unit typed (5万, 50000元) is taken as it says."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from dialogs.i18n import Locale
from dialogs.qtypes._numbers import Amount
from dialogs.qtypes._parsing import MONEY_PLACES, dec_str, parse_money, read_money, to_decimal
from dialogs.qtypes.base import JSONValue
from dialogs.schema import Question

YUAN_PER_WAN = 4
"""Powers of ten from 元 to 万元."""


class Money(Amount):
    name = "money"
    default_plausible = (Decimal(0), Decimal(1000))
    """A studio's funds in 万元: up to ten million yuan."""

    def unit(self, q: Question, loc: Locale) -> str:
        return q.unit or loc.t("validation.money_unit")

    def parse(self, q: Question, text: str, *, today: dt.date) -> JSONValue:
        return parse_money(q, text)

    def read(self, q: Question, text: str, *, today: dt.date) -> tuple[JSONValue, bool]:
        return read_money(q, text)

    def readings(self, q: Question, value: JSONValue) -> list[JSONValue]:
        number = to_decimal(value)
        if number is None:
            return [value]
        yuan = number.scaleb(-YUAN_PER_WAN)
        exponent = yuan.normalize().as_tuple().exponent
        precise = not (isinstance(exponent, int) and exponent < -MONEY_PLACES)  # not 0.5 元
        allowed = (q.min is None or yuan >= q.min) and (q.max is None or yuan <= q.max)
        return [dec_str(yuan), value] if precise and allowed else [value]


TYPE = Money()
