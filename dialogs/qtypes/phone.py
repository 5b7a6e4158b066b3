"""``phone``: a mobile number or a landline with its area code (and extension)."""

from __future__ import annotations

import datetime as dt

from dialogs.qtypes._parsing import parse_phone
from dialogs.qtypes.base import JSONValue, QuestionType
from dialogs.schema import Question


class Phone(QuestionType):
    name = "phone"

    def parse(self, q: Question, text: str, *, today: dt.date) -> JSONValue:
        return parse_phone(text)


TYPE = Phone()
