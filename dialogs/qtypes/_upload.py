"""What the two upload types share: how many files, of which kinds, how large.

Which kinds a question takes is told to the user in words they know ("PDF",
"Word"), and checked against what the bytes are (``storage.files.sniff_mime``),
never against what a client claims.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dialogs.i18n import Locale
from dialogs.qtypes.base import REFUSED, Outcome, Problem, QuestionType
from dialogs.schema import Question
from dialogs.ui import Action
from dialogs.view import ButtonView, Msg, Part, msg, notice
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
    MIME_WEBP,
    MIME_XLS,
    MIME_XLSX,
)

DEFAULT_MAX_MB = {"photo": 10, "file": 20}

FETCH_LIMIT_MB = 20
"""The largest file a Telegram bot can download (the Bot API's ``getFile``).  A
definition may not promise more (E111): a larger file never reaches the bot, and
the user is told so plainly instead (``materials.upload.over_fetch_limit``)."""


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

_KIND_GROUPS: dict[str, tuple[str, ...]] = {
    # What a definition says when it means "any video" or "any picture".
    "video": ("mp4", "mov"),
    "image": ("jpg", "png", "webp", "heic"),
}

DEFAULT_ACCEPT: dict[str, tuple[str, ...]] = {
    # What phones produce; GIFs are animations rather than photos of a studio.
    "photo": ("jpg", "png", "webp", "heic"),
    # The documents of a declaration: scans, Word and Excel forms, photos.
    "file": ("pdf", "word", "excel", "jpg", "png", "webp", "heic"),
}


def _kinds_of(entry: str) -> list[str]:
    """The kinds one ``accept`` entry names: a kind, a usual extension
    (``.docx``), a media type of a kind (``image/png``) or a family (``image/*``)."""
    entry = entry.strip().lower().lstrip(".")
    entry = _KIND_ALIASES.get(entry, entry)
    if entry in _KIND_GROUPS:
        return list(_KIND_GROUPS[entry])
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
        named = set(DEFAULT_ACCEPT.get(q.type, DEFAULT_ACCEPT["file"]))
    return [k for k in FILE_KINDS if k in named]


def minimum_files(q: Question) -> int:
    """Files an upload needs: its own minimum, else one when it is required."""
    return q.min_files or (1 if q.required else 0)


def need_phrase(q: Question) -> Msg:
    """How many files a question wants: "3–5", "1", "至少 1"."""
    low = minimum_files(q)
    high = q.max_files
    if high is None:
        return msg("engine.count.at_least", min=low)
    if low == high:
        return msg("engine.count.exact", n=high)
    return msg("engine.count.range", min=low, max=high)


def accept_list(q: Question, loc: Locale) -> str:
    """The kinds of file ``q`` takes, in words, for the user (never empty)."""
    t = loc.t
    return t("engine.upload.accept_sep").join(t(f"engine.filetype.{k}") for k in accepted_kinds(q))


def accepts_mime(q: Question, mime_type: str) -> bool:
    """Whether ``q`` takes a file whose bytes are of ``mime_type`` (see ``sniff_mime``)."""
    return any(mime_type in FILE_KINDS[k] for k in accepted_kinds(q))


class Upload(QuestionType):
    """Photos or files sent as messages; the answer is the list of attachment ids."""

    typed = False
    upload = True
    keys = ("min_files", "max_files", "max_size_mb", "accept")

    def on_text(
        self, q: Question, text: str, value: Any, scratch: dict[str, Any], *, today: Any
    ) -> Outcome:
        return Outcome(views=[notice(msg(f"engine.upload.send_{self.name}"))], show=False)

    def format(self, q: Question, value: Any, *, loc: Locale, date_style: str) -> str:
        count = len(value) if isinstance(value, list) else value
        if isinstance(count, int) and not isinstance(count, bool):
            return loc.t("validation.files", count=count)
        return str(value)

    def keepable(self, value: Any) -> bool:
        return False

    def minimum(self, q: Question) -> int:
        return minimum_files(q)

    def hint(self, q: Question, value: Any, scratch: dict[str, Any]) -> list[Part]:
        lines: list[Part] = [msg(f"engine.hint.{self.name}", need=need_phrase(q))]
        if value:
            lines.append(msg("engine.upload.have", count=len(value)))
        return lines

    def buttons(self, q: Question, value: Any, scratch: dict[str, Any]) -> list[list[ButtonView]]:
        count = len(value or [])
        row = []
        if count and count >= self.minimum(q):
            row.append(ButtonView(msg("engine.btn.done"), Action.DONE))
        if count:
            row.append(ButtonView(msg("engine.btn.clear_files"), Action.CLEAR))
        return [row] if row else []

    def press(
        self, q: Question, action: Action, arg: int, key: str, value: Any, scratch: dict[str, Any]
    ) -> Outcome:
        count = len(value or [])
        if action is Action.DONE:
            need = self.minimum(q) if count or q.required else 0
            if count < need:
                return Outcome(
                    views=[notice(msg("engine.upload.need_more", count=count, min=need))]
                )
            return Outcome(advance=True)
        if action is Action.CLEAR and count:
            return Outcome(value=[])
        return REFUSED

    def problems(self, q: Question, value: Any, label: Part) -> list[Msg]:
        count = len(value or [])
        # A minimum binds an answer that was given: an optional question skipped
        # (no file) is complete, however many files it would take if answered.
        need = self.minimum(q) if count or q.required else 0
        return (
            [msg("engine.problem.files", label=label, min=need, count=count)]
            if count < need
            else []
        )

    def check(self, q: Question, *, in_group: bool) -> Iterator[Problem]:
        yield from super().check(q, in_group=in_group)
        if q.min_files is not None and q.max_files is not None and q.min_files > q.max_files:
            yield "min_files", "E042", "min_files is larger than max_files"
        for i, entry in enumerate(q.accept or []):
            # An entry naming nothing known would be dropped in silence, and the
            # question would take other files than its author meant.
            if not _kinds_of(entry):
                known = ", ".join([*FILE_KINDS, *_KIND_GROUPS])
                yield f"accept[{i}]", "E110", f"unknown kind of file {entry!r} (known: {known})"
            elif self.name == "photo" and not all(
                k in _KIND_GROUPS["image"] for k in _kinds_of(entry)
            ):
                yield f"accept[{i}]", "E112", f"a photo question takes pictures only, not {entry!r}"
        if q.max_size_mb is not None and q.max_size_mb > FETCH_LIMIT_MB:
            yield (
                "max_size_mb",
                "E111",
                f"{q.max_size_mb} MB: a Telegram bot downloads at most {FETCH_LIMIT_MB} MB",
            )
