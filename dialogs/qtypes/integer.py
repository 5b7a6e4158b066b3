"""``integer``: a whole number (12, 12人, 十二, 3万), with ``unit``, ``min`` and ``max``."""

from __future__ import annotations

import datetime as dt

from dialogs.qtypes._numbers import Amount
from dialogs.qtypes._parsing import parse_integer
from dialogs.qtypes.base import JSONValue
from dialogs.schema import Question


class Integer(Amount):
    name = "integer"

    def parse(self, q: Question, text: str, *, today: dt.date) -> JSONValue:
        return parse_integer(q, text)


TYPE = Integer()
