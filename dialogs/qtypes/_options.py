"""What choice and multichoice share: options by stable id, on buttons and in checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dialogs.i18n import Locale
from dialogs.qtypes.base import Problem, QuestionType, stable_key
from dialogs.schema import Option, Question
from dialogs.ui import Action
from dialogs.view import ButtonView, Part

LONG_LABEL = 10
"""Option labels longer than this get a button row each; shorter ones go two to a row."""


def pairs(buttons: list[ButtonView], labels: list[str]) -> list[list[ButtonView]]:
    """Buttons two to a row, or one to a row when a label is long."""
    width = 1 if any(len(label) > LONG_LABEL for label in labels) else 2
    return [buttons[i : i + width] for i in range(0, len(buttons), width)]


def by_key(q: Question, key: str) -> Option | None:
    """The option a button's key names (re-checked: button data is user input)."""
    for option in q.options or []:
        if stable_key(option.id) == key:
            return option
    return None


def label_of(q: Question, value: Any) -> str:
    """The label of a stored option id; an id the definition dropped is shown as stored."""
    option = q.option(value)
    return option.label if option is not None else str(value)


class OptionType(QuestionType):
    """A question answered by picking among the definition's options."""

    action: Action = Action.CHOOSE
    keys = ("options",)

    def option_buttons(self, q: Question, label: list[Part]) -> list[list[ButtonView]]:
        options = q.options or []
        buttons = [
            ButtonView(part, self.action, 0, stable_key(o.id))
            for o, part in zip(options, label, strict=True)
        ]
        return pairs(buttons, [o.label for o in options])

    def example(self, q: Question, *, loc: Locale) -> str:
        if q.example:
            return q.example
        labels = [o.label for o in q.options or []]
        return labels[0] if labels else super().example(q, loc=loc)

    def check(self, q: Question, *, in_group: bool) -> Iterator[Problem]:
        if q.fields is not None:
            yield "fields", "E035", f"only a group has fields, not a '{self.name}'"
        if q.of is not None:
            yield "of", "E041", "only a sum takes 'of'"
        options = q.options or []
        if len(options) < 2:
            yield "options", "E036", "a choice needs at least two options"
        for what, values in (
            ("id", [o.id for o in options]),
            ("label", [o.label for o in options]),
        ):
            seen: set[str] = set()
            for value in values:
                if value in seen:
                    yield "options", "E037", f"duplicate option {what} '{value}'"
                seen.add(value)
        keys = [stable_key(o.id) for o in options]
        if len(set(keys)) != len(keys):
            yield "options", "E044", "two option ids share a button key: rename one of them"
