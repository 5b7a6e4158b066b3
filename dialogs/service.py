"""The conversation service: one inbound event in, committed state, replies out.

Every transport (Telegram, the terminal, tests) calls :meth:`Conversation.handle`.
It runs the event in one database transaction: the processed-update marker,
the answer, its history row and the moved cursor commit together, before any
reply leaves.  A crash at any point leaves either the old state or the new
one, never half of it, and the user continues where the database says.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from dialogs.carryover import carry_over
from dialogs.engine import Step, Walker
from dialogs.i18n import Locale
from dialogs.loader import ProgramRegistry
from dialogs.qtypes._upload import accept_list, size_limit_mb
from dialogs.render import draw, render
from dialogs.schema import Program
from dialogs.textfit import clean_text
from dialogs.ui import (
    Action,
    Button,
    ButtonIn,
    CommandIn,
    FileIn,
    Inbound,
    Outcome,
    Reply,
    TextIn,
    UnsupportedIn,
    UserRef,
)
from dialogs.view import Joined, Part, Plain, View, msg, notice
from storage import repo
from storage.files import (
    FALLBACK_SUFFIX,
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
    FileStore,
    sniff_mime,
)
from storage.models import Application, ApplicationStatus, User

log = logging.getLogger(__name__)

WRITE_ATTEMPTS = 3
"""How often an event is tried when its write finds the draft changed meanwhile."""

DB_INT_MAX = 2**31 - 1
"""Ids and revisions are 32-bit columns: a larger number from a button is forged."""

CARRY_OVER_PATH = "@carried_over"
"""The history row recording that a draft moved to a new version of its program."""

COMMAND_NAME_CHARS = 32
"""Telegram's longest command name; a longer "command" is echoed clipped."""


def clean_inbound(user: UserRef, event: Inbound) -> tuple[UserRef, Inbound]:
    """The event with every text the user controls cleaned (see ``dialogs.textfit``)."""
    user = replace(user, display_name=clean_text(user.display_name))
    if isinstance(event, TextIn):
        event = TextIn(text=clean_text(event.text))
    elif isinstance(event, CommandIn):
        event = CommandIn(name=clean_text(event.name))
    elif isinstance(event, FileIn):
        event = replace(event, file_name=clean_text(event.file_name))
    return user, event


Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    """The real time, timezone-aware (UTC)."""
    return dt.datetime.now(dt.UTC)


@dataclass
class _Ctx:
    """What one handled event works with."""

    session: AsyncSession
    user: User
    now: dt.datetime
    loaded: Application | None = None  # the active application, read with the user
    notices: list[View] = field(default_factory=list)  # said before the event's replies


