"""Answers typed as text: parsing them into stored values, and showing them back.

Each question type (``dialogs.qtypes``) knows its own answers; these functions
are the one door to them for code that holds a question and a text or value.

=================  ==============================================
type               stored value
=================  ==============================================
text, longtext     ``str`` (stripped)
phone              ``str``: ``"13801115618"``, ``"0411-82610410"``
choice             ``str``: the option's id
integer            ``int``
number, money      ``str`` of a normalised decimal: ``"12.5"``, ``"3"``
yearmonth          ``"YYYY-MM"``
date               ``"YYYY-MM-DD"``
yesno              ``bool``
multichoice        ``list[str]`` of option ids, in option order
=================  ==============================================
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from dialogs.i18n import Locale
from dialogs.qtypes import kind
from dialogs.qtypes._dates import DATE_STYLES
from dialogs.qtypes.base import InvalidAnswer, JSONValue, NotTyped
from dialogs.render import refusal_text
from dialogs.schema import Question
from dialogs.view import Refusal

__all__ = [
    "InvalidAnswer",
    "JSONValue",
    "NotTyped",
    "error_message",
    "example_for",
    "format_answer",
    "parse_answer",
]


def parse_answer(question: Question, text: str, *, today: dt.date) -> JSONValue:
    """The stored value for ``text`` typed as the answer to ``question``.

    Raises :class:`InvalidAnswer` when the text is not acceptable, and
    ``ValueError`` for questions not answered by typing (groups, uploads, sums).
    """
    return kind(question).parse(question, text, today=today)


def format_answer(
    question: Question, value: Any, *, locale: Locale, date_style: str = "iso"
) -> str:
    """A stored value as shown to people and written into the form.

    ``date_style`` is ``"iso"`` ("1985-03", "2018-04-20") or ``"compact"``
    ("198503", "20180420", as some forms ask).  A missing answer is shown as
    the locale's "skipped" text.  Groups are formatted row by row by the
    caller, so a group question raises ``ValueError``.
    """
    if date_style not in DATE_STYLES:
        raise ValueError(f"unknown date style '{date_style}' (known: {', '.join(DATE_STYLES)})")
    unit = kind(question)
    if unit.repeats:
        raise ValueError(f"group '{question.id}' is formatted row by row, field by field")
    if value is None:
        return locale.t("validation.skipped")
    return unit.format(question, value, loc=locale, date_style=date_style)


def example_for(question: Question, *, locale: Locale) -> str:
    """The example shown with an error: the question's own, else one for its type."""
    return kind(question).example(question, loc=locale)


def error_message(question: Question, err: InvalidAnswer, *, locale: Locale) -> str:
    """The whole message for a refused answer: what is wrong, what is expected, an example."""
    return refusal_text(Refusal(question, err.key, dict(err.params)), locale)
