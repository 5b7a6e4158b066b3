"""``multichoice``: several options, ticked one by one and confirmed with 完成;
typed options ("1、3", "135", "全部") are ticked too, added to those already
ticked, and the reply says what is ticked now.  Stored as option ids in the
definition's order."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dialogs.i18n import Locale
from dialogs.qtypes._options import OptionType, by_key, label_of
from dialogs.qtypes._parsing import parse_multichoice
from dialogs.qtypes.base import REFUSED, InvalidAnswer, JSONValue, Outcome, refusal
from dialogs.schema import Question
from dialogs.ui import Action
from dialogs.view import ButtonView, Joined, Part, Plain, View, msg, notice


def chosen(value: Any, scratch: dict[str, Any]) -> list[str]:
    """The ticks shown: those being changed, else the stored answer."""
    picked = scratch.get("sel", value or [])
    return [str(v) for v in picked] if isinstance(picked, list) else []


class MultiChoice(OptionType):
    name = "multichoice"
    action = Action.TOGGLE

    def parse(self, q: Question, text: str, *, today: dt.date) -> JSONValue:
        return parse_multichoice(q, text)

    def on_text(
        self, q: Question, text: str, value: Any, scratch: dict[str, Any], *, today: dt.date
    ) -> Outcome:
        """Typed options are ticked in addition to those already ticked (an option typed
        again stays ticked: typing names what one wants; unticking is the button's).
        The answer is still confirmed with 完成, as after tapping."""
        try:
            typed = parse_multichoice(q, text)
        except InvalidAnswer as err:
            return Outcome(views=[notice(refusal(q, err), expects_text=True)], show=False)
        ticked = set(chosen(value, scratch)) | {str(t) for t in typed}
        sel = [o.id for o in q.options or [] if o.id in ticked]
        labels = Joined(tuple(Plain(label_of(q, v)) for v in sel), sep="engine.sep.list")
        # The engine gives it the question's buttons (the ticks, 完成, the ways on).
        said = View(lines=(msg("types.multichoice.ticked", ticked=labels),), expects_text=True)
        return Outcome(scratch={"sel": sel}, views=[said], show=False)

    def format(self, q: Question, value: Any, *, loc: Locale, date_style: str) -> str:
        if not isinstance(value, list):
            return str(value)
        return loc.t("validation.list_separator").join(label_of(q, v) for v in value)

    def example(self, q: Question, *, loc: Locale) -> str:
        if q.example:
            return q.example
        labels = [o.label for o in q.options or []][:2]
        if not labels:
            return super().example(q, loc=loc)
        return loc.t("validation.list_separator").join(labels)

    def buttons(self, q: Question, value: Any, scratch: dict[str, Any]) -> list[list[ButtonView]]:
        ticked = set(chosen(value, scratch))
        marks: list[Part] = [
            msg("engine.btn.checked" if o.id in ticked else "engine.btn.unchecked", label=o.label)
            for o in q.options or []
        ]
        done = ButtonView(msg("engine.btn.done_count", count=len(ticked)), Action.DONE)
        return [*self.option_buttons(q, marks), [done]]

    def press(
        self, q: Question, action: Action, arg: int, key: str, value: Any, scratch: dict[str, Any]
    ) -> Outcome:
        ticked = chosen(value, scratch)
        if action is Action.TOGGLE:
            option = by_key(q, key)
            if option is None:
                return REFUSED
            flipped = set(ticked) ^ {option.id}
            return Outcome(scratch={"sel": [o.id for o in q.options or [] if o.id in flipped]})
        if action is Action.DONE:
            if not ticked and q.required:
                return Outcome(views=[notice(msg("engine.choose_one"))])
            return Outcome(value=ticked, scratch={}, advance=True)
        return REFUSED


TYPE = MultiChoice()
