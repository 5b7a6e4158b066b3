"""One event's work: the person, their draft, the transaction, and the helpers
every flow needs to read a draft and answer in the person's language.

The flows (``dialogs/flows/``: menus, the applicant's form, uploads; a
reviewer's desk beside them later) are functions of a :class:`Turn`, so each
is a small module that knows nothing of transactions or transports.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.carryover import carry_over
from dialogs.engine import Step, Walker
from dialogs.i18n import Locale
from dialogs.loader import ProgramRegistry
from dialogs.render import draw, render
from dialogs.schema import Program
from dialogs.suggest import recall
from dialogs.ui import Action, Button, Outcome, Reply
from dialogs.view import Joined, Part, Plain, View, msg
from storage import repo
from storage.files import FileStore
from storage.models import (
    Application,
    ApplicationStatus,
    Organisation,
    OrganisationKind,
    Person,
)

CARRY_OVER_PATH = "@carried_over"
"""The history row recording that a draft moved to a new version of its program."""

SHOWN_CHARS = 60
"""A dropped answer is quoted to the user up to this many characters."""


class FormMaker(Protocol):
    """What makes the printed form of a declaration: (file name, bytes) for each
    format it could make, Word first; nothing here writes to the session."""

    async def __call__(
        self, session: AsyncSession, app: Application, *, loc: Locale, today: dt.date
    ) -> list[tuple[str, bytes]]: ...


@dataclass(frozen=True)
class Desk:
    """What stays the same from event to event: programs, files, zone, language."""

    registry: ProgramRegistry
    files: FileStore
    zone: ZoneInfo
    loc: Locale
    bot_username: str | None = None
    """The bot's Telegram name, for invitation links; None where there is no such
    link (the terminal), and the bare ``/start <token>`` is given instead."""
    forms: FormMaker | None = None
    """Renders a declaration's printed form (Word, and PDF where it can); None where
    the product was put together without it, and the form is said to be unavailable."""


@dataclass
class Turn:
    """One event being handled inside its transaction."""

    desk: Desk
    session: AsyncSession
    user: Person
    now: dt.datetime
    loaded: Application | None = None
    """The active application, read with the user."""
    notices: list[View] = field(default_factory=list)
    """Said before the event's own replies (e.g. a draft carried over)."""
    known: dict[int, dict[str, Any]] = field(default_factory=dict)
    """By application: the person's earlier answers to its questions (:meth:`recall`)."""

    # ------------------------------------------------------------------ reading
    @property
    def loc(self) -> Locale:
        return self.desk.loc

    def t(self, key: str, /, **params: object) -> str:
        return self.desk.loc.t(key, **params)

    def today(self) -> dt.date:
        return self.now.astimezone(self.desk.zone).date()

    def local(self, moment: dt.datetime, fmt: str) -> str:
        return moment.astimezone(self.desk.zone).strftime(fmt)

    def program(self, app: Application) -> Program:
        program = self.desk.registry.get(app.program_id)
        if program is None:
            raise LookupError(f"program {app.program_id} is not served")
        return program

    def title_of(self, app: Application, *, bare: bool = False) -> str:
        """The program's title, with the studio's own name once the leader has given it
        (``studio_name`` of the definition says which answer it is), so that several
        declarations can be told apart; ``bare``: the studio's name alone ("" if none)."""
        program = self.desk.registry.get(app.program_id)
        if program is None:
            return "" if bare else app.program_id
        spec = program.studio_name
        name = app.answers.get(spec.field) if spec is not None else None
        if not isinstance(name, str) or not name:
            return "" if bare else program.button_title
        if bare:
            return name
        return self.t("engine.status.named", program=program.button_title, name=name)

    async def org_name(self, org: Organisation | None) -> str:
        """An organisation as people name it: a body of a unit (技术部门, 党委) with its
        unit's name, since 「技术部门」 alone says nothing of whose."""
        if org is None:
            return ""
        if org.kind != OrganisationKind.DEPARTMENT.value or org.parent_id is None:
            return org.name
        unit = await self.session.get(Organisation, org.parent_id)
        return self.t("review.org.body", unit=unit.name, body=org.name) if unit else org.name

    def walker(self, app: Application) -> Walker:
        known = self.known.get(app.id or 0)
        return Walker(self.program(app), app.answers, app.cursor, today=self.today(), known=known)

    async def recall(self, app: Application) -> None:
        """Read what the person answered in their other declarations (of this program in
        another year, or of another program), newest first, so that the walker offers
        it for the same questions of ``app`` (:func:`dialogs.suggest.recall`)."""
        others = [
            (program, other.answers)
            for other in await repo.list_applications(self.session, user_id=self.user.id or 0)
            if other.id != app.id and (program := self.desk.registry.get(other.program_id))
        ]
        self.known[app.id or 0] = recall(self.program(app), others) if others else {}

    async def active(self) -> Application | None:
        """The draft the user is filling in, if any (the user's lock covers it)."""
        app_id = self.user.active_application_id
        if app_id is None:
            return None
        app = self.loaded
        if app is None or app.id != app_id:
            app = await repo.get_application(self.session, application_id=app_id)
        if (
            app is None
            or not ApplicationStatus(app.status).editable
            or self.desk.registry.get(app.program_id) is None
        ):
            self.user.active_application_id = None
            return None
        await self.carry_over(app)
        await self.recall(app)
        return app

    async def carry_over(self, app: Application) -> None:
        """Fit a draft saved under an older version of its program to the current one.

        Answers with no place in the new definition leave the draft (the history
        keeps them, and a history row records the carry-over) and the user is
        told which; the rest carries over untouched.
        """
        program = self.program(app)
        if app.program_version == program.version:
            return
        answers, dropped = carry_over(program, app.answers)
        cursor = {k: v for k, v in app.cursor.items() if k not in ("s", "sel", "held")}
        await repo.record_answer(
            self.session,
            application_id=app.id or 0,
            path=CARRY_OVER_PATH,
            value={
                "from": app.program_version,
                "to": program.version,
                "dropped": [{"path": d.path, "value": d.value} for d in dropped],
            },
            now=self.now,
        )
        # The revision stays: buttons of the draft's last message act on ids, which
        # the new version still understands (or refuses by itself).
        repo.carry_application(
            app, answers=answers, cursor=cursor, program_version=program.version, now=self.now
        )
        if dropped:
            lines: list[Part] = [msg("engine.carried_over.title", program=program.button_title)]
            lines += [
                msg("engine.carried_over.item", label=d.label, value=_shown(d.value))
                for d in dropped
            ]
            self.notices.append(View(lines=tuple(lines)))

    # ------------------------------------------------------------------ answering
    def replies(self, views: list[View], app: Application | None) -> list[Reply]:
        """Views drawn in the user's language, with the state their buttons belong to."""
        app_id = app.id or 0 if app is not None else 0
        rev = app.revision if app is not None else 0
        program = self.desk.registry.get(app.program_id) if app is not None else None
        style = program.date_style if program is not None else "iso"
        out = []
        for view in views:
            screen = render(view, self.loc, date_style=style)
            out.append(
                Reply(
                    text=screen.text,
                    buttons=screen.buttons,
                    application_id=app_id,
                    revision=rev,
                    expects_text=screen.expects_text,
                    replaces=view.replaces,
                )
            )
        return out

    def current(self, app: Application) -> list[Reply]:
        """Where the user is in their draft, as they would see it now."""
        return self.replies(self.walker(app).views(), app)

    async def apply(self, app: Application, walker: Walker, step: Step) -> Outcome:
        """Persist what a step changed (answers, cursor, history), then build replies."""
        if step.changed or step.events:
            for path, value in step.events:
                await repo.record_answer(
                    self.session, application_id=app.id or 0, path=path, value=value, now=self.now
                )
            repo.touch_application(app, answers=walker.answers, cursor=walker.cur, now=self.now)
            app.unanswered = sum(1 for q in walker.visible() if walker.answers.get(q.id) is None)
            await self.session.flush()
        toast = draw(step.toast, self.loc) if step.toast is not None else None
        return Outcome(replies=self.replies(step.views, app), toast=toast)

    def menu(self, text: str) -> Outcome:
        """A message with the two ways into the product: apply, and my declarations."""
        buttons = [
            [Button(self.t("engine.btn.menu_apply"), Action.MENU)],
            [Button(self.t("engine.btn.menu_status"), Action.STATUS)],
        ]
        return Outcome(replies=[Reply(text=text, buttons=buttons)])


def _shown(value: object) -> Part:
    """A dropped answer as the user typed or chose it (lists joined, long text clipped)."""
    if isinstance(value, list):
        return Joined(tuple(_shown(v) for v in value), sep="engine.sep.list")
    text = str(value)
    if len(text) <= SHOWN_CHARS:
        return Plain(text)
    return msg("engine.clipped", text=text[:SHOWN_CHARS], length=len(text))
