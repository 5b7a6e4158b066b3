"""``choice``: one option, by button or typed (its label, its number, a unique part)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dialogs.i18n import Locale
from dialogs.qtypes._options import OptionType, by_key, label_of
from dialogs.qtypes._parsing import parse_choice
from dialogs.qtypes.base import REFUSED, JSONValue, Outcome
from dialogs.schema import Question
from dialogs.ui import Action
from dialogs.view import ButtonView, Part, Plain


class Choice(OptionType):
    name = "choice"

    def parse(self, q: Question, text: str, *, today: dt.date) -> JSONValue:
        return parse_choice(q, text)

    def format(self, q: Question, value: Any, *, loc: Locale, date_style: str) -> str:
        return label_of(q, value)

    def buttons(self, q: Question, value: Any, scratch: dict[str, Any]) -> list[list[ButtonView]]:
        labels: list[Part] = [Plain(o.label) for o in q.options or []]
        return self.option_buttons(q, labels)

    def press(
        self, q: Question, action: Action, arg: int, key: str, value: Any, scratch: dict[str, Any]
    ) -> Outcome:
        option = by_key(q, key) if action is Action.CHOOSE else None
        if option is None:
            return REFUSED
        return Outcome(value=option.id, scratch={}, advance=True)


TYPE = Choice()
