"""Commands and the menus around a declaration: welcome, help, the program list,
"my declarations", leaving a draft, an out-of-date button, unusable content."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from dialogs.flows import announcing, deadlines, exporting, linking, review, staff
from dialogs.turn import Turn
from dialogs.ui import Action, Button, Outcome, Reply
from storage import repo
from storage.models import Application, ApplicationStatus

COMMAND_NAME_CHARS = 32
"""Telegram's longest command name; a longer "command" is echoed clipped."""

STAFF_COMMANDS: dict[str, Callable[[Turn], Awaitable[Outcome]]] = {
    "invite": staff.invite,
    "staff": staff.colleagues,
    "announce": announcing.announce,
    "export": exporting.export,
}
"""Commands of administrators (not in the menu applicants see); refused to others."""


async def command(turn: Turn, name: str, args: str = "") -> Outcome:
    """/start (with an invitation's token, or without), the commands of everyone
    (/help, /apply, /status, /deadlines, /settings, /cancel), of union staff
    (/inbox) and of administrators (/invite, /staff, /announce, /export), or an unknown
    command."""
    if name == "start":
        return await start(turn, args)
    if name == "link":  # one person on several channels
        return await linking.link(turn, args)
    plain = _commands().get(name) or STAFF_COMMANDS.get(name)
    if plain is not None:
        return await plain(turn)
    if len(name) > COMMAND_NAME_CHARS:
        name = name[:COMMAND_NAME_CHARS] + turn.t("engine.ellipsis")
    return turn.menu(turn.t("engine.unknown_command", name=name))


def _commands() -> dict[str, Callable[[Turn], Awaitable[Outcome]]]:
    return {
        "help": _help,
        "apply": program_list,
        "status": status,
        "inbox": review.inbox,
        "deadlines": deadlines.deadlines,
        "settings": deadlines.settings,
        "cancel": leave,
    }


async def _help(turn: Turn) -> Outcome:
    return turn.menu(turn.t("engine.help"))


async def start(turn: Turn, args: str = "") -> Outcome:
    """The welcome; a returning user also sees where they are, so a typed answer
    is never a surprise.  With an argument, it is an invitation link being opened."""
    if args.strip():
        return await staff.join(turn, args)
    menu = turn.menu(turn.t("engine.welcome", name=turn.user.display_name or ""))
    app = await turn.active()
    if app is not None:
        program = turn.program(app).button_title
        menu.replies += [Reply(text=turn.t("engine.resumed", program=program)), *turn.current(app)]
    return menu


async def program_list(turn: Turn) -> Outcome:
    """One button per program (by its id), marked with the user's state in it."""
    apps = await repo.list_applications(turn.session, user_id=turn.user.id or 0)
    latest: dict[str, Application] = {}
    for app in apps:
        latest.setdefault(app.program_id, app)
    buttons = []
    for program in turn.desk.registry:
        label = program.button_title
        found = latest.get(program.id)
        if found is not None:
            label += turn.t(f"engine.program_state.{found.status}")
        buttons.append([Button(label, Action.PICK_PROGRAM, key=program.id)])
    return Outcome(replies=[Reply(text=turn.t("engine.choose_program"), buttons=buttons)])


async def status(turn: Turn) -> Outcome:
    """The user's declarations: drafts with their progress, the others with their stage."""
    apps = await repo.list_applications(turn.session, user_id=turn.user.id or 0)
    if not apps:
        return turn.menu(turn.t("engine.status.none"))
    lines = [turn.t("engine.status.title")]
    buttons: list[list[Button]] = []
    for n, app in enumerate(apps, start=1):
        if turn.desk.registry.get(app.program_id) is None:
            # Its definition was left out at start (a broken file): the draft is kept
            # and said, so nobody thinks it lost; it resumes once the file is fixed.
            lines.append(turn.t("engine.status.unserved", n=n, program=app.program_id))
            continue
        lines.append(_status_line(turn, n, app))
        title = turn.program(app).button_title
        if ApplicationStatus(app.status).editable:
            label = turn.t("engine.btn.resume", program=title)
            buttons.append([Button(label, Action.RESUME, app.id or 0)])
        if app.submission_no:
            label = turn.t("review.btn.timeline_n", n=n)
            read = turn.t("preview.btn.read", n=n)
            buttons.append(
                [
                    Button(label, Action.TIMELINE, app.id or 0),
                    Button(read, Action.READ_OWN, app.id or 0),
                ]
            )
        if ApplicationStatus(app.status).editable:
            label = turn.t("preview.btn.discard", n=n)
            buttons.append([Button(label, Action.DISCARD, app.id or 0)])
    return Outcome(replies=[Reply(text="\n".join(lines), buttons=buttons)])


def answered(turn: Turn, app: Application) -> tuple[int, int]:
    """How many of the draft's visible questions are complete, of how many."""
    walker = turn.walker(app)
    visible = walker.visible()
    done = sum(1 for q in visible if q.id in app.answers and not walker.question_problems(0, q))
    return done, len(visible)


def _status_line(turn: Turn, n: int, app: Application) -> str:
    program = turn.program(app)
    title = turn.title_of(app)
    if app.status == ApplicationStatus.DRAFT.value:
        done, total = answered(turn, app)
        return turn.t(
            "engine.status.draft",
            n=n,
            program=title,
            done=done,
            total=total,
            updated=turn.local(app.updated_at, "%Y-%m-%d %H:%M"),
        )
    level = program.review_chain[min(app.review_level, len(program.review_chain) - 1)]
    return turn.t(
        f"engine.status.{app.status}",
        n=n,
        program=title,
        submitted=turn.local(app.submitted_at or app.updated_at, "%Y-%m-%d"),
        reviewer=level.reviewer,
        name=app.named_as or "",
    )


async def leave(turn: Turn) -> Outcome:
    """Save and leave the current draft (/cancel, 保存并退出): everything is saved
    already and it stops being active; the reply says so, how to come back, and
    offers to continue or to discard the draft."""
    app = await turn.active()
    if app is None:
        return turn.menu(turn.t("engine.nothing_to_cancel"))
    turn.user.active_application_id = None
    turn.user.updated_at = turn.now
    program = turn.program(app).button_title
    done, total = answered(turn, app)
    out = turn.menu(turn.t("preview.left", program=program, done=done, total=total))
    out.replies[0].buttons[:0] = [
        [Button(turn.t("engine.btn.resume", program=program), Action.RESUME, app.id or 0)],
        [Button(turn.t("preview.btn.discard_this"), Action.DISCARD, app.id or 0)],
    ]
    return out


async def stale(turn: Turn) -> Outcome:
    """A button from an older message (or forged): say so, and show where the user is."""
    app = await turn.active()
    if app is None:
        out = turn.menu(turn.t("engine.stale_menu"))
        out.toast = turn.t("engine.stale_menu")  # there is no current question to show
        return out
    return Outcome(replies=turn.current(app), toast=turn.t("engine.stale"))


async def unsupported(turn: Turn, kind: str) -> Outcome:
    """A sticker, voice, location…: a hint for that kind, then the current question."""
    key = f"engine.unsupported.{kind}"
    text = turn.t(key) if turn.loc.has(key) else turn.t("engine.unsupported.other")
    app = await turn.active()
    if app is None:
        return turn.menu(text)
    return Outcome(replies=[Reply(text=text), *turn.current(app)])
