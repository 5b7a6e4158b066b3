"""What the engine decides to show, before any word is chosen.

The walker returns views: immutable descriptions of a screen made of locale
messages (a key and its parameters), the user's own text, answers still in
their stored form, and buttons with their actions.  :mod:`dialogs.render`
turns a view into text with one locale and nothing else, so the same view
can be drawn in Chinese or English, in Telegram or the terminal, and tests
can assert on what was decided (which question, which buttons, which
problem) instead of on wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dialogs.schema import Question
from dialogs.ui import Action


@dataclass(frozen=True)
class Msg:
    """A locale message: ``key`` filled with ``params`` (values may be views too)."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plain:
    """Text shown as it is: what a user typed, a label or help text from a definition."""

    text: str


@dataclass(frozen=True)
class Answer:
    """A stored answer, formatted by its question's type when drawn (``clip``: at most
    this many characters, with the full length after an ellipsis)."""

    question: Question
    value: Any
    clip: int | None = None


@dataclass(frozen=True)
class Refusal:
    """Why a typed answer was refused: a ``validation.*`` key and its parameters,
    drawn with what the question expects and an example."""

    question: Question
    key: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Joined:
    """Several parts drawn one after another, separated by the locale's ``sep`` key."""

    parts: tuple[Part, ...]
    sep: str = "engine.sep.line"


Part = Msg | Plain | Answer | Joined | Refusal


@dataclass(frozen=True)
class ButtonView:
    """A button: what it says, what it does, and the stable id it acts on (``key``)."""

    label: Part
    action: Action
    arg: int = 0
    key: str = ""


@dataclass(frozen=True)
class View:
    """One message to show: lines, rows of buttons, and whether typed text answers it."""

    lines: tuple[Part, ...]
    buttons: tuple[tuple[ButtonView, ...], ...] = ()
    expects_text: bool = False
    kind: str = "notice"
    """What the screen is (``question``, ``group``, ``preview``, ``notice``, …), for
    transports and tests."""
    replaces: bool = False
    """This screen takes the place of the message whose button was pressed (a tick of
    a multiple choice: the same question with the ticks changed), where a transport
    can edit a message it sent; elsewhere it is simply shown."""

    def keys(self) -> list[str]:
        """Every locale key the view uses, in order (tests assert on these)."""
        out: list[str] = []

        def walk(part: Any) -> None:
            if isinstance(part, Refusal):
                out.append(part.key)
            elif isinstance(part, Msg):
                out.append(part.key)
                for value in part.params.values():
                    walk(value)
            elif isinstance(part, Joined):
                for sub in part.parts:
                    walk(sub)

        for line in self.lines:
            walk(line)
        return out

    def actions(self) -> list[tuple[Action, int, str]]:
        """The buttons' actions with their argument and key, row after row."""
        return [(b.action, b.arg, b.key) for row in self.buttons for b in row]


def msg(key: str, /, **params: Any) -> Msg:
    """Shorthand for a locale message."""
    return Msg(key, params)


def rows(*rows: list[ButtonView] | tuple[ButtonView, ...]) -> tuple[tuple[ButtonView, ...], ...]:
    """Button rows as the immutable tuples a view holds, empty rows left out."""
    return tuple(tuple(r) for r in rows if r)


def notice(part: Part, *, expects_text: bool = False) -> View:
    """A one-line message without buttons."""
    return View(lines=(part,), expects_text=expects_text)