class Conversation:
    """Runs the declaration dialogs for any transport."""

    def __init__(
        self,
        *,
        registry: ProgramRegistry,
        sessions: async_sessionmaker[AsyncSession],
        files: FileStore,
        clock: Clock = system_clock,
        zone: ZoneInfo | None = None,
        locale: str = "zh-CN",
    ) -> None:
        self.registry = registry
        self.sessions = sessions
        self.files = files
        self.clock = clock
        self.zone = zone or ZoneInfo("Asia/Shanghai")
        self.loc = Locale(locale)

    # Transactions are written ``async with self.sessions() as session, session.begin()``:
    # the commit then runs in the caller's task and gives the connection back at
    # once.  (``sessions.begin()`` finishes in a task of its own, holding the only
    # SQLite connection for a few loop iterations while other users queue for it.)

    # ------------------------------------------------------------------ entry point
    async def handle(
        self, user: UserRef, event: Inbound, *, update_key: tuple[str, int] | None = None
    ) -> Outcome:
        """Handle one event; everything it changed is committed when this returns.

        A write that finds the draft changed since it was read (another
        process wrote it first, see ``Application``) is rolled back whole,
        update marker included, and the event is handled again on the new
        state, as if it had arrived a moment later.
        """
        user, event = clean_inbound(user, event)
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                if isinstance(event, FileIn):
                    return await self._handle_file(user, event, update_key)
                return await self._handle_once(user, event, update_key)
            except StaleDataError:
                if attempt == WRITE_ATTEMPTS:
                    raise
                log.info("draft changed under an event (attempt %d); handling it again", attempt)
        raise AssertionError("unreachable")

    async def _handle_once(
        self, user: UserRef, event: Inbound, update_key: tuple[str, int] | None
    ) -> Outcome:
        async with self.sessions() as session, session.begin():
            ctx = await self._context(session, user)
            if update_key is not None and not await repo.mark_update(
                session, source=update_key[0], update_id=update_key[1], now=ctx.now
            ):
                return await self._redelivered(ctx)
            outcome = await self._dispatch(ctx, event)
            outcome.replies[:0] = self._replies(ctx.notices, None)
            return outcome

    async def _redelivered(self, ctx: _Ctx) -> Outcome:
        """An update handled before: change nothing, but show where the user is,
        since the first reply may have been lost with a crash after the commit."""
        app = await self._active(ctx)
        replies = self._replies(self._walker(app, ctx.now).views(), app) if app else []
        return Outcome(replies=replies, duplicate=True)

    async def _context(self, session: AsyncSession, user: UserRef) -> _Ctx:
        """The user (created on first contact) and their active draft, in one query."""
        now = self.clock()
        row, active = await repo.load_user(
            session, channel=user.channel, external_id=user.external_id
        )
        if row is None:
            row = await repo.get_or_create_user(
                session,
                channel=user.channel,
                external_id=user.external_id,
                display_name=user.display_name,
                now=now,
            )
        else:
            repo.rename_user(row, display_name=user.display_name, now=now)
        return _Ctx(session=session, user=row, now=now, loaded=active)

    def _today(self, now: dt.datetime) -> dt.date:
        return now.astimezone(self.zone).date()

    async def _dispatch(self, ctx: _Ctx, event: Inbound) -> Outcome:
        if isinstance(event, CommandIn):
            return await self._command(ctx, event.name)
        if isinstance(event, UnsupportedIn):
            return await self._unsupported(ctx, event.kind)
        if isinstance(event, ButtonIn):
            return await self._button(ctx, event)
        if isinstance(event, TextIn):
            return await self._text(ctx, event.text)
        raise TypeError(f"unexpected event {event!r}")

    # ------------------------------------------------------------------ helpers
    def _walker(self, app: Application, now: dt.datetime) -> Walker:
        program = self._program(app)
        return Walker(program, app.answers, app.cursor, today=self._today(now))

    def _program(self, app: Application) -> Program:
        program = self.registry.get(app.program_id)
        if program is None:
            raise LookupError(f"program {app.program_id} is not served")
        return program

    async def _active(self, ctx: _Ctx) -> Application | None:
        """The draft the user is filling in, if any (the user's row lock covers it)."""
        app_id = ctx.user.active_application_id
        if app_id is None:
            return None
        app = ctx.loaded
        if app is None or app.id != app_id:
            app = await repo.get_application(ctx.session, application_id=app_id)
        if (
            app is None
            or app.status != ApplicationStatus.DRAFT.value
            or self.registry.get(app.program_id) is None
        ):
            ctx.user.active_application_id = None
            return None
        await self._carry_over(ctx, app)
        return app

    async def _carry_over(self, ctx: _Ctx, app: Application) -> None:
        """Fit a draft saved under an older version of its program to the current one.

        Answers with no place in the new definition leave the draft (the history
        keeps them, and a history row records the carry-over) and the user is
        told which; the rest carries over untouched.
        """
        program = self._program(app)
        if app.program_version == program.version:
            return
        answers, dropped = carry_over(program, app.answers)
        cursor = {k: v for k, v in app.cursor.items() if k not in ("s", "sel")}
        await repo.record_answer(
            ctx.session,
            application_id=app.id or 0,
            path=CARRY_OVER_PATH,
            value={
                "from": app.program_version,
                "to": program.version,
                "dropped": [{"path": d.path, "value": d.value} for d in dropped],
            },
            now=ctx.now,
        )
        # The revision stays: buttons of the draft's last message act on ids, which
        # the new version still understands (or refuses by itself).
        repo.carry_application(
            app, answers=answers, cursor=cursor, program_version=program.version, now=ctx.now
        )
        if dropped:
            lines = [msg("engine.carried_over.title", program=program.button_title)]
            lines += [
                msg("engine.carried_over.item", label=d.label, value=_shown(d.value))
                for d in dropped
            ]
            ctx.notices.append(View(lines=tuple(lines)))

    def _replies(self, views: list[View], app: Application | None) -> list[Reply]:
        """Views drawn in the user's language, with the state their buttons belong to."""
        app_id = app.id or 0 if app is not None else 0
        rev = app.revision if app is not None else 0
        style = self._date_style(app)
        replies = []
        for view in views:
            screen = render(view, self.loc, date_style=style)
            replies.append(
                Reply(
                    text=screen.text,
                    buttons=screen.buttons,
                    application_id=app_id,
                    revision=rev,
                    expects_text=screen.expects_text,
                )
            )
        return replies

    def _date_style(self, app: Application | None) -> str:
        program = self.registry.get(app.program_id) if app is not None else None
        return program.date_style if program is not None else "iso"

    async def _apply(self, ctx: _Ctx, app: Application, walker: Walker, step: Step) -> Outcome:
        """Persist what a step changed (answers, cursor, history), then build replies."""
        if step.changed or step.events:
            for path, value in step.events:
                await repo.record_answer(
                    ctx.session, application_id=app.id or 0, path=path, value=value, now=ctx.now
                )
            repo.touch_application(app, answers=walker.answers, cursor=walker.cur, now=ctx.now)
            await ctx.session.flush()
        toast = draw(step.toast, self.loc) if step.toast is not None else None
        return Outcome(replies=self._replies(step.views, app), toast=toast)

    def _menu(self, text: str) -> Outcome:
        t = self.loc.t
        buttons = [
            [Button(t("engine.btn.menu_apply"), Action.MENU)],
            [Button(t("engine.btn.menu_status"), Action.STATUS)],
        ]
        return Outcome(replies=[Reply(text=text, buttons=buttons)])

    # ------------------------------------------------------------------ commands
    async def _command(self, ctx: _Ctx, name: str) -> Outcome:
        t = self.loc.t
        if name == "start":
            menu = self._menu(t("engine.welcome", name=ctx.user.display_name or ""))
            app = await self._active(ctx)
            if app is not None:
                # A returning user sees where they are, so a typed answer is never a surprise.
                walker = self._walker(app, ctx.now)
                resumed = Reply(text=t("engine.resumed", program=self._program(app).button_title))
                menu.replies += [resumed, *self._replies(walker.views(), app)]
            return menu
        if name == "help":
            return self._menu(t("engine.help"))
        if name == "apply":
            return await self._program_list(ctx)
        if name == "status":
            return await self._status(ctx)
        if name == "cancel":
            return await self._leave(ctx)
        if len(name) > COMMAND_NAME_CHARS:
            name = name[:COMMAND_NAME_CHARS] + t("engine.ellipsis")
        return self._menu(t("engine.unknown_command", name=name))

    async def _program_list(self, ctx: _Ctx) -> Outcome:
        t = self.loc.t
        apps = await repo.list_applications(ctx.session, user_id=ctx.user.id or 0)
        latest: dict[str, Application] = {}
        for app in apps:
            latest.setdefault(app.program_id, app)
        buttons = []
        for program in self.registry:
            label = program.button_title
            found = latest.get(program.id)
            if found is not None:
                label += t(f"engine.program_state.{found.status}")
            buttons.append([Button(label, Action.PICK_PROGRAM, key=program.id)])
        return Outcome(replies=[Reply(text=t("engine.choose_program"), buttons=buttons)])

    async def _status(self, ctx: _Ctx) -> Outcome:
        t = self.loc.t
        apps = await repo.list_applications(ctx.session, user_id=ctx.user.id or 0)
        if not apps:
            return self._menu(t("engine.status.none"))
        lines = [t("engine.status.title")]
        buttons: list[list[Button]] = []
        for n, app in enumerate(apps, start=1):
            program = self.registry.get(app.program_id)
            if program is None:
                continue
            walker = self._walker(app, ctx.now)
            visible = walker.visible()
            done = sum(
                1 for q in visible if q.id in app.answers and not walker.question_problems(0, q)
            )
            local = app.updated_at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")
            if app.status == ApplicationStatus.DRAFT.value:
                lines.append(
                    t(
                        "engine.status.draft",
                        n=n,
                        program=program.button_title,
                        done=done,
                        total=len(visible),
                        updated=local,
                    )
                )
                buttons.append(
                    [
                        Button(
                            t("engine.btn.resume", program=program.button_title),
                            Action.RESUME,
                            app.id or 0,
                        )
                    ]
                )
            else:
                submitted = (
                    (app.submitted_at or app.updated_at).astimezone(self.zone).strftime("%Y-%m-%d")
                )
                level = program.review_chain[min(app.review_level, len(program.review_chain) - 1)]
                lines.append(
                    t(
                        f"engine.status.{app.status}",
                        n=n,
                        program=program.button_title,
                        submitted=submitted,
                        reviewer=level.reviewer,
                    )
                )
        return Outcome(replies=[Reply(text="\n".join(lines), buttons=buttons)])

    async def _leave(self, ctx: _Ctx) -> Outcome:
        t = self.loc.t
        app = await self._active(ctx)
        if app is None:
            return self._menu(t("engine.nothing_to_cancel"))
        ctx.user.active_application_id = None
        ctx.user.updated_at = ctx.now
        program = self._program(app)
        return self._menu(t("engine.saved_exit", program=program.button_title))

    async def _open(self, ctx: _Ctx, program: Program) -> Outcome:
        """Start or resume the user's application for ``program``."""
        app = await repo.find_open_application(
            ctx.session, user_id=ctx.user.id or 0, program_id=program.id
        )
        if app is not None and app.status != ApplicationStatus.DRAFT.value:
            ctx.user.active_application_id = None
            return await self._status(ctx)
        intro: list[View] = []
        if app is None:
            app = await repo.create_application(
                ctx.session,
                user_id=ctx.user.id or 0,
                program_id=program.id,
                program_version=program.version,
                cursor={},
                now=ctx.now,
            )
            walker = self._walker(app, ctx.now)
            walker.start()
            intro.append(
                notice(
                    msg(
                        "engine.intro",
                        form=program.form_title,
                        union=program.union,
                        notice=program.notice,
                        total=len(walker.visible()),
                    )
                )
            )
        else:
            await self._carry_over(ctx, app)
            walker = self._walker(app, ctx.now)
            if not app.cursor:
                walker.start()
            intro.append(notice(msg("engine.resumed", program=program.button_title)))
        ctx.user.active_application_id = app.id
        ctx.user.updated_at = ctx.now
        walker.step.views.extend(intro)
        walker.show()
        walker.step.changed = True
        return await self._apply(ctx, app, walker, walker.step)

    # ------------------------------------------------------------------ events
    async def _button(self, ctx: _Ctx, event: ButtonIn) -> Outcome:
        # Button data comes back from the client: anything may have been forged.
        numbers = (event.arg, event.application_id, event.revision)
        if not all(-DB_INT_MAX <= n <= DB_INT_MAX for n in numbers) or event.application_id < 0:
            return await self._stale(ctx)
        if event.action is Action.MENU:
            return await self._program_list(ctx)
        if event.action is Action.STATUS:
            return await self._status(ctx)
        if event.action is Action.PICK_PROGRAM:
            picked = self.registry.get(event.key)
            if picked is None:
                return await self._stale(ctx)
            return await self._open(ctx, picked)
        if event.action is Action.RESUME:
            app = await repo.get_application(ctx.session, application_id=event.arg)
            if (
                app is None
                or app.user_id != ctx.user.id
                or self.registry.get(app.program_id) is None
            ):
                return await self._stale(ctx)
            return await self._open(ctx, self._program(app))
        app = await self._active(ctx)
        if app is None or app.id != event.application_id or app.revision != event.revision:
            return await self._stale(ctx)
        walker = self._walker(app, ctx.now)
        if event.action is Action.SAVE_EXIT:
            return await self._leave(ctx)
        if event.action is Action.SUBMIT:
            return await self._submit(ctx, app, walker)
        step = walker.on_button(event.action, event.arg, event.key)
        return await self._apply(ctx, app, walker, step)

    async def _stale(self, ctx: _Ctx) -> Outcome:
        t = self.loc.t
        app = await self._active(ctx)
        if app is None:
            out = self._menu(t("engine.stale_menu"))
            out.toast = t("engine.stale_menu")  # there is no current question to show
            return out
        walker = self._walker(app, ctx.now)
        out = Outcome(replies=self._replies(walker.views(), app))
        out.toast = t("engine.stale")
        return out

    async def _submit(self, ctx: _Ctx, app: Application, walker: Walker) -> Outcome:
        t = self.loc.t
        program = self._program(app)
        if not walker.submit():
            return await self._apply(ctx, app, walker, walker.step)
        app.status = ApplicationStatus.SUBMITTED.value
        app.submitted_at = ctx.now
        app.review_level = 0
        ctx.user.active_application_id = None
        walker.step.views.append(
            notice(
                msg(
                    "engine.submitted",
                    program=program.button_title,
                    reviewer=program.review_chain[0].reviewer,
                    levels=t("engine.sep.chain").join(lv.reviewer for lv in program.review_chain),
                )
            )
        )
        return await self._apply(ctx, app, walker, walker.step)

    async def _text(self, ctx: _Ctx, text: str) -> Outcome:
        app = await self._active(ctx)
        if app is None:
            return self._menu(self.loc.t("engine.no_active"))
        walker = self._walker(app, ctx.now)
        return await self._apply(ctx, app, walker, walker.on_text(text))

    async def _unsupported(self, ctx: _Ctx, kind: str) -> Outcome:
        t = self.loc.t
        key = f"engine.unsupported.{kind}"
        text = t(key) if self.loc.has(key) else t("engine.unsupported.other")
        app = await self._active(ctx)
        if app is None:
            return self._menu(text)
        walker = self._walker(app, ctx.now)
        return Outcome(replies=[Reply(text=text), *self._replies(walker.views(), app)])

    # ------------------------------------------------------------------ uploads
    async def _handle_file(
        self, user: UserRef, event: FileIn, update_key: tuple[str, int] | None
    ) -> Outcome:
        """Check, download and store an upload without holding a write transaction
        during the download, then record it in a second, short transaction.

        The file's type is what its bytes are (``sniff_mime``); the name and
        type the client sent are the sender's word and decide nothing, so a
        script sent as "application/pdf" is refused, not stored as a PDF.
        """
        t = self.loc.t
        async with self.sessions() as session, session.begin():
            ctx = await self._context(session, user)
            # Only looked at here: the update is marked with the attachment, so a
            # crash during the download leaves it unhandled and Telegram sends it again.
            if update_key is not None and await repo.update_seen(
                session, source=update_key[0], update_id=update_key[1], now=ctx.now
            ):
                return await self._redelivered(ctx)
            app = await self._active(ctx)
            if app is None:
                return self._menu(t("engine.no_active"))
            walker = self._walker(app, ctx.now)
            problem = walker.on_upload_check(
                sent_as=event.kind, mime_type=event.mime_type, size=event.size
            )
            if problem is not None:
                return self._upload_refused(walker, app, problem)
            limit = walker.upload_limit_bytes()
            revision = app.revision
            app_id = app.id or 0
            current = self._replies(walker.views(), app)
        data: bytes | None
        try:
            data = await event.fetch()
        except Exception:
            if event.kind != "photo":
                # Ids only: in the terminal chat the reference is a path the user typed.
                log.exception("download of a %s for application %s failed", event.kind, app_id)
                return Outcome(replies=[Reply(text=t("engine.upload.failed")), *current])
            # The messenger holds the photo (always a JPEG, its size already checked):
            # keep it by reference and fetch the bytes later, rather than stop the user.
            log.warning("photo for application %s not downloadable now; kept by reference", app_id)
            data = None
        mime = event.mime_type if data is None else sniff_mime(data)
        async with self.sessions() as session, session.begin():
            ctx = await self._context(session, user)
            if update_key is not None and not await repo.mark_update(
                session, source=update_key[0], update_id=update_key[1], now=ctx.now
            ):
                return await self._redelivered(ctx)
            app = await self._active(ctx)
            if app is None or app.id != app_id or app.revision != revision:
                return Outcome(replies=[Reply(text=t("engine.upload.moved_on"))])
            walker = self._walker(app, ctx.now)
            if data is not None and len(data) > limit:
                return self._upload_refused(walker, app, "engine.upload.too_big")
            if data is not None and not data:
                return self._upload_refused(walker, app, "engine.upload.empty")
            if not walker.accepts_mime(mime):
                return self._upload_refused(walker, app, "engine.upload.wrong_type")
            stored = None if data is None else await self.files.save(data, suffix=_suffix(mime))
            target, value, _ = walker.target()
            earlier = await repo.get_attachments(session, ids=list(value or []))
            if any(
                (stored is not None and a.sha256 == stored.sha256)
                or (stored is None and a.source_ref == event.source_ref)
                # Telegram may give the same photo a new file id; a photo's name
                # carries its stable unique id.
                or (stored is None and a.kind == "photo" and a.file_name == event.file_name)
                for a in earlier
            ):
                return self._upload_refused(walker, app, "engine.upload.duplicate")
            att = await repo.add_attachment(
                session,
                application_id=app_id,
                question_id=target.id,
                kind=event.kind,
                file_name=event.file_name,
                mime_type=mime,
                size=stored.size if stored else event.size or 0,
                sha256=stored.sha256 if stored else "",
                storage_path=stored.path if stored else "",  # empty: not downloaded yet
                source_ref=event.source_ref,
                now=ctx.now,
            )
            return await self._apply(ctx, app, walker, walker.on_upload(att.id or 0))

    def _upload_refused(self, walker: Walker, app: Application, key: str) -> Outcome:
        target, _, _ = walker.target() if walker.mode == "ask" else (None, None, None)
        params = {}
        if target is not None:
            params = {
                "max_mb": f"{size_limit_mb(target):g}",
                "max": target.max_files or "",
                "accept": accept_list(target, self.loc),
            }
        text = self.loc.t(key, **params)
        return Outcome(replies=[Reply(text=text), *self._replies(walker.views(), app)])


_SUFFIXES = {
    MIME_JPEG: ".jpg",
    MIME_PNG: ".png",
    MIME_GIF: ".gif",
    MIME_WEBP: ".webp",
    MIME_HEIC: ".heic",
    MIME_HEIF: ".heif",
    MIME_PDF: ".pdf",
    MIME_DOCX: ".docx",
    MIME_DOC: ".doc",
    MIME_XLSX: ".xlsx",
    MIME_XLS: ".xls",
    MIME_MP4: ".mp4",
    MIME_MOV: ".mov",
}


SHOWN_CHARS = 60


def _shown(value: object) -> Part:
    """A dropped answer as the user typed or chose it (lists joined, long text clipped)."""
    if isinstance(value, list):
        return Joined(tuple(_shown(v) for v in value), sep="engine.sep.list")
    text = str(value)
    return (
        Plain(text) if len(text) <= 60 else msg("engine.clipped", text=text[:60], length=len(text))
    )


def _suffix(mime: str) -> str:
    """The stored file's suffix, from its sniffed type only: a suffix taken
    from the user's file name (".html", ".sh") could make a viewer or a
    server treat the stored bytes as something they were refused as."""
    return _SUFFIXES.get(mime, FALLBACK_SUFFIX)
