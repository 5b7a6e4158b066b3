"""The one generic engine that walks any program definition.

There is no handler per question: the walker looks at the definition, the
answers and a small cursor (all plain JSON, stored in the application row) and
decides what to ask next.  It is pure: no database, no transport, no clock of
its own (``today`` is given), so every path is testable with an inline
definition.  The service around it saves what it changed before anyone sees a
reply.

Cursor keys: ``mode`` (ask | preview | done), ``q`` (current top-level
question), ``row``/``f`` (row and field inside a repeating group; no ``row``
means the group's menu), ``new`` (the row was just added), ``del`` (a row
awaiting delete confirmation), ``buf`` (parts of a long text being written),
``edit`` (section being edited from the preview).
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from dialogs import render
from dialogs.answers import InvalidAnswer, error_message, parse_answer
from dialogs.conditions import evaluate
from dialogs.i18n import Locale
from dialogs.schema import UPLOAD_TYPES, Program, QType, Question, Section
from dialogs.ui import Action, Button
from storage.files import (
    MIME_DOC,
    MIME_DOCX,
    MIME_GIF,
    MIME_HEIC,
    MIME_HEIF,
    MIME_JPEG,
    MIME_MOV,
    MIME_MP4,
    MIME_PDF,
    MIME_PNG,
    MIME_UNKNOWN,
    MIME_WEBP,
    MIME_XLS,
    MIME_XLSX,
)

DEFAULT_MAX_MB = {QType.PHOTO: 10, QType.FILE: 20}


def size_limit_mb(q: Question) -> float:
    """The largest file an upload question takes, in MB (its own or the type's default)."""
    return float(q.max_size_mb or DEFAULT_MAX_MB.get(q.type, 20))


FILE_KINDS: dict[str, tuple[str, ...]] = {
    "pdf": (MIME_PDF,),
    "word": (MIME_DOCX, MIME_DOC),
    "excel": (MIME_XLSX, MIME_XLS),
    "jpg": (MIME_JPEG,),
    "png": (MIME_PNG,),
    "webp": (MIME_WEBP,),
    "heic": (MIME_HEIC, MIME_HEIF),
    "gif": (MIME_GIF,),
    "mp4": (MIME_MP4,),
    "mov": (MIME_MOV,),
}
"""The kinds of file an upload question can take, as users know them, with the
media types ``storage.files.sniff_mime`` reports for each.  A kind is what a
user is told (``engine.filetype.<kind>``): nobody can tell a docx from a doc
before sending, so "Word" takes both.  Only types recognised from the bytes
are here, so nothing unrecognised can ever be accepted."""

_KIND_ALIASES = {
    "docx": "word",
    "doc": "word",
    "xlsx": "excel",
    "xls": "excel",
    "jpeg": "jpg",
    "jpe": "jpg",
    "heif": "heic",
    "m4v": "mp4",
    "qt": "mov",
}

DEFAULT_ACCEPT: dict[QType, tuple[str, ...]] = {
    # What phones produce; GIFs are animations rather than photos of a studio.
    QType.PHOTO: ("jpg", "png", "webp", "heic"),
    # The documents of a declaration: scans, Word and Excel forms, photos.
    QType.FILE: ("pdf", "word", "excel", "jpg", "png", "webp", "heic"),
}


def _kinds_of(entry: str) -> list[str]:
    """The kinds one ``accept`` entry names: a kind, a usual extension
    (``.docx``), a media type of a kind (``image/png``) or a family (``image/*``)."""
    entry = entry.strip().lower().lstrip(".")
    entry = _KIND_ALIASES.get(entry, entry)
    if entry in FILE_KINDS:
        return [entry]
    if entry.endswith("/*"):
        family = entry[:-1]
        return [k for k, mimes in FILE_KINDS.items() if all(m.startswith(family) for m in mimes)]
    return [k for k, mimes in FILE_KINDS.items() if entry in mimes]


def accepted_kinds(q: Question) -> list[str]:
    """The kinds of file upload question ``q`` takes, in the order of :data:`FILE_KINDS`.

    Without ``accept`` the question type's default applies.  Entries naming
    no known kind are ignored; when none is known the default applies too,
    rather than a question that refuses every file without saying what it wants.
    """
    named = {k for entry in q.accept or [] for k in _kinds_of(entry)}
    if not named:
        named = set(DEFAULT_ACCEPT.get(q.type, DEFAULT_ACCEPT[QType.FILE]))
    return [k for k in FILE_KINDS if k in named]


@dataclass
class Screen:
    """One message the engine wants shown (ids are added by the service)."""

    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    expects_text: bool = False


@dataclass
class Step:
    """The result of one event: what to show and what changed."""

    screens: list[Screen] = field(default_factory=list)
    changed: bool = False
    events: list[tuple[str, Any]] = field(default_factory=list)
    toast: str | None = None
    submitted: bool = False
    left: bool = False


class Walker:
    """Walks one application of one program.  Mutates private copies only."""

    def __init__(
        self,
        program: Program,
        answers: dict[str, Any],
        cursor: dict[str, Any],
        *,
        locale: Locale,
        today: dt.date,
    ) -> None:
        self.p = program
        self.answers: dict[str, Any] = copy.deepcopy(answers)
        self.cur: dict[str, Any] = copy.deepcopy(cursor)
        self.loc = locale
        self.today = today
        self.step = Step()
        if self.cur and not self._cursor_fits():
            self._repair_cursor()

    def _cursor_fits(self) -> bool:
        """Whether the stored cursor still names a place in the definition (a program
        file may have been edited while drafts were open)."""
        if self.mode in ("preview", "done"):
            return True
        ids = {q.id: q for _, q in self.p.questions() if q.asked}
        q = ids.get(str(self.cur.get("q")))
        if q is None:
            return False
        if self.cur.get("row") is None:
            return True
        rows = self.answers.get(q.id)
        fields = {f.id for f in q.fields or [] if f.asked}
        return (
            isinstance(rows, list)
            and 0 <= int(self.cur["row"]) < len(rows)
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
        out: list[Question] = []
        for section in self.p.sections:
            if not self.section_visible(section):
                continue
            for q in section.questions:
                if q.asked and (q.when is None or evaluate(q.when, self.answers)):
                    out.append(q)
        return out

    def neighbour(self, qid: str, delta: int) -> Question | None:
        """The visible question before/after ``qid`` (which may itself be hidden now)."""
        order = [q.id for _, q in self.p.questions()]
        visible_ids = {q.id for q in self.visible()}
        pos = order.index(qid)
        idx = pos + delta
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
        group = self.question()
        fid = self.cur["f"]
        for f in group.fields or []:
            if f.id == fid:
                return f
        raise KeyError(fid)

    def rows(self) -> list[dict[str, Any]]:
        rows = self.answers.get(self.question().id)
        if not isinstance(rows, list):
            rows = []
            self.answers[self.question().id] = rows
        return rows

    def target(self) -> tuple[Question, Any, str]:
        """The question being asked now, its current value and its answer path."""
        q = self.question()
        if q.type is QType.GROUP and self.in_row():
            row = int(self.cur["row"])
            f = self._field()
            rows = self.rows()
            value = rows[row].get(f.id) if row < len(rows) else None
            return f, value, f"{q.id}[{row}].{f.id}"
        return q, self.answers.get(q.id), q.id

    def _set(self, value: Any) -> None:
        q = self.question()
        _, _, path = self.target()
        if q.type is QType.GROUP and self.in_row():
            self.rows()[int(self.cur["row"])][self._field().id] = value
        else:
            self.answers[q.id] = value
        self.step.events.append((path, value))
        self.step.changed = True

    def _move(self, **cursor: Any) -> None:
        self.cur = {k: v for k, v in cursor.items() if v is not None}
        self.step.changed = True

    def asked_fields(self, group: Question) -> list[Question]:
        return [f for f in group.fields or [] if f.asked]

    # ------------------------------------------------------------------ movement
    def _goto(self, q: Question | None) -> None:
        """Go to ``q`` (or the preview when None), leaving edit mode at the section's end."""
        edit = self.cur.get("edit")
        if q is None or (edit is not None and self.p.section_of(q.id).id != edit):
            self._move(mode="preview")
        else:
            self._move(mode="ask", q=q.id, edit=edit)

    def advance(self) -> None:
        """Move past the current target after it was answered or kept."""
        q = self.question()
        if q.type is QType.GROUP and self.in_row():
            fields = self.asked_fields(q)
            ids = [f.id for f in fields]
            i = ids.index(self.cur["f"])
            if i + 1 < len(ids):
                self.cur["f"] = ids[i + 1]
                self.step.changed = True
            else:
                self.step.toast = self.loc.t("engine.group.row_saved", n=int(self.cur["row"]) + 1)
                self._move(mode="ask", q=q.id, edit=self.cur.get("edit"))
            return
        self._goto(self.neighbour(q.id, +1))

    def _drop_new_empty_row(self) -> None:
        """Forget a row that was just added and is left before anything was put in it."""
        q = self.question()
        if q.type is not QType.GROUP or not self.in_row() or not self.cur.get("new"):
            return
        row = int(self.cur["row"])
        rows = self.rows()
        if row < len(rows) and not any(v is not None for v in rows[row].values()):
            del rows[row]

    def back(self) -> None:
        q = self.question()
        if q.type is QType.GROUP and self.in_row():
            ids = [f.id for f in self.asked_fields(q)]
            i = ids.index(self.cur["f"])
            if i > 0:
                self.cur["f"] = ids[i - 1]
                self.step.changed = True
                return
            self._drop_new_empty_row()
            self._move(mode="ask", q=q.id, edit=self.cur.get("edit"))
            return
        self.cur.pop("buf", None)
        prev = self.neighbour(q.id, -1)
        if prev is None:
            self.step.toast = self.loc.t("engine.first_question")
            return
        self._goto(prev)

    # ------------------------------------------------------------------ screens
    def screens(self) -> list[Screen]:
        """What the user should see for the current state."""
        if self.mode == "preview":
            return render.preview(self)
        if self.mode == "done":
            return [Screen(self.loc.t("engine.already_submitted"))]
        q = self.question()
        if q.type is QType.GROUP and not self.in_row():
            if self.cur.get("del") is not None:
                return [render.confirm_delete(self, int(self.cur["del"]))]
            return [render.group_menu(self)]
        return [render.question(self)]

    def show(self) -> None:
        self.step.screens.extend(self.screens())

    # ------------------------------------------------------------------ input
    def on_text(self, text: str) -> Step:
        if self.mode == "preview":
            self.step.screens.append(Screen(self.loc.t("engine.preview.use_buttons")))
            self.step.screens.append(render.preview(self)[-1])
            return self.step
        if self.mode == "done":
            self.show()
            return self.step
        q = self.question()
        if q.type is QType.GROUP and not self.in_row():
            self.step.screens.append(Screen(self.loc.t("engine.group.use_buttons")))
            self.show()
            return self.step
        target, _, _ = self.target()
        if target.type in UPLOAD_TYPES:
            self.step.screens.append(Screen(self.loc.t(f"engine.upload.send_{target.type}")))
            return self.step
        if target.type is QType.LONGTEXT:
            return self._longtext_part(target, text)
        try:
            value = parse_answer(target, text, today=self.today)
        except InvalidAnswer as err:
            self.step.screens.append(
                Screen(error_message(target, err, locale=self.loc), expects_text=True)
            )
            return self.step
        self._set(value)
        self.advance()
        self.show()
        return self.step

    def _longtext_part(self, target: Question, text: str) -> Step:
        parts: list[str] = list(self.cur.get("buf") or [])
        parts.append(text.strip())
        joined = "\n".join(p for p in parts if p)
        limit = target.max_chars or 20000
        if len(joined) > limit:
            err = InvalidAnswer("validation.too_long", max=limit, length=len(joined))
            self.step.screens.append(
                Screen(error_message(target, err, locale=self.loc), expects_text=True)
            )
            return self.step
        self.cur["buf"] = parts
        self.step.changed = True
        self.step.screens.append(render.longtext_progress(self, target, joined))
        return self.step

    def on_button(self, action: Action, arg: int) -> Step:
        handler = {
            Action.BACK: self._btn_back,
            Action.SKIP: self._btn_skip,
            Action.KEEP: self._btn_keep,
            Action.CHOOSE: self._btn_choose,
            Action.TOGGLE: self._btn_toggle,
            Action.DONE: self._btn_done,
            Action.SUGGEST: self._btn_suggest,
            Action.CLEAR: self._btn_clear,
            Action.ROW_ADD: self._btn_row_add,
            Action.ROW_EDIT: self._btn_row_edit,
            Action.ROW_DELETE: self._btn_row_delete,
            Action.ROW_DELETE_OK: self._btn_row_delete_ok,
            Action.CANCEL: self._btn_cancel,
            Action.EDIT_SECTION: self._btn_edit_section,
            Action.PREVIEW: self._btn_preview,
        }.get(action)
        if handler is None or not handler(arg):
            self.step.toast = self.loc.t("engine.not_now")
        self.show()
        return self.step

    def _asking(self) -> bool:
        return self.mode == "ask" and not (
            self.question().type is QType.GROUP and not self.in_row()
        )

    def _btn_back(self, _arg: int) -> bool:
        if self.mode == "preview":
            last = self.visible()
            if not last:
                return False
            self._move(mode="ask", q=last[-1].id)
            return True
        if self.mode != "ask":
            return False
        self.cur.pop("del", None)
        self.back()
        return True

    def _btn_skip(self, _arg: int) -> bool:
        if not self._asking():
            q = self.question() if self.mode == "ask" else None
            if q is not None and q.type is QType.GROUP and not q.required and not self.rows():
                self.answers[q.id] = []
                self.step.events.append((q.id, []))
                self.advance()
                return True
            return False
        target, _, _ = self.target()
        if target.required:
            return False
        self.cur.pop("buf", None)
        self._set(None)
        self.advance()
        return True

    def _btn_keep(self, _arg: int) -> bool:
        if not self._asking():
            return False
        target, value, _ = self.target()
        if value is None and target.required:
            return False
        self.cur.pop("buf", None)
        self.advance()
        return True

    def _btn_choose(self, arg: int) -> bool:
        if not self._asking():
            return False
        target, _, _ = self.target()
        if target.type is QType.YESNO and arg in (0, 1):
            self._set(bool(arg))
        elif target.type is QType.CHOICE and 0 <= arg < len(target.options or []):
            self._set((target.options or [])[arg])
        else:
            return False
        self.advance()
        return True

    def _btn_toggle(self, arg: int) -> bool:
        if not self._asking():
            return False
        target, value, _ = self.target()
        options = target.options or []
        if target.type is not QType.MULTICHOICE or not 0 <= arg < len(options):
            return False
        chosen = set(self.cur.get("sel", value or []))
        chosen.symmetric_difference_update({options[arg]})
        self.cur["sel"] = [o for o in options if o in chosen]
        self.step.changed = True
        return True

    def _btn_done(self, _arg: int) -> bool:
        if self.mode != "ask":
            return False
        q = self.question()
        if q.type is QType.GROUP and not self.in_row():
            return self._group_done(q)
        target, value, _ = self.target()
        if target.type is QType.MULTICHOICE:
            chosen = self.cur.pop("sel", value or [])
            if not chosen and target.required:
                self.step.screens.append(Screen(self.loc.t("engine.choose_one")))
                return True
            self._set(chosen)
            self.advance()
            return True
        if target.type is QType.LONGTEXT:
            return self._longtext_done(target)
        if target.type in UPLOAD_TYPES:
            count = len(value or [])
            need = target.min_files or (1 if target.required else 0)
            if count < need:
                self.step.screens.append(
                    Screen(self.loc.t("engine.upload.need_more", count=count, min=need))
                )
                return True
            self.advance()
            return True
        return False

    def _longtext_done(self, target: Question) -> bool:
        parts = self.cur.get("buf") or []
        text = "\n".join(p for p in parts if p)
        if not text:
            self.step.screens.append(Screen(self.loc.t("engine.longtext.empty"), expects_text=True))
            return True
        need = target.min_chars or 0
        if len(text) < need:
            self.step.screens.append(
                Screen(
                    self.loc.t("engine.longtext.too_short", count=len(text), min=need),
                    expects_text=True,
                )
            )
            return True
        self.cur.pop("buf", None)
        self._set(text)
        self.advance()
        return True

    def _group_done(self, q: Question) -> bool:
        rows = self.rows()
        need = q.min_rows or (1 if q.required else 0)
        if len(rows) < need:
            self.step.screens.append(Screen(self.loc.t("engine.group.need_rows", min=need)))
            return True
        for i, row in enumerate(rows):
            missing = [
                f.label for f in self.asked_fields(q) if f.required and row.get(f.id) is None
            ]
            if missing:
                self.step.screens.append(
                    Screen(
                        self.loc.t(
                            "engine.group.row_incomplete", n=i + 1, fields="、".join(missing)
                        )
                    )
                )
                return True
        self.step.events.append((q.id, rows))
        self.advance()
        return True

    def _btn_suggest(self, arg: int) -> bool:
        if not self._asking():
            return False
        target, _, _ = self.target()
        options = render.suggestions(self, target)
        if not 0 <= arg < len(options):
            return False
        try:
            value = parse_answer(target, options[arg], today=self.today)
        except InvalidAnswer as err:
            self.step.screens.append(Screen(error_message(target, err, locale=self.loc)))
            return True
        self._set(value)
        self.advance()
        return True

    def _btn_clear(self, _arg: int) -> bool:
        if not self._asking():
            return False
        target, value, _ = self.target()
        if target.type is QType.LONGTEXT:
            self.cur.pop("buf", None)
            self.step.changed = True
            return True
        if target.type in UPLOAD_TYPES and value:
            self._set([])
            return True
        return False

    def _group_menu(self) -> Question | None:
        if self.mode != "ask":
            return None
        q = self.question()
        if q.type is not QType.GROUP or self.in_row():
            return None
        return q

    def _btn_row_add(self, _arg: int) -> bool:
        q = self._group_menu()
        if q is None:
            return False
        rows = self.rows()
        if q.max_rows is not None and len(rows) >= q.max_rows:
            self.step.screens.append(Screen(self.loc.t("engine.group.full", max=q.max_rows)))
            return True
        rows.append({})
        first = self.asked_fields(q)[0].id
        self._move(
            mode="ask", q=q.id, row=len(rows) - 1, f=first, new=True, edit=self.cur.get("edit")
        )
        return True

    def _btn_row_edit(self, arg: int) -> bool:
        q = self._group_menu()
        if q is None or not 0 <= arg < len(self.rows()):
            return False
        first = self.asked_fields(q)[0].id
        self._move(mode="ask", q=q.id, row=arg, f=first, edit=self.cur.get("edit"))
        return True

    def _btn_row_delete(self, arg: int) -> bool:
        q = self._group_menu()
        if q is None or not 0 <= arg < len(self.rows()):
            return False
        self.cur["del"] = arg
        self.step.changed = True
        return True

    def _btn_row_delete_ok(self, arg: int) -> bool:
        q = self._group_menu()
        if q is None or self.cur.get("del") != arg or not 0 <= arg < len(self.rows()):
            return False
        del self.rows()[arg]
        self.cur.pop("del", None)
        self.step.events.append((q.id, self.rows()))
        self.step.changed = True
        self.step.toast = self.loc.t("engine.group.row_deleted", n=arg + 1)
        return True

    def _btn_cancel(self, _arg: int) -> bool:
        if self.cur.get("del") is None:
            return False
        self.cur.pop("del", None)
        self.step.changed = True
        return True

    def _btn_edit_section(self, arg: int) -> bool:
        if self.mode not in ("preview", "ask") or not 0 <= arg < len(self.p.sections):
            return False
        section = self.p.sections[arg]
        visible = {q.id for q in self.visible()}
        first = next((q for q in section.questions if q.id in visible), None)
        if first is None:
            return False
        self._move(mode="ask", q=first.id, edit=section.id)
        return True

    def _btn_preview(self, _arg: int) -> bool:
        if self.mode != "ask":
            return False
        self._drop_new_empty_row()
        self._move(mode="preview")
        return True

    def on_upload_check(self, *, kind: str, mime_type: str, size: int | None) -> str | None:
        """Why an upload cannot be taken now (a locale key), or None if it can.

        Runs before the download, on what the client claims (kind, type, size),
        only to spare downloading what is plainly wrong; whether the file is
        accepted is decided afterwards from its bytes (:meth:`accepts_mime`).
        """
        if not self._asking():
            return "engine.upload.not_now"
        target, value, _ = self.target()
        if target.type not in UPLOAD_TYPES:
            return "engine.upload.not_now"
        # Refused early only when the claim names something else (a PDF, a
        # video); a client that does not know the type leaves it to the bytes.
        claimed_other = mime_type not in ("", MIME_UNKNOWN) and not mime_type.startswith("image/")
        if target.type is QType.PHOTO and kind != "photo" and claimed_other:
            return "engine.upload.need_photo"
        if target.max_files is not None and len(value or []) >= target.max_files:
            return "engine.upload.too_many"
        if size is not None and size > self.upload_limit_bytes():
            return "engine.upload.too_big"
        if size == 0:
            return "engine.upload.empty"
        return None

    def upload_limit_bytes(self) -> int:
        target, _, _ = self.target()
        return int(size_limit_mb(target) * 1024 * 1024)

    def accepts_mime(self, mime_type: str) -> bool:
        """Whether the current upload question takes a file of ``mime_type``.

        ``mime_type`` must come from the file's bytes (``sniff_mime``), never
        from the client: only recognised types belong to a kind, so unknown
        bytes are always refused.
        """
        target, _, _ = self.target()
        return any(mime_type in FILE_KINDS[k] for k in accepted_kinds(target))

    def accept_list(self, q: Question) -> str:
        """The kinds of file ``q`` takes, in words, for the user (never empty)."""
        t = self.loc.t
        return t("engine.upload.accept_sep").join(
            t(f"engine.filetype.{k}") for k in accepted_kinds(q)
        )

    def on_upload(self, attachment_id: int) -> Step:
        """Add a stored attachment to the current upload question."""
        target, value, _ = self.target()
        files = [*list(value or []), attachment_id]
        self._set(files)
        if target.max_files is not None and len(files) >= target.max_files:
            # Said as a message, not a toast: a photo is no button press.
            self.step.screens.append(Screen(self.loc.t("engine.upload.complete", count=len(files))))
            self.advance()
            self.show()
        else:
            self.step.screens.append(render.upload_progress(self, target, len(files)))
        return self.step

    # ------------------------------------------------------------------ submission
    def question_problems(self, n: int, q: Question) -> list[str]:
        """What keeps question number ``n`` from being complete."""
        value = self.answers.get(q.id)
        label = f"{n}. {q.label}"
        t = self.loc.t
        if q.type is QType.GROUP:
            rows = value if isinstance(value, list) else []
            need = q.min_rows or (1 if q.required else 0)
            out = (
                [t("engine.problem.rows", label=label, min=need, count=len(rows))]
                if len(rows) < need
                else []
            )
            for i, row in enumerate(rows):
                missing = [
                    f.label for f in self.asked_fields(q) if f.required and row.get(f.id) is None
                ]
                if missing:
                    out.append(
                        t("engine.problem.row", label=label, n=i + 1, fields="、".join(missing))
                    )
            return out
        if q.type in UPLOAD_TYPES:
            count = len(value or [])
            need = q.min_files or (1 if q.required else 0)
            return (
                [t("engine.problem.files", label=label, min=need, count=count)]
                if count < need
                else []
            )
        if value is None:
            return [t("engine.problem.missing", label=label)] if q.required else []
        if q.type is QType.LONGTEXT and q.min_chars and len(str(value)) < q.min_chars:
            return [t("engine.problem.short", label=label, min=q.min_chars, count=len(str(value)))]
        return []

    def problems(self) -> list[str]:
        """Why the application cannot be submitted yet (empty when it can)."""
        return [
            problem
            for n, q in enumerate(self.visible(), start=1)
            for problem in self.question_problems(n, q)
        ]

    def warnings(self) -> list[tuple[str, str]]:
        """Eligibility warnings (message, cited clause) that the answers raise."""
        return [(c.message, c.cite) for c in self.p.checks if evaluate(c.when, self.answers)]

    def first_problem_section(self) -> int | None:
        """Index of the section holding the first unfinished question."""
        for n, q in enumerate(self.visible(), start=1):
            if self.question_problems(n, q):
                return self.p.sections.index(self.p.section_of(q.id))
        return None

    def submit(self) -> bool:
        """Finish the application if nothing is missing; otherwise say what is."""
        problems = self.problems()
        if problems:
            self.step.screens.append(render.problems(self, problems))
            return False
        self._move(mode="done")
        self.step.submitted = True
        return True
