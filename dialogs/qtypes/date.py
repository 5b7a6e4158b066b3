"""``date``: a day (2018-04-20, 20180420, 2018年4月20日, 今天)."""

from __future__ import annotations

import datetime as dt

from dialogs.qtypes._dates import DateLike
from dialogs.qtypes._parsing import parse_date
from dialogs.qtypes.base import JSONValue
from dialogs.schema import Question


class Date(DateLike):
    name = "date"

    def parse(self, q: Question, text: str, *, today: dt.date) -> JSONValue:
        return parse_date(text, today)


TYPE = Date()
