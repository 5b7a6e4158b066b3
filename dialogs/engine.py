"""The one generic engine that walks any program definition.

There is no handler per question: the walker looks at the definition, the
answers and a small cursor (all plain JSON, stored in the application row) and
decides what comes next; whatever depends on the kind of answer is asked of
the question's type (``dialogs.qtypes``).  It is pure: no database, no
transport, no clock of its own (``today`` is given), and no words: it returns
views (``dialogs.view``), which ``dialogs.render`` draws in a language.

Cursor keys: ``mode`` (ask | preview | done), ``q`` (current top-level
question), ``row``/``f`` (row and field inside a repeating group; no ``row``
means the group's menu), ``new`` (the row was just added), ``del`` (a row
awaiting delete confirmation), ``s`` (the current question's work in
progress: the parts of a long text, the ticks of a multiple choice),
``held``
(work in progress of questions left before it was finished, by answer path:
the paragraphs of a long text survive 上一步 and come back with the question);
``edit`` (what is being edited from the preview: a section's id, walked to
its end; ``q:<question id>``, one answer (a table: its menu); ``f:<question
id>``, one field of the row in ``row``; each returns to the preview after it).  At a group's
menu, ``s`` holds rows read from a paste or a sheet until they are confirmed
(``dialogs.tables.Pending``);
``gaps`` (the row was filled from the leader's answers: only its empty
fields are asked).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dialogs import rules, screens, table_screens, tables, totals
from dialogs.conditions import evaluate
from dialogs.qtypes import kind
from dialogs.qtypes._upload import accepts_mime, size_limit_mb
from dialogs.qtypes.base import (
    UNSET,
    InvalidAnswer,
    JSONValue,
    NotTyped,
    Outcome,
    refusal,
    stable_key,
)
from dialogs.qtypes.group import asked_fields
from dialogs.schema import Program, Question, Section
from dialogs.suggest import Suggestion, first_row, from_earlier, from_templates
from dialogs.ui import Action
from dialogs.view import Msg, View, msg, notice
from storage.files import MIME_UNKNOWN

OLD_SCRATCH_KEYS = ("buf", "sel")
"""Where drafts saved before ``s`` kept their work in progress."""

ONE_ANSWER = "q:"
ONE_FIELD = "f:"
"""Prefixes of the cursor's ``edit``: one answer, one field of a row (a section's id
has no colon, so drafts saved before these read as they did)."""

TYPED_NUMBER = re.compile(r"\D{0,3}?(\d{1,4})(?:\s*[.\-]\s*(\d{1,4}))?\D{0,2}")
"""What a user types in the preview to open one answer: 12, 改12, 第12项, 12.3 (row 3)."""


@dataclass
class Step:
    """The result of one event: what to show and what changed."""

    views: list[View] = field(default_factory=list)
    changed: bool = False
    events: list[tuple[str, Any]] = field(default_factory=list)
    toast: Msg | None = None


class Walker:
    """Walks one application of one program.  Mutates private copies only.

    ``known`` holds, by question id, what the person answered to the same question
    in an earlier declaration (:func:`dialogs.suggest.recall`): offered as a
    suggestion while the question has no answer here, never stored unasked.
    """

    def __init__(
        self,
        program: Program,
        answers: dict[str, Any],
        cursor: dict[str, Any],
        *,
        today: dt.date,
        known: Mapping[str, Any] | None = None,
    ) -> None:
        self.p = program
        self.answers: dict[str, Any] = copy.deepcopy(answers)
        self.cur: dict[str, Any] = copy.deepcopy(cursor)
        self.today = today
        self.known: dict[str, Any] = dict(known or {})
        self.step = Step()
        self.hold = False
        """A handler showed its own view (a picker): the current state is not shown again."""
        self._shown: dict[str, list[Question]] = {}
        old = {k: self.cur.pop(k) for k in OLD_SCRATCH_KEYS if k in self.cur}
        if old:
            self.cur["s"] = old
        if self.cur and not self._cursor_fits():
            self._repair_cursor()

    def _cursor_fits(self) -> bool:
        """Whether the stored cursor still names a place in the definition (a program
        file may have been edited while drafts were open)."""
        if self.mode in ("preview", "done"):
            return True
        ids = {q.id: q for _, q in self.p.questions() if kind(q).asked}
        q = ids.get(str(self.cur.get("q")))
        if q is None:
            return False
        if self.cur.get("row") is None:
            return True
        table = self.answers.get(q.id)
        fields = {f.id for f in asked_fields(q)}
        return (
            isinstance(table, list)
            and 0 <= int(self.cur["row"]) < len(table)
            and self.cur.get("f") in fields
        )

    def _repair_cursor(self) -> None:
        """Resume at the first visible question without an answer (answers are kept)."""
        for q in self.visible():
            if q.id not in self.answers:
                self.cur = {"mode": "ask", "q": q.id}
                break
        else:
            self.cur = {"mode": "preview"}
        self.step.changed = True

    # ------------------------------------------------------------------ layout
    def section_visible(self, section: Section) -> bool:
        return section.when is None or evaluate(section.when, self.answers)

    def visible(self) -> list[Question]:
        """Asked top-level questions that the answers so far make relevant, in order."""
        return [q for section in self.p.sections for q in self._visible_in(section)]

    def _visible_in(self, section: Section) -> list[Question]:
        # Asked for many times while one event is handled (progress, ways on,
        # problems, the preview); remembered until the answers change.
        cached = self._shown.get(section.id)
        if cached is not None:
            return cached
        shown = []
        if self.section_visible(section):
            shown = [
                q
                for q in section.questions
                if kind(q).asked and (q.when is None or evaluate(q.when, self.answers))
            ]
        self._shown[section.id] = shown
        return shown

    def neighbour(self, qid: str, delta: int) -> Question | None:
        """The visible question before/after ``qid`` (which may itself be hidden now)."""
        order = [q.id for _, q in self.p.questions()]
        visible_ids = {q.id for q in self.visible()}
        idx = order.index(qid) + delta
        while 0 <= idx < len(order):
            if order[idx] in visible_ids:
                return self.p.question(order[idx])
            idx += delta
        return None

    # ------------------------------------------------------------------ state helpers
    @property
    def mode(self) -> str:
        return str(self.cur.get("mode", "ask"))

    def start(self) -> None:
        """Put the cursor on the first question."""
        first = self.visible()
        self.cur = {"mode": "ask", "q": first[0].id} if first else {"mode": "preview"}
        self.step.changed = True

    def question(self) -> Question:
        return self.p.question(str(self.cur["q"]))

    def in_row(self) -> bool:
        return self.cur.get("row") is not None

    def _field(self) -> Question:
        fid = self.cur["f"]
        for f in self.question().fields or []:
            if f.id == fid:
                return f
        raise KeyError(fid)

    def rows(self) -> list[dict[str, Any]]:
        """The rows of the current group as stored (a copy: reading never writes)."""
        table = self.answers.get(self.question().id)
        return list(table) if isinstance(table, list) else []

    def _set_rows(self, table: list[dict[str, Any]]) -> None:
        self.answers[self.question().id] = table
        self._shown.clear()
        self.step.changed = True

    def target(self) -> tuple[Question, Any, str]:
        """The question being asked now, its current value and its answer path."""
        q = self.question()
        if kind(q).repeats and self.in_row():
            row = int(self.cur["row"])
            f = self._field()
            table = self.rows()
            value = table[row].get(f.id) if row < len(table) else None
            return f, value, f"{q.id}[{row}].{f.id}"
        return q, self.answers.get(q.id), q.id

    @property
    def scratch(self) -> dict[str, Any]:
        """The current question's work in progress (long-text parts, ticks)."""
        value = self.cur.get("s")
        return dict(value) if isinstance(value, dict) else {}

    def _set(self, value: Any) -> None:
        q = self.question()
        _, _, path = self.target()
        if kind(q).repeats and self.in_row():
            table = self.rows()
            row = int(self.cur["row"])
            table[row] = {**table[row], self._field().id: value}
            self.answers[q.id] = table
        else:
            self.answers[q.id] = value
        self._shown.clear()
        self.step.events.append((path, value))
        self.step.changed = True

    def _move(self, **cursor: Any) -> None:
        held = self._held_on_leaving()
        self.cur = {k: v for k, v in cursor.items() if v is not None}
        self._arrive(held)

    def _to_field(self, fid: str) -> None:
        """Move to another field of the same row, holding and picking up drafts as
        :meth:`_move` does."""
        held = self._held_on_leaving()
        self.cur.pop("s", None)
        self.cur["f"] = fid
        self._arrive(held)

    def _held_on_leaving(self) -> dict[str, Any]:
        """The drafts held in the cursor, with the current question's own added when
        leaving it would lose typed work (a long text's parts): 上一步 pressed by
        mistake after three paragraphs must not throw them away."""
        held = self.cur.get("held")
        out: dict[str, Any] = dict(held) if isinstance(held, dict) else {}
        scratch = self.scratch
        if self.mode == "ask" and scratch and self.cur.get("q") is not None:
            q = self.question()
            if not (kind(q).repeats and not self.in_row()):
                target, _, path = self.target()
                if kind(target).drafting(scratch):
                    out[path] = scratch
        return out

    def _arrive(self, held: dict[str, Any]) -> None:
        """Put back the work in progress held for the question arrived at."""
        if self.mode == "ask" and self._asking() and "s" not in self.cur:
            _, _, path = self.target()
            draft = held.pop(path, None)
            if isinstance(draft, dict) and draft:
                self.cur["s"] = draft
        if held:
            self.cur["held"] = held
        else:
            self.cur.pop("held", None)
        self.step.changed = True

    def _apply(self, outcome: Outcome) -> None:
        """Carry out what a question's type decided."""
        if outcome.scratch is not None:
            if outcome.scratch:
                self.cur["s"] = outcome.scratch
            else:
                self.cur.pop("s", None)
            self.step.changed = True
        if outcome.value is not UNSET:
            self._set(outcome.value)
            self.step.views.extend(self._totals_now())
        self.step.views.extend(outcome.views)
        if outcome.advance:
            self.advance()

    def _totals_now(self) -> list[View]:
        """Numbers that must add up, said as soon as the last of them is typed (and again
        whenever one of them changes), not only at submission."""
        if self.in_row():
            return []
        shown = {q.id for q in self.visible()}
        found = totals.problems(self.p, self.answers, shown, only=self.question().id)
        return [notice(problem) for problem in found]

    # ------------------------------------------------------------------ movement
    def _editing(self, prefix: str) -> bool:
        return str(self.cur.get("edit", "")).startswith(prefix)

    def _goto(self, q: Question | None) -> None:
        """Go to ``q`` (or the preview when None), leaving edit mode at the section's end
        or after the one answer being edited."""
        edit = self.cur.get("edit")
        one = self._editing(ONE_ANSWER) or self._editing(ONE_FIELD)
        if q is None or one or (edit is not None and self.p.section_of(q.id).id != edit):
            self._move(mode="preview")
        else:
            self._move(mode="ask", q=q.id, edit=edit)

    def advance(self) -> None:
        """Move past the current target after it was answered or kept."""
        q = self.question()
        if kind(q).repeats and self.in_row():
            ids = [f.id for f in asked_fields(q)]
            i = ids.index(self.cur["f"])
            if self.cur.get("gaps"):  # a row filled for the user: ask only what it lacks
                row = self.rows()[int(self.cur["row"])]
                ids = ids[: i + 1] + [f for f in ids[i + 1 :] if row.get(f) is None]
            if self._editing(ONE_FIELD):
                self.step.toast = msg("engine.group.row_saved", n=int(self.cur["row"]) + 1)
                self._move(mode="preview")
            elif i + 1 < len(ids):
                self._to_field(ids[i + 1])
            else:
                self.step.toast = msg("engine.group.row_saved", n=int(self.cur["row"]) + 1)
                self._move(mode="ask", q=q.id, edit=self.cur.get("edit"))
            return
        after = self.neighbour(q.id, +1)
        if self._editing(ONE_ANSWER) and after is not None and after.id not in self.answers:
            # The new answer opened a question never asked (a follow-up): ask it too.
            self._move(mode="ask", q=after.id, edit=ONE_ANSWER + after.id)
            return
        self._goto(after)

    def _drop_new_empty_row(self) -> None:
        """Forget a row that was just added and is left before anything was put in it."""
        q = self.question()
        if not kind(q).repeats or not self.in_row() or not self.cur.get("new"):
            return
        row = int(self.cur["row"])
        table = self.rows()
        if row < len(table) and not any(v is not None for v in table[row].values()):
            del table[row]
            self._set_rows(table)

    def back(self) -> None:
        q = self.question()
        if kind(q).repeats and self.in_row():
            if self._editing(ONE_FIELD):
                self._move(mode="preview")
                return
            ids = [f.id for f in asked_fields(q)]
            i = ids.index(self.cur["f"])
            if i > 0:
                self._to_field(ids[i - 1])
                return
            self._drop_new_empty_row()
            self._move(mode="ask", q=q.id, edit=self.cur.get("edit"))
            return
        if self._editing(ONE_ANSWER):  # 上一步 leaves the one answer as it was
            self._move(mode="preview")
            return
        prev = self.neighbour(q.id, -1)
        if prev is None:
            self.step.toast = msg("engine.first_question")
            return
        self._goto(prev)

    # ------------------------------------------------------------------ screens
    def _place(self) -> screens.Place:
        q = self.question()
        visible = [x.id for x in self.visible()]
        n = visible.index(q.id) + 1 if q.id in visible else len(visible)
        of = self.p.section_of(q.id)
        section = of.title
        if not (kind(q).repeats and self.in_row()):
            first = next((x.id for x in self._visible_in(of)), None) == q.id
            intro = of.help if first else None
            return screens.Place(n, len(visible), section, intro=intro)
        fields = [f.id for f in asked_fields(q)]
        return screens.Place(
            n,
            len(visible),
            section,
            row=int(self.cur["row"]) + 1,
            field=fields.index(self.cur["f"]) + 1,
            fields=len(fields),
        )

    def _ways(self, target: Question | None, value: Any) -> screens.Ways:
        back = self.in_row() or self.neighbour(self.question().id, -1) is not None
        to_preview = self.cur.get("edit") is not None
        if target is None:
            return screens.Ways(back=back, to_preview=to_preview)
        # While typed work is in progress, 跳过 and 保留当前答案 would throw it away
        # with one tap; 清空 is there for that, on purpose.
        drafting = kind(target).drafting(self.scratch)
        return screens.Ways(
            back=back,
            skip=not target.required and not drafting,
            keep=value is not None and kind(target).keepable(value) and not drafting,
            to_preview=to_preview,
        )

    def suggestions(self, q: Question) -> list[Suggestion]:
        """The answers offered for ``q`` (the current target): its templates filled,
        then an earlier declaration's answer while ``q`` has none here."""
        row = int(self.cur["row"]) if self.in_row() else None
        others = [r for i, r in enumerate(self.rows()) if i != row] if row is not None else []
        taken = [r[q.id] for r in others if r.get(q.id) is not None]
        out = from_templates(q, self.answers, self.today, style=self.p.date_style, taken=taken)
        if row is None and self.answers.get(q.id) is None and q.id in self.known:
            shown = [s.text for s in out if s.text is not None]
            earlier = from_earlier(q, self.known[q.id], self.today, shown)
            if earlier is not None:
                out.append(earlier)
        return out

    def row_fill(self) -> dict[str, JSONValue]:
        """What 「填入负责人本人信息」 puts into the first row of a team table now: the
        columns the leader's answers fill (empty: not offered; it is offered while
        none of those columns has a value)."""
        if not self._asking() or not self.in_row() or int(self.cur["row"]) != 0:
            return {}
        q = self.question()
        table = self.rows()
        row = table[0] if table else {}
        if any(row.get(column) is not None for column in q.first_row_from or {}):
            return {}
        return first_row(self.p, q, self.answers, self.today)

    def views(self) -> list[View]:
        """What the user should see for the current state."""
        if self.mode == "preview":
            return [self.preview()]
        if self.mode == "done":
            return [notice(msg("engine.already_submitted"))]
        q = self.question()
        if kind(q).repeats and not self.in_row():
            if self.cur.get("del") is not None:
                return [screens.confirm_delete(q, self.rows(), int(self.cur["del"]))]
            pending = tables.Pending.of(self.scratch)
            if pending:
                return [table_screens.table_confirm(q, pending, len(self.rows()))]
            return [screens.group_menu(q, self.rows(), self._place(), self._ways(None, None))]
        target, value, _ = self.target()
        return [
            screens.question(
                target,
                value,
                self.scratch,
                self._place(),
                self._ways(target, value),
                self.suggestions(target),
                fill_row=bool(self.row_fill()),
            )
        ]

    def shown(self) -> dict[str, list[Question]]:
        """Each section's visible questions, by section id."""
        return {s.id: self._visible_in(s) for s in self.p.sections}

    def preview(self) -> View:
        shown = self.shown()
        return screens.preview(
            self.p, shown, self.answers, self.warnings(), self.problems(), self.blocked()
        )

    def numbered(self) -> list[tuple[int, Question]]:
        """The visible questions with the numbers the preview shows them under."""
        return list(enumerate(self.visible(), start=1))

    def preview_actions(self) -> View:
        shown = {s.id: self._visible_in(s) for s in self.p.sections}
        return screens.preview_actions(
            self.p, shown, self.warnings(), self.problems(), self.blocked()
        )

    def show(self) -> None:
        self.step.views.extend(self.views())

    # ------------------------------------------------------------------ input
    def on_text(self, text: str) -> Step:
        if self.mode == "preview":
            self._typed_in_preview(text)
            return self.step
        if self.mode == "done":
            self.show()
            return self.step
        q = self.question()
        if kind(q).repeats and not self.in_row():
            self._on_group_text(q, text)
            return self.step
        if self._rows_in_new_row(q, text):
            return self.step
        target, value, _ = self.target()
        outcome = kind(target).on_text(target, text, value, self.scratch, today=self.today)
        self._apply(outcome)
        if outcome.show:
            self.show()
        elif self.step.views and self._asking():
            self._keep_buttons()
        return self.step

    def _keep_buttons(self) -> None:
        """Give the short answer to a typed message (a refusal, a long text's running
        count, what is ticked now) the current question's buttons, without its text
        again: on Telegram the question's own keyboard may be gone or out of date,
        and a user must never be left without 跳过, 上一步 or the options.  A view that
        brings buttons of its own (a question back to the user) keeps them."""
        last = self.step.views[-1]
        if last.buttons:
            return
        [screen] = self.views()
        self.step.views[-1] = dataclasses.replace(
            last, buttons=screen.buttons, expects_text=screen.expects_text
        )

    def on_button(self, action: Action, arg: int, key: str = "") -> Step:
        handler = self._handlers().get(action)
        before = self._place_key()
        if action in (Action.CHOOSE, Action.TOGGLE, Action.CLEAR, Action.READING):
            done = self._btn_own(action, arg, key)
        else:
            done = handler is not None and handler(arg, key)
        if not done:
            self.step.toast = msg("engine.not_now")
        shown_before = len(self.step.views)
        if not (done and self.hold):
            self.show()
        held_back = done and self.hold
        same = not shown_before and not self.step.events and self._place_key() == before
        if done and not held_back and same and len(self.step.views) == 1:
            # Only the question's work in progress changed (a tick, a cleared draft):
            # the new screen takes the place of the pressed one instead of stacking
            # a copy of the question under it.
            [screen] = self.step.views
            self.step.views[0] = dataclasses.replace(screen, replaces=True)
        return self.step

    def _place_key(self) -> dict[str, Any]:
        """The cursor without the work in progress: where the user is."""
        return {k: v for k, v in self.cur.items() if k not in ("s", "held")}

    def _handlers(self) -> dict[Action, Callable[[int, str], bool]]:
        return {
            Action.BACK: self._btn_back,
            Action.SKIP: self._btn_skip,
            Action.KEEP: self._btn_keep,
            Action.SUGGEST: self._btn_suggest,
            Action.ROW_FROM_LEADER: self._btn_row_fill,
            Action.ROW_ADD: self._btn_row_add,
            Action.ROW_EDIT: self._btn_row_edit,
            Action.ROW_DELETE: self._btn_row_delete,
            Action.ROW_DELETE_OK: self._btn_row_delete_ok,
            Action.CANCEL: self._btn_cancel,
            Action.EDIT_SECTION: self._btn_edit_section,
            Action.PREVIEW: self._btn_preview,
            Action.DONE: self._btn_done,
            Action.EDIT_PICK: self._btn_edit_pick,
            Action.EDIT_ANSWER: self._btn_edit_answer,
            Action.EDIT_ROW: self._btn_edit_row,
            Action.EDIT_FIELD: self._btn_edit_field,
            Action.TABLE_OK: self._btn_table_ok,
            Action.TABLE_CANCEL: self._btn_table_cancel,
        }

    def _asking(self) -> bool:
        return self.mode == "ask" and not (kind(self.question()).repeats and not self.in_row())

    def _btn_back(self, _arg: int, _key: str) -> bool:
        if self.mode == "preview":
            last = self.visible()
            if not last:
                return False
            self._move(mode="ask", q=last[-1].id)
            return True
        if self.mode != "ask":
            return False
        self.cur.pop("del", None)
        if self._group_menu() is not None and tables.Pending.of(self.scratch):
            self.cur.pop("s", None)  # back from the rows read to the table's menu
            self.step.changed = True
            return True
        self.back()
        return True

    def _btn_skip(self, _arg: int, _key: str) -> bool:
        if not self._asking():
            q = self.question() if self.mode == "ask" else None
            # Rows read and waiting are confirmed or dropped first.
            waiting = tables.Pending.of(self.scratch)
            if (
                q is not None
                and kind(q).repeats
                and not q.required
                and not (self.rows() or waiting)
            ):
                self.answers[q.id] = []
                self._shown.clear()
                self.step.events.append((q.id, []))
                self.advance()
                return True
            return False
        target, _, _ = self.target()
        if target.required:
            return False
        # Moving on drops the ticks; a long text's typed parts are held (_move).
        self._set(None)
        self.advance()
        return True

    def _btn_keep(self, _arg: int, _key: str) -> bool:
        if not self._asking():
            return False
        target, value, _ = self.target()
        if value is None and target.required:
            return False
        self.advance()
        return True

    def _btn_own(self, action: Action, arg: int, key: str) -> bool:
        """A button of the current question's type (choose, toggle, clear, done)."""
        if not self._asking():
            return False
        target, value, _ = self.target()
        outcome = kind(target).press(target, action, arg, key, value, self.scratch)
        if not outcome.handled:
            return False
        self._apply(outcome)
        return True

    def _btn_done(self, arg: int, key: str) -> bool:
        if self.mode != "ask":
            return False
        q = self.question()
        if kind(q).repeats and not self.in_row():
            # Rows read and waiting are confirmed or dropped first, never lost by leaving.
            return not tables.Pending.of(self.scratch) and self._group_done(q)
        return self._btn_own(Action.DONE, arg, key)

    def _group_done(self, q: Question) -> bool:
        table = self.rows()
        if not table and not q.required:
            return self._btn_skip(0, "")
        need = kind(q).minimum(q)
        if len(table) < need:
            self.step.views.append(notice(msg("engine.group.need_rows", min=need)))
            return True
        for n, row in enumerate(table, start=1):
            incomplete = screens.incomplete_row(q, row, n)
            if incomplete is not None:
                self.step.views.append(incomplete)
                return True
        self.step.events.append((q.id, table))
        self.advance()
        return True

    def _btn_suggest(self, arg: int, _key: str) -> bool:
        if not self._asking():
            return False
        target, _, _ = self.target()
        options = self.suggestions(target)
        if not 0 <= arg < len(options):
            return False
        chosen = options[arg]
        if chosen.text is None:  # an earlier declaration's, checked again as it was listed
            value = chosen.value
            self.step.toast = msg("suggest.earlier_taken")
        else:
            try:
                value = kind(target).parse(target, chosen.text, today=self.today)
            except NotTyped:  # answered in steps of its own (an organisation: found by name)
                current = self.target()[1]
                self._apply(
                    kind(target).on_text(
                        target, chosen.text, current, self.scratch, today=self.today
                    )
                )
                return True
            except InvalidAnswer as err:
                self.step.views.append(notice(refusal(target, err)))
                return True
        self.cur.pop("s", None)
        self._set(value)
        self.advance()
        return True

    def _btn_row_fill(self, arg: int, _key: str) -> bool:
        """Fill the first row from the leader's answers, then ask what is still missing."""
        fill = self.row_fill()
        if not fill or arg != int(self.cur["row"]):
            return False
        q = self.question()
        table = self.rows()
        table[arg] = {**table[arg], **fill}
        self._set_rows(table)
        for column, value in fill.items():
            self.step.events.append((f"{q.id}[{arg}].{column}", value))
        self.cur.pop("s", None)
        missing = [f.id for f in asked_fields(q) if table[arg].get(f.id) is None]
        if missing:
            self.cur["f"] = missing[0]
            self.cur["gaps"] = True
        else:
            self.step.toast = msg("engine.group.row_saved", n=arg + 1)
            self._move(mode="ask", q=q.id, edit=self.cur.get("edit"))
        return True

    def _group_menu(self) -> Question | None:
        if self.mode != "ask":
            return None
        q = self.question()
        if not kind(q).repeats or self.in_row():
            return None
        return q

    def _btn_row_add(self, _arg: int, _key: str) -> bool:
        q = self._group_menu()
        if q is None:
            return False
        table = self.rows()
        if q.max_rows is not None and len(table) >= q.max_rows:
            self.step.views.append(notice(msg("engine.group.full", max=q.max_rows)))
            return True
        self._set_rows([*table, {}])
        first = asked_fields(q)[0].id
        self._move(mode="ask", q=q.id, row=len(table), f=first, new=True, edit=self.cur.get("edit"))
        return True

    def _btn_row_edit(self, arg: int, _key: str) -> bool:
        q = self._group_menu()
        if q is None or not 0 <= arg < len(self.rows()):
            return False
        first = asked_fields(q)[0].id
        self._move(mode="ask", q=q.id, row=arg, f=first, edit=self.cur.get("edit"))
        return True

    def _btn_row_delete(self, arg: int, _key: str) -> bool:
        q = self._group_menu()
        if q is None or not 0 <= arg < len(self.rows()):
            return False
        self.cur["del"] = arg
        self.step.changed = True
        return True

    def _btn_row_delete_ok(self, arg: int, _key: str) -> bool:
        q = self._group_menu()
        if q is None or self.cur.get("del") != arg or not 0 <= arg < len(self.rows()):
            return False
        table = self.rows()
        del table[arg]
        self._set_rows(table)
        self.cur.pop("del", None)
        held = self.cur.pop("held", None)
        if isinstance(held, dict):  # the rows after it moved up: their drafts no longer fit
            kept = {p: d for p, d in held.items() if not p.startswith(f"{q.id}[")}
            if kept:
                self.cur["held"] = kept
        self.step.events.append((q.id, table))
        self.step.toast = msg("engine.group.row_deleted", n=arg + 1)
        return True

    def _btn_cancel(self, _arg: int, _key: str) -> bool:
        if self.cur.get("del") is None:
            return False
        self.cur.pop("del", None)
        self.step.changed = True
        return True

    # ------------------------------------------------------------------ rows at once
    def _next_line(self) -> int:
        """The number the next pasted line gets (a block may come in several messages)."""
        return tables.Pending.of(self.scratch).last + 1

    def _on_group_text(self, q: Question, text: str) -> None:
        """Text at a group's menu: rows to read, unless it is one word (「添加」, a
        name alone), which is no row of a table with several columns."""
        if tables.one_cell(q, text):
            self.step.views.append(notice(msg("engine.group.use_buttons")))
            self.show()
            return
        self.cur.pop("del", None)
        self._take_rows(q, tables.read_text(q, text, today=self.today, first=self._next_line()))

    def _rows_in_new_row(self, q: Question, text: str) -> bool:
        """Rows pasted where a new row's first field is asked: taken as a paste at the
        group's menu (the empty row is dropped), not as that field's answer."""
        if not (kind(q).repeats and self.in_row() and self.cur.get("new")):
            return False
        if self.cur.get("f") != asked_fields(q)[0].id:
            return False
        if not tables.looks_like_rows(q, text, today=self.today):
            return False
        self._drop_new_empty_row()
        self._move(mode="ask", q=q.id, edit=self.cur.get("edit"))
        self._take_rows(q, tables.read_text(q, text, today=self.today))
        return True

    def on_sheet(self, grid: list[list[str]], hints: list[str]) -> Step:
        """The cells of an uploaded sheet, read as a paste is (the group's menu is shown)."""
        q = self._group_menu()
        if q is None:
            self.show()
            return self.step
        self.cur.pop("del", None)
        # A sheet stands on its own: its line numbers are the spreadsheet's rows.  Rows
        # pasted and still waiting give way to it, and the user is told so.
        waiting = len(tables.Pending.of(self.scratch).rows)
        if waiting:
            self.step.views.append(notice(msg("table.sheet.replaces", count=waiting)))
        self.cur.pop("s", None)
        self._take_rows(q, tables.read_grid(q, grid, today=self.today, hints=hints))
        return self.step

    def _take_rows(self, q: Question, reading: tables.Reading) -> None:
        """Keep what was read for confirmation (added to rows already waiting), or say
        why nothing could be."""
        pending = tables.Pending.of(self.scratch)
        if not reading.rows and not pending:
            self.step.views.append(table_screens.table_unread(q, reading))
            self.show()
            return
        waiting = pending.plus(reading)
        self.cur["s"] = waiting.to_scratch()
        self.step.changed = True
        if not pending:
            self.show()
            return
        since = (len(pending.rows), len(pending.bad))
        self.step.views.append(table_screens.table_confirm(q, waiting, len(self.rows()), since))

    def _btn_table_ok(self, arg: int, _key: str) -> bool:
        q = self._group_menu()
        pending = tables.Pending.of(self.scratch)
        if q is None or not pending.rows or arg != len(pending.rows):
            return False
        table = self.rows()
        fits = table_screens.room(q, len(table), len(pending.rows))
        if fits == 0:
            return False
        table += pending.rows[:fits]
        self._set_rows(table)
        self.cur.pop("s", None)
        self.step.events.append((q.id, table))
        self.step.toast = msg("table.added.toast", count=fits)
        after = table_screens.table_added(q, pending.lines[fits:], pending.bad)
        if after is not None:
            self.step.views.append(after)
        return True

    def _btn_table_cancel(self, _arg: int, _key: str) -> bool:
        if self._group_menu() is None or not tables.Pending.of(self.scratch):
            return False
        self.cur.pop("s", None)
        self.step.changed = True
        return True

    def group_menu_question(self) -> Question | None:
        """The group whose menu is shown now (a template or a sheet is about it), or None."""
        return self._group_menu()

    def _btn_edit_section(self, _arg: int, key: str) -> bool:
        section = next((s for s in self.p.sections if s.id == key), None)
        if self.mode not in ("preview", "ask") or section is None:
            return False
        first = next(iter(self._visible_in(section)), None)
        if first is None:
            return False
        self._move(mode="ask", q=first.id, edit=section.id)
        return True

    def _btn_preview(self, _arg: int, _key: str) -> bool:
        if self.mode == "preview":  # back from a picker or a confirmation: the buttons again
            self.step.views.append(self.preview_actions())
            self.hold = True
            return True
        if self.mode != "ask":
            return False
        self._drop_new_empty_row()
        self._move(mode="preview")
        return True

    # ------------------------------------------------------------------ one answer
    def _typed_in_preview(self, text: str) -> None:
        """A number typed in the preview opens that answer (``12.3``: row 3 of table 12);
        anything else is answered briefly with the preview's buttons."""
        typed = unicodedata.normalize("NFKC", text).replace("。", ".").strip()
        found = TYPED_NUMBER.fullmatch(typed)
        if found is None:
            self.step.views += [notice(msg("engine.preview.use_buttons")), self.preview_actions()]
            return
        numbered = self.numbered()
        n = int(found.group(1))
        if not 1 <= n <= len(numbered):
            self.step.views += [
                notice(msg("preview.no_such", n=n, total=len(numbered))),
                self.preview_actions(),
            ]
            return
        q = numbered[n - 1][1]
        row = found.group(2)
        if row is None:
            self._open_answer(q)
            self.show()
        elif not kind(q).repeats or not 1 <= int(row) <= len(self._table(q)):
            self.step.views += [
                notice(msg("preview.no_such_row", n=n, row=int(row), count=len(self._table(q)))),
                self.preview_actions(),
            ]
        else:
            self.step.views.append(self._row_picker(n, q, int(row) - 1))

    def _table(self, q: Question) -> list[dict[str, Any]]:
        table = self.answers.get(q.id)
        return list(table) if isinstance(table, list) else []

    def _by_key(self, key: str) -> tuple[int, Question] | None:
        """The visible question (with its number) whose stable key is ``key``."""
        return next(((n, q) for n, q in self.numbered() if stable_key(q.id) == key), None)

    def _open_answer(self, q: Question) -> None:
        """Ask ``q`` alone (a table: its menu), back to the preview once it is answered."""
        self._move(mode="ask", q=q.id, edit=ONE_ANSWER + q.id)

    def _row_picker(self, n: int, q: Question, row: int) -> View:
        self.hold = True
        return screens.row_picker(n, q, row, self._table(q)[row])

    def _btn_edit_pick(self, _arg: int, key: str) -> bool:
        section = next((s for s in self.p.sections if s.id == key), None)
        if self.mode != "preview" or section is None:
            return False
        shown = {q.id for q in self._visible_in(section)}
        items = [(n, q, self.answers.get(q.id)) for n, q in self.numbered() if q.id in shown]
        if not items:
            return False
        if len(items) == 1 and not kind(items[0][1]).repeats:
            self._open_answer(items[0][1])  # nothing to pick from: one tap fewer
            return True
        self.step.views.append(screens.edit_picker(section, items))
        self.hold = True
        return True

    def _btn_edit_answer(self, _arg: int, key: str) -> bool:
        found = self._by_key(key)
        if self.mode != "preview" or found is None:
            return False
        self._open_answer(found[1])
        return True

    def _btn_edit_row(self, arg: int, key: str) -> bool:
        found = self._by_key(key)
        if self.mode != "preview" or found is None or not kind(found[1]).repeats:
            return False
        n, q = found
        if not 0 <= arg < len(self._table(q)):
            return False
        self.step.views.append(self._row_picker(n, q, arg))
        return True

    def _btn_edit_field(self, arg: int, key: str) -> bool:
        found = self._by_key(key[:8])
        if self.mode != "preview" or found is None or not kind(found[1]).repeats:
            return False
        q = found[1]
        field = next((f for f in asked_fields(q) if stable_key(f.id) == key[8:]), None)
        if field is None or not 0 <= arg < len(self._table(q)):
            return False
        self._move(mode="ask", q=q.id, row=arg, f=field.id, edit=ONE_FIELD + q.id)
        return True

    # ------------------------------------------------------------------ uploads
    def on_upload_check(self, *, sent_as: str, mime_type: str, size: int | None) -> str | None:
        """Why an upload cannot be taken now (a locale key), or None if it can.

        Runs before the download, on what the client claims (kind, type, size),
        only to spare downloading what is plainly wrong; whether the file is
        accepted is decided afterwards from its bytes (:meth:`accepts_mime`).
        """
        if self._group_menu() is not None:
            return self._sheet_check(sent_as, size)
        if not self._asking():
            return "engine.upload.not_now"
        target, value, _ = self.target()
        if not kind(target).upload:
            return "engine.upload.not_now"
        # Refused early only when the claim names something else (a PDF, a
        # video); a client that does not know the type leaves it to the bytes.
        claimed_other = mime_type not in ("", MIME_UNKNOWN) and not mime_type.startswith("image/")
        if target.type == "photo" and sent_as != "photo" and claimed_other:
            return "engine.upload.need_photo"
        if target.max_files is not None and len(value or []) >= target.max_files:
            return "engine.upload.too_many"
        if size is not None and size > self.upload_limit_bytes():
            return "engine.upload.too_big"
        if size == 0:
            return "engine.upload.empty"
        return None

    def _sheet_check(self, sent_as: str, size: int | None) -> str | None:
        """A filled-in template sent at a group's menu: a document of a sensible size."""
        if sent_as != "document":
            return "table.sheet.not_xlsx"
        if size is not None and size > tables.SHEET_LIMIT_BYTES:
            return "table.sheet.too_big"
        if size == 0:
            return "engine.upload.empty"
        return None

    def takes_sheet(self) -> bool:
        """Whether an upload now is a sheet of rows for the group's menu shown."""
        return self._group_menu() is not None

    def upload_limit_bytes(self) -> int:
        if self.takes_sheet():
            return tables.SHEET_LIMIT_BYTES
        target, _, _ = self.target()
        return int(size_limit_mb(target) * 1024 * 1024)

    def accepts_mime(self, mime_type: str) -> bool:
        """Whether the current upload question takes bytes of ``mime_type`` (from
        ``sniff_mime``, never from the client)."""
        target, _, _ = self.target()
        return accepts_mime(target, mime_type)

    def on_upload(self, attachment_id: int) -> Step:
        """Add a stored attachment to the current upload question."""
        target, value, _ = self.target()
        files = [*list(value or []), attachment_id]
        self._set(files)
        if target.max_files is not None and len(files) >= target.max_files:
            # Said as a message, not a toast: a photo is no button press.
            self.step.views.append(notice(msg("engine.upload.complete", count=len(files))))
            self.advance()
            self.show()
        else:
            self.step.views.append(
                screens.upload_progress(target, len(files), self._ways(target, None))
            )
        return self.step

    # ------------------------------------------------------------------ submission
    def question_problems(self, n: int, q: Question) -> list[Msg]:
        """What keeps question number ``n`` from being complete."""
        label = msg("engine.numbered", n=n, text=q.label)
        value = self.answers.get(q.id)
        return [
            *kind(q).problems(q, value, label),
            *rules.year_problems(q, value, label, self.today),
        ]

    def problems(self) -> list[Msg]:
        """Why the application cannot be submitted yet (empty when it can)."""
        visible = self.visible()
        return [
            problem
            for n, q in enumerate(visible, start=1)
            for problem in self.question_problems(n, q)
        ] + list(totals.problems(self.p, self.answers, {q.id for q in visible}))

    def warnings(self) -> list[tuple[str, str]]:
        """Eligibility warnings (message, cited clause) that the answers raise: the rules
        the seed advises, which do not keep the declaration from being submitted."""
        return rules.warnings(self.p, self.answers)

    def blocked(self) -> list[rules.Blocked]:
        """The rules the seed sets that the answers break: until the answer each names
        is changed, the declaration cannot be submitted (checked again on submit, so a
        stale 提交 is refused too)."""
        return rules.blocked(self.p, self.answers, self.numbered())

    def first_problem_section(self) -> Section | None:
        """The section holding the first unfinished question."""
        for n, q in enumerate(self.visible(), start=1):
            if self.question_problems(n, q):
                return self.p.section_of(q.id)
        shown = {q.id for q in self.visible()}
        for rule in totals.broken(self.p, self.answers, shown):
            return self.p.section_of(rule.total)
        return None

    def submit(self) -> bool:
        """Finish the application if nothing is missing; otherwise say what is."""
        problems = self.problems()
        blocked = self.blocked()
        if problems or blocked:
            self.step.views.append(
                screens.refused_submission(problems, self.first_problem_section(), blocked)
            )
            return False
        self._move(mode="done")
        return True
