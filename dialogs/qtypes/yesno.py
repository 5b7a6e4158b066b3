"""``yesno``: 是 / 否, by button or typed (是的, 有, 没有, y, n …); stored as a boolean."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dialogs.i18n import Locale
from dialogs.qtypes._parsing import parse_yesno
from dialogs.qtypes.base import REFUSED, JSONValue, Outcome, QuestionType
from dialogs.schema import Question
from dialogs.ui import Action
from dialogs.view import ButtonView, msg


class YesNo(QuestionType):
    name = "yesno"

    def parse(self, q: Question, text: str, *, today: dt.date) -> JSONValue:
        return parse_yesno(text)

    def format(self, q: Question, value: Any, *, loc: Locale, date_style: str) -> str:
        if isinstance(value, bool):
            return loc.t("validation.yes" if value else "validation.no")
        return str(value)

    def buttons(self, q: Question, value: Any, scratch: dict[str, Any]) -> list[list[ButtonView]]:
        return [
            [
                ButtonView(msg("engine.btn.yes"), Action.CHOOSE, 1),
                ButtonView(msg("engine.btn.no"), Action.CHOOSE, 0),
            ]
        ]

    def press(
        self, q: Question, action: Action, arg: int, key: str, value: Any, scratch: dict[str, Any]
    ) -> Outcome:
        if action is Action.CHOOSE and arg in (0, 1):
            return Outcome(value=bool(arg), scratch={}, advance=True)
        return REFUSED


TYPE = YesNo()
