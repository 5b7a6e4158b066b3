"""``org``: the applicant's organisation (a grassroots union or a unit), found by
typing part of its name and picking among the matches.

A union may hold thousands of organisations, so the matches cannot be buttons
of the definition: the applicant flow searches the organisation table for
what was typed and leaves the matches in the question's scratch
(``{"typed": text, "found": [[code, name], ...], "more": n}``, and
``"unlisted": True`` when no list is kept to pick from) before this type sees
the text.  The stored answer is ``{"code": code, "name": name}``; an
applicant who finds nothing may keep the name they typed
(``{"code": None, "name": typed}``), and an administrator of the issuing union
places the declaration when it is submitted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from dialogs.i18n import Locale
from dialogs.qtypes.base import REFUSED, Outcome, Problem, QuestionType, stable_key
from dialogs.schema import Question
from dialogs.ui import Action
from dialogs.view import ButtonView, Part, Plain, msg

TYPED_KEY = "typed"
"""The key of the button that keeps the typed name (no organisation matched)."""

SHOWN = 8
"""Matches offered as buttons; more than this asks for a longer part of the name."""


def found(scratch: dict[str, Any]) -> list[tuple[str, str]]:
    """The matches of the last search, as (code, name)."""
    rows = scratch.get("found")
    if not isinstance(rows, list):
        return []
    return [(str(r[0]), str(r[1])) for r in rows if isinstance(r, list) and len(r) == 2]


def placed(value: Any) -> str | None:
    """The organisation code of an answer, None when it still has to be placed."""
    if isinstance(value, dict) and isinstance(value.get("code"), str):
        return str(value["code"])
    return None


class Org(QuestionType):
    name = "org"
    keys = ("kinds",)

    def on_text(
        self, q: Question, text: str, value: Any, scratch: dict[str, Any], *, today: dt.date
    ) -> Outcome:
        typed = " ".join(text.split())
        if not typed:
            return Outcome(views=[], show=True)
        fresh = scratch.get("typed") == typed
        if fresh and scratch.get("unlisted"):
            # No organisation list is kept for this program: nothing to pick from, so
            # the name as typed is the answer (an administrator places it later).
            return Outcome(value={"code": None, "name": typed}, scratch={}, advance=True)
        matches = found(scratch) if fresh else []
        exact = [(code, name) for code, name in matches if name == typed]
        if len(exact) == 1:
            code, name = exact[0]
            return Outcome(value={"code": code, "name": name}, scratch={}, advance=True)
        return Outcome(scratch={**scratch, "typed": typed, "found": [list(m) for m in matches]})

    def press(
        self, q: Question, action: Action, arg: int, key: str, value: Any, scratch: dict[str, Any]
    ) -> Outcome:
        if action is not Action.CHOOSE:
            return REFUSED
        typed = scratch.get("typed")
        if key == TYPED_KEY and isinstance(typed, str) and typed:
            return Outcome(value={"code": None, "name": typed}, scratch={}, advance=True)
        for code, name in found(scratch):
            if stable_key(code) == key:
                return Outcome(value={"code": code, "name": name}, scratch={}, advance=True)
        return REFUSED

    def format(self, q: Question, value: Any, *, loc: Locale, date_style: str) -> str:
        if not isinstance(value, dict):
            return str(value)
        name = str(value.get("name", ""))
        return name if placed(value) else loc.t("engine.org.unplaced", name=name)

    def hint(self, q: Question, value: Any, scratch: dict[str, Any]) -> list[Part]:
        typed = scratch.get("typed")
        if not isinstance(typed, str):
            return [msg("engine.hint.org")]
        matches = found(scratch)
        more = int(scratch.get("more", 0) or 0)
        if not matches:
            return [msg("engine.org.none", typed=typed)]
        if more:
            return [msg("engine.org.many", typed=typed, shown=len(matches), more=more)]
        return [msg("engine.org.found", typed=typed, count=len(matches))]

    def buttons(self, q: Question, value: Any, scratch: dict[str, Any]) -> list[list[ButtonView]]:
        rows = [
            [ButtonView(Plain(name), Action.CHOOSE, 0, stable_key(code))]
            for code, name in found(scratch)
        ]
        typed = scratch.get("typed")
        if isinstance(typed, str) and typed:
            label = msg("engine.org.keep_typed", typed=typed)
            rows.append([ButtonView(label, Action.CHOOSE, 0, TYPED_KEY)])
        return rows

    def check(self, q: Question, *, in_group: bool) -> Iterator[Problem]:
        yield from super().check(q, in_group=in_group)
        if in_group:
            yield "type", "E045", "an org question cannot be a column of a table"
        if not q.kinds:
            yield "kinds", "E046", "an org question names the kinds it offers (unit, grassroots)"


TYPE = Org()
