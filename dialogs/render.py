"""Drawing views in one language: a pure function of the view and the locale.

Nothing here decides anything or changes any state; every word and every
mark of punctuation comes from the locale files, so an English screen has
English punctuation.  Answers are formatted by their question's type, in the
program's date style.
"""

from __future__ import annotations

from typing import Any

from dialogs.i18n import Locale
from dialogs.qtypes import kind
from dialogs.qtypes._parsing import char_count
from dialogs.ui import Button, Screen
from dialogs.view import Answer, ButtonView, Joined, Msg, Part, Plain, Refusal, View


def draw(part: Any, loc: Locale, date_style: str = "iso") -> str:
    """One part of a view as text (parameters that are parts are drawn first)."""
    if isinstance(part, Plain):
        return part.text
    if isinstance(part, Msg):
        params = {k: draw(v, loc, date_style) for k, v in part.params.items()}
        return loc.t(part.key, **params)
    if isinstance(part, Answer):
        return _answer(part, loc, date_style)
    if isinstance(part, Joined):
        return loc.t(part.sep).join(draw(p, loc, date_style) for p in part.parts)
    if isinstance(part, Refusal):
        return refusal_text(part, loc)
    return str(part)


def _answer(part: Answer, loc: Locale, date_style: str) -> str:
    if part.value is None:
        return loc.t("validation.skipped")
    text = kind(part.question).format(part.question, part.value, loc=loc, date_style=date_style)
    if part.clip is not None and len(text) > part.clip:
        return loc.t("engine.clipped", text=text[: part.clip], length=char_count(text))
    return text


def refusal_text(part: Refusal, loc: Locale) -> str:
    """The whole message for a refused answer: what is wrong, what is expected, an example."""
    q = part.question
    unit_type = kind(q)
    params: dict[str, Any] = dict(part.params)
    unit = params.get("unit")
    if isinstance(unit, str) and unit:
        params["unit"] = loc.t("validation.unit_after", unit=unit)
    if q.type == "money" and not unit:
        params["unit"] = loc.t("validation.unit_after", unit=loc.t("validation.money_unit"))
    key = part.key
    if key == "validation.choice" and q.type == "multichoice":
        key = "validation.multichoice"
    if key in ("validation.choice", "validation.multichoice"):
        params["options"] = "\n".join(
            loc.t("validation.option_line", n=i, label=o.label)
            for i, o in enumerate(q.options or [], 1)
        )
    params.setdefault("label", q.label)
    return loc.t(key, example=unit_type.example(q, loc=loc), **params)


def button(view: ButtonView, loc: Locale, date_style: str = "iso") -> Button:
    return Button(draw(view.label, loc, date_style), view.action, view.arg, view.key)


def render(view: View, loc: Locale, *, date_style: str = "iso") -> Screen:
    """A view as one message with its buttons."""
    text = "\n".join(draw(line, loc, date_style) for line in view.lines)
    buttons = [[button(b, loc, date_style) for b in row] for row in view.buttons]
    return Screen(text=text, buttons=buttons, expects_text=view.expects_text)


def render_all(views: list[View], loc: Locale, *, date_style: str = "iso") -> list[Screen]:
    return [render(v, loc, date_style=date_style) for v in views]


__all__ = ["Part", "draw", "refusal_text", "render", "render_all"]
