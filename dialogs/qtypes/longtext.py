"""``longtext``: a long answer written over several messages (a running count,
``min_chars``), confirmed with 完成; the parts wait in the cursor until then."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from dialogs.qtypes._parsing import DEFAULT_MAX_CHARS, char_count, parse_text
from dialogs.qtypes.base import (
    REFUSED,
    InvalidAnswer,
    JSONValue,
    Outcome,
    Problem,
    QuestionType,
    refusal,
)
from dialogs.schema import Question
from dialogs.ui import Action
from dialogs.view import ButtonView, Msg, Part, View, msg, notice


def joined(scratch: dict[str, Any]) -> str:
    """The parts received so far as one text."""
    return "\n".join(str(p) for p in scratch.get("buf") or [] if p)


def _done_clear() -> list[ButtonView]:
    return [
        ButtonView(msg("engine.btn.done"), Action.DONE),
        ButtonView(msg("engine.btn.clear"), Action.CLEAR),
    ]


class LongText(QuestionType):
    name = "longtext"
    keys = ("min_chars", "max_chars")

    def parse(self, q: Question, text: str, *, today: dt.date) -> JSONValue:
        return parse_text(q, text)

    def on_text(
        self, q: Question, text: str, value: Any, scratch: dict[str, Any], *, today: dt.date
    ) -> Outcome:
        parts = [*list(scratch.get("buf") or []), text.strip()]
        count = char_count(joined({"buf": parts}))
        limit = q.max_chars or DEFAULT_MAX_CHARS[self.name]
        if count > limit:
            err = InvalidAnswer("validation.too_long", max=limit, length=count)
            return Outcome(views=[notice(refusal(q, err), expects_text=True)], show=False)
        need = q.min_chars or 0
        line: Msg
        if need and count < need:
            line = msg("engine.longtext.progress_min", count=count, min=need, left=need - count)
        else:
            line = msg("engine.longtext.progress", count=count)
        # The engine gives it the question's buttons: 完成, 清空 and the ways on.
        progress = View(lines=(line,), expects_text=True)
        return Outcome(scratch={"buf": parts}, views=[progress], show=False)

    def press(
        self, q: Question, action: Action, arg: int, key: str, value: Any, scratch: dict[str, Any]
    ) -> Outcome:
        if action is Action.CLEAR:
            return Outcome(scratch={})
        if action is not Action.DONE:
            return REFUSED
        text = joined(scratch)
        if not text:
            return Outcome(views=[notice(msg("engine.longtext.empty"), expects_text=True)])
        need = q.min_chars or 0
        if char_count(text) < need:
            short = msg("engine.longtext.too_short", count=char_count(text), min=need)
            return Outcome(views=[notice(short, expects_text=True)])
        return Outcome(value=text, scratch={}, advance=True)

    def hint(self, q: Question, value: Any, scratch: dict[str, Any]) -> list[Part]:
        lines: list[Part] = [msg("engine.hint.longtext")]
        if scratch.get("buf"):
            lines.append(msg("engine.longtext.buffered", count=char_count(joined(scratch))))
        return lines

    def buttons(self, q: Question, value: Any, scratch: dict[str, Any]) -> list[list[ButtonView]]:
        return [_done_clear()] if scratch.get("buf") else []

    def drafting(self, scratch: dict[str, Any]) -> bool:
        return bool(scratch.get("buf"))

    def problems(self, q: Question, value: Any, label: Part) -> list[Msg]:
        if value is None:
            return super().problems(q, value, label)
        count = char_count(str(value))
        if q.min_chars and count < q.min_chars:
            return [msg("engine.problem.short", label=label, min=q.min_chars, count=count)]
        return []

    def check(self, q: Question, *, in_group: bool) -> Iterator[Problem]:
        yield from super().check(q, in_group=in_group)
        if q.min_chars is not None and q.max_chars is not None and q.min_chars > q.max_chars:
            yield "min_chars", "E042", "min_chars is larger than max_chars"


TYPE = LongText()
