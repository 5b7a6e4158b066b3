"""A declaration's printed form from the database: the version the reviewers read
(the latest submitted one; a draft's current answers), its photos and files,
and every level's opinion with who signed it and when.

The caller owns the session (nothing here writes); :func:`form_docx` and
:func:`form_pdf` return bytes and the name to give the file.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.i18n import Locale
from dialogs.loader import ProgramRegistry
from dialogs.schema import Program
from dialogs.turn import FormMaker
from documents import pdf, word
from documents.content import Attached, Box, FormContent, Opinion, blank_boxes, build
from storage import repo
from storage import review as review_store
from storage.files import FileStore
from storage.models import Application, Organisation, Person, ReviewTask, TaskState

log = logging.getLogger(__name__)

DECIDED = {TaskState.APPROVED.value, TaskState.RETURNED.value, TaskState.REJECTED.value}


@dataclass(frozen=True)
class Form:
    """A rendered form: its bytes, the file name to send it under, its format."""

    data: bytes
    name: str
    format: str


async def _boxes(
    session: AsyncSession, program: Program, app: Application, zone: ZoneInfo
) -> list[Box]:
    """Each level's box with its latest decision: the opinions given on the newest
    version that level decided (a declaration returned at a higher level and sent
    again goes back there, so a lower level's box keeps its earlier approval)."""
    tasks: list[ReviewTask] = []
    if app.id is not None and app.submission_no:
        tasks = [
            t
            for t in await review_store.tasks_of(session, application_id=app.id)
            if t.state in DECIDED
        ]
    boxes: list[Box] = []
    for box in blank_boxes(program):
        opinions: list[Opinion] = []
        mine = [t for t in tasks if t.level_id == box.id]
        newest = max((t.submission_no for t in mine), default=0)
        for task in (t for t in mine if t.submission_no == newest):
            signer = await session.get(Person, task.decided_by) if task.decided_by else None
            org = await session.get(Organisation, task.organisation_id)
            when = task.decided_at.astimezone(zone).date() if task.decided_at else None
            opinions.append(
                Opinion(
                    text=task.opinion or "",
                    signer=signer.display_name if signer else "",
                    organisation=org.name if org else "",
                    date=when,
                    approved_name=task.approved_name,
                )
            )
        boxes.append(Box(box.id, box.label, box.stamp, box.signature, opinions))
    return boxes


async def _answers(session: AsyncSession, app: Application) -> dict[str, object]:
    """What the form prints: the submitted version reviewers judge, else the draft."""
    if app.id is not None and app.submission_no:
        sub = await review_store.submission(
            session, application_id=app.id, number=app.submission_no
        )
        if sub is not None:
            return dict(sub.answers)
    return dict(app.answers)


async def _files(
    session: AsyncSession, answers: dict[str, object], store: FileStore
) -> dict[int, Attached]:
    ids = [
        ref
        for value in answers.values()
        if isinstance(value, list)
        for ref in value
        if isinstance(ref, int) and not isinstance(ref, bool)
    ]
    found = await repo.get_attachments(session, ids=ids)
    return {
        a.id: Attached(
            a.question_id,
            a.file_name,
            str(store.root / a.storage_path) if a.storage_path else "",
            a.mime_type,
        )
        for a in found
        if a.id is not None
    }


async def content_of(
    session: AsyncSession,
    app: Application,
    program: Program,
    *,
    store: FileStore,
    loc: Locale,
    zone: ZoneInfo,
    today: dt.date,
) -> FormContent:
    """The form's content for ``app``."""
    answers = await _answers(session, app)
    submitted = app.submitted_at.astimezone(zone).date() if app.submitted_at else None
    return build(
        program,
        answers,
        boxes=await _boxes(session, program, app, zone),
        files=await _files(session, answers, store),
        loc=loc,
        today=today,
        submitted=submitted,
        number=str(app.id or ""),
    )


def file_name(content: FormContent, app: Application, suffix: str) -> str:
    """``<form title>-<studio name or number>.<suffix>``, safe on every system."""
    who = content.studio_name or f"{app.id}"
    raw = f"{content.title}-{who}"
    safe = "".join("_" if c in '\\/:*?"<>|\n\r\t' else c for c in raw)[:120]
    return f"{safe}.{suffix}"


def template_of(registry: ProgramRegistry, program: Program) -> Path | None:
    """The program's own template, if one lies beside its definition and names only
    fields the program has (else the generic form, and the log says why)."""
    source = registry.sources.get(program.id)
    template = word.template_for(source) if source is not None else None
    if template is None:
        return None
    problems = word.template_problems(program, template)
    if problems:
        log.error("form template %s not used: %s", template, problems[0])
        return None
    return template


async def form_docx(
    session: AsyncSession,
    app: Application,
    registry: ProgramRegistry,
    *,
    store: FileStore,
    loc: Locale,
    zone: ZoneInfo,
    today: dt.date,
) -> Form:
    """The declaration as the program's Word form."""
    program = registry.get(app.program_id)
    if program is None:
        raise LookupError(f"program {app.program_id} is not served")
    content = await content_of(session, app, program, store=store, loc=loc, zone=zone, today=today)
    data = word.render(content, loc, template_of(registry, program))
    return Form(data, file_name(content, app, "docx"), "docx")


async def form_pdf(docx: Form) -> Form | None:
    """The same form as PDF, or None where LibreOffice cannot make one (logged)."""
    data = await pdf.convert(docx.data)
    if data is None:
        return None
    return Form(data, docx.name.removesuffix(".docx") + ".pdf", "pdf")


def maker(registry: ProgramRegistry, store: FileStore, zone: ZoneInfo) -> FormMaker:
    """The desk's form maker: Word always, PDF as well where LibreOffice made one."""

    async def make(
        session: AsyncSession, app: Application, *, loc: Locale, today: dt.date
    ) -> list[tuple[str, bytes]]:
        docx = await form_docx(session, app, registry, store=store, loc=loc, zone=zone, today=today)
        converted = await form_pdf(docx)
        return [(f.name, f.data) for f in (docx, converted) if f is not None]

    return make
