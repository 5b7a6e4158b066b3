"""``date``: a day (2018-04-20, 20180420, 2018年4月20日, 18.4.20, 今天); a month alone
(2018年4月) means its first day, and the next screen says so.  ``past``: not after today."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dialogs.qtypes._dates import DateLike
from dialogs.qtypes._parsing import read_date
from dialogs.qtypes.base import InvalidAnswer, JSONValue, Outcome
from dialogs.schema import Question
from dialogs.view import Answer, msg, notice


class Date(DateLike):
    name = "date"

    def parse(self, q: Question, text: str, *, today: dt.date) -> JSONValue:
        return read_date(text, today, past=q.past)[0]

    def on_text(
        self, q: Question, text: str, value: Any, scratch: dict[str, Any], *, today: dt.date
    ) -> Outcome:
        try:
            day, month_only = read_date(text, today, past=q.past)
        except InvalidAnswer:
            return super().on_text(q, text, value, scratch, today=today)  # refused as usual
        views = [notice(msg("parse.first_of_month", day=Answer(q, day)))] if month_only else []
        return Outcome(value=day, scratch={}, advance=True, views=views)


TYPE = Date()
