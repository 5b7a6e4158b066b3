"""What the two date types share: stored ISO, printed in the program's style."""

from __future__ import annotations

from typing import Any

from dialogs.i18n import Locale
from dialogs.qtypes.base import QuestionType
from dialogs.schema import Question

DATE_STYLES = ("iso", "compact")


class DateLike(QuestionType):
    """``"1985-03"`` / ``"2018-04-20"`` stored; ``"198503"`` / ``"20180420"`` where a form
    asks for compact dates (CCCC's 填表说明)."""

    keys = ("past",)

    def format(self, q: Question, value: Any, *, loc: Locale, date_style: str) -> str:
        if date_style not in DATE_STYLES:
            raise ValueError(f"unknown date style '{date_style}' (known: {', '.join(DATE_STYLES)})")
        if isinstance(value, str) and date_style == "compact":
            return value.replace("-", "")
        return str(value)
