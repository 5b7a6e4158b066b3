"""What every question type is: one unit that parses, formats, offers buttons,
judges completeness and checks its own definition.

The walker (``dialogs.engine``) knows navigation only; whatever depends on the
kind of answer asks the question's type.  A new type (an organisation picker,
a panel score, a signature) is one new module in this package defining
``TYPE``, plus its locale keys (``engine.hint.<name>``,
``validation.examples.<name>``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar, TypeAlias

from dialogs.i18n import Locale
from dialogs.schema import Question
from dialogs.ui import Action
from dialogs.view import ButtonView, Msg, Part, Refusal, View, msg, notice

JSONValue: TypeAlias = str | int | bool | list["JSONValue"] | dict[str, "JSONValue"] | None

Problem = tuple[str, str, str]
"""A problem of a definition: (field inside the question, code, message)."""


class InvalidAnswer(Exception):
    """An answer that cannot be accepted.

    ``key`` is a full locale key under ``validation.`` (``"validation.integer"``);
    ``params`` are values for its template (``min``, ``max``, ``unit``,
    ``length``, ``options``, ``latest`` ...).
    """

    def __init__(self, key: str, /, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params: dict[str, object] = params


class NotTyped(ValueError):
    """A question answered by buttons, uploads or rows, not by one typed message."""


def stable_key(text: str) -> str:
    """A short fixed-size id for button data (an option id may be long or Chinese)."""
    return hashlib.blake2b(text.encode(), digest_size=4).hexdigest()


UNSET: Any = object()
"""No new value (a press that only changed the scratch state, or showed a notice)."""


@dataclass
class Outcome:
    """What a typed answer or a press did to the current question.

    ``value`` is the answer to store (``UNSET``: none); ``scratch`` replaces the
    question's in-progress state kept in the cursor (``None``: unchanged, ``{}``:
    cleared); ``advance`` moves to the next question; ``views`` are shown
    before the next screen; ``handled`` False means the press does not apply.
    """

    value: Any = UNSET
    scratch: dict[str, Any] | None = None
    advance: bool = False
    views: list[View] = field(default_factory=list)
    handled: bool = True
    show: bool = True
    """Whether the current question is shown again after ``views`` (after a typed
    answer that was refused, the refusal alone is enough)."""


REFUSED = Outcome(handled=False)


class QuestionType:
    """Default behaviour of a question type; each module overrides what differs."""

    name: ClassVar[str] = ""
    asked: ClassVar[bool] = True
    """False for computed values (a sum), which are shown but never asked."""
    typed: ClassVar[bool] = True
    """Whether one typed message answers it (the terminal then reads a bare number as text)."""
    numeric: ClassVar[bool] = False
    upload: ClassVar[bool] = False
    repeats: ClassVar[bool] = False
    """A repeating group of rows, walked by the engine field by field."""
    keys: ClassVar[tuple[str, ...]] = ()
    """The definition keys this type reads beyond those every question has (``id``,
    ``label``, ``type``, ``help``, ``required``, ``when``, ``example``, ``suggest``,
    ``same_as``): the JSON Schema of definitions offers these for the type."""

    # ----------------------------------------------------------- answering
    def parse(self, q: Question, text: str, *, today: dt.date) -> JSONValue:
        """The stored value for ``text``; raises :class:`InvalidAnswer`."""
        raise NotTyped(f"a '{self.name}' answer is not typed as text (question '{q.id}')")

    def on_text(
        self, q: Question, text: str, value: Any, scratch: dict[str, Any], *, today: dt.date
    ) -> Outcome:
        """A typed message while this question is asked: parse it and move on."""
        try:
            parsed = self.parse(q, text, today=today)
        except InvalidAnswer as err:
            return Outcome(views=[notice(refusal(q, err), expects_text=True)], show=False)
        return Outcome(value=parsed, scratch={}, advance=True)

    def press(
        self, q: Question, action: Action, arg: int, key: str, value: Any, scratch: dict[str, Any]
    ) -> Outcome:
        """A button of this type's own (choose, toggle, done, clear) was pressed."""
        return REFUSED

    # ----------------------------------------------------------- showing
    def format(self, q: Question, value: Any, *, loc: Locale, date_style: str) -> str:
        """A stored value as people read it (and as the form prints it)."""
        return str(value)

    def example(self, q: Question, *, loc: Locale) -> str:
        """The example shown with an error: the question's own, else one for the type."""
        return q.example or loc.t(f"validation.examples.{self.name}")

    def hint(self, q: Question, value: Any, scratch: dict[str, Any]) -> list[Part]:
        """How to answer, under the label."""
        return [msg(f"engine.hint.{self.name}")]

    def buttons(self, q: Question, value: Any, scratch: dict[str, Any]) -> list[list[ButtonView]]:
        """This type's own buttons, above the navigation."""
        return []

    def keepable(self, value: Any) -> bool:
        """Whether 保留当前答案 is offered for ``value``."""
        return value is not None

    def drafting(self, scratch: dict[str, Any]) -> bool:
        """Whether ``scratch`` holds typed work that leaving must not lose (the parts
        of a long text): it is held when the user goes back and put back on return,
        and 跳过 / 保留当前答案 are not offered while it is there."""
        return False

    # ----------------------------------------------------------- completeness
    def minimum(self, q: Question) -> int:
        """How many items (files, rows) an answer needs; 0 for single answers."""
        return 0

    def problems(self, q: Question, value: Any, label: Part) -> list[Msg]:
        """What keeps an answer from being complete for submission."""
        if value is None:
            return [msg("engine.problem.missing", label=label)] if q.required else []
        return []

    # ----------------------------------------------------------- definition
    def check(self, q: Question, *, in_group: bool) -> Iterator[Problem]:
        """Problems of the definition of ``q`` that only this type can see."""
        if q.options is not None:
            yield "options", "E038", f"a '{self.name}' question takes no options"
        if q.fields is not None:
            yield "fields", "E035", f"only a group has fields, not a '{self.name}'"
        if q.of is not None:
            yield "of", "E041", "only a sum takes 'of'"
        if q.kinds is not None and self.name != "org":
            yield "kinds", "E047", "only an org question takes 'kinds'"


def refusal(q: Question, err: InvalidAnswer) -> Refusal:
    """The message for a refused answer (drawn with the question's example)."""
    return Refusal(q, err.key, dict(err.params))


# --------------------------------------------------------------------------- registry


@cache
def registry() -> dict[str, QuestionType]:
    """Every question type by name: each module of this package that defines ``TYPE``
    (modules starting with ``_`` hold shared helpers), found once, on first use."""
    package = importlib.import_module("dialogs.qtypes")
    found: dict[str, QuestionType] = {}
    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("_") or module.name == "base":
            continue
        unit = getattr(importlib.import_module(f"dialogs.qtypes.{module.name}"), "TYPE", None)
        if not isinstance(unit, QuestionType):
            raise TypeError(f"dialogs.qtypes.{module.name} defines no TYPE")
        if unit.name in found:
            raise TypeError(f"question type '{unit.name}' is defined twice")
        found[unit.name] = unit
    return found


def kind(q: Question) -> QuestionType:
    """The type of ``q`` (the loader has made sure it exists)."""
    try:
        return registry()[q.type]
    except KeyError:
        raise KeyError(f"unknown question type '{q.type}' (question '{q.id}')") from None
