"""``number``: a decimal (35.5, 35.5㎡), stored as normalised text so no float rounds it."""

from __future__ import annotations

import datetime as dt

from dialogs.qtypes._numbers import Amount
from dialogs.qtypes._parsing import parse_number
from dialogs.qtypes.base import JSONValue
from dialogs.schema import Question


class Number(Amount):
    name = "number"

    def parse(self, q: Question, text: str, *, today: dt.date) -> JSONValue:
        return parse_number(q, text)


TYPE = Number()
