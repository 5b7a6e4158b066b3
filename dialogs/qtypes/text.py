"""``text``: one line of free text (a name, a unit, a title), 500 characters by default."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from dialogs.qtypes._parsing import parse_text
from dialogs.qtypes.base import JSONValue, Problem, QuestionType
from dialogs.schema import Question


class Text(QuestionType):
    name = "text"
    keys = ("min_chars", "max_chars")

    def parse(self, q: Question, text: str, *, today: dt.date) -> JSONValue:
        return parse_text(q, text)

    def check(self, q: Question, *, in_group: bool) -> Iterator[Problem]:
        yield from super().check(q, in_group=in_group)
        if q.min_chars is not None and q.max_chars is not None and q.min_chars > q.max_chars:
            yield "min_chars", "E042", "min_chars is larger than max_chars"


TYPE = Text()
