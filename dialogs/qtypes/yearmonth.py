"""``yearmonth``: a month (1985-03, 198503, 1985年3月, 1985.3), never in the future."""

from __future__ import annotations

import datetime as dt

from dialogs.qtypes._dates import DateLike
from dialogs.qtypes._parsing import parse_yearmonth
from dialogs.qtypes.base import JSONValue
from dialogs.schema import Question


class YearMonth(DateLike):
    name = "yearmonth"

    def parse(self, q: Question, text: str, *, today: dt.date) -> JSONValue:
        return parse_yearmonth(text, today)


TYPE = YearMonth()
