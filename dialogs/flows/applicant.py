"""The team leader's form: opening a program, answering by text and buttons,
and submitting."""

from __future__ import annotations

from dialogs import announce
from dialogs.engine import Walker
from dialogs.flows import menus, orgsearch, review
from dialogs.schema import Program
from dialogs.turn import Turn
from dialogs.ui import DB_INT_MAX, Action, ButtonIn, Outcome
from dialogs.view import View, msg, notice
from review import chain
from storage import repo
from storage.models import Application, ApplicationStatus


def _declared_before(turn: Turn, app: Application) -> bool:
    """Whether ``app`` was a declaration of an earlier year that was not named, so that
    the leader may declare for this program again this year."""
    if app.status != ApplicationStatus.REJECTED.value or app.submitted_at is None:
        return False
    return turn.local(app.submitted_at, "%Y") < str(turn.today().year)


async def open_program(turn: Turn, program: Program) -> Outcome:
    """Start or resume the user's application for ``program``."""
    app = await repo.find_open_application(
        turn.session, user_id=turn.user.id or 0, program_id=program.id
    )
    if app is not None and _declared_before(turn, app):
        app = None  # declaring again in a later year: a new draft (offered the old answers)
    if app is not None and not ApplicationStatus(app.status).editable:
        turn.user.active_application_id = None
        return await menus.status(turn)
    intro: list[View] = []
    if app is None:
        app = await repo.create_application(
            turn.session,
            user_id=turn.user.id or 0,
            program_id=program.id,
            program_version=program.version,
            cursor={},
            now=turn.now,
        )
        await turn.recall(app)
        walker = turn.walker(app)
        walker.start()
        total = len(walker.visible())
        intro_msg = msg(
            "engine.intro",
            form=program.form_title,
            union=program.union,
            notice=program.notice,
            total=total,
        )
        intro.append(notice(intro_msg))
    else:
        await turn.carry_over(app)
        await turn.recall(app)
        walker = turn.walker(app)
        if not app.cursor:
            walker.start()
        elif walker.mode == "done":  # returned for revision, or withdrawn: back to the preview
            walker.cur = {"mode": "preview"}
        intro.append(notice(msg("engine.resumed", program=program.button_title)))
    turn.user.active_application_id = app.id
    turn.user.updated_at = turn.now
    walker.step.views.extend(intro)
    walker.show()
    walker.step.changed = True
    return await turn.apply(app, walker, walker.step)


def forged(event: ButtonIn) -> bool:
    """Button data comes back from the client: numbers no column can hold were forged."""
    numbers = (event.arg, event.application_id, event.revision)
    return not all(-DB_INT_MAX <= n <= DB_INT_MAX for n in numbers) or event.application_id < 0


async def button(turn: Turn, event: ButtonIn) -> Outcome:
    """A button press: a menu, a program, a draft to resume, or an act on the form."""
    if forged(event):
        return await menus.stale(turn)
    if event.action is Action.MENU:
        return await menus.program_list(turn)
    if event.action is Action.STATUS:
        return await menus.status(turn)
    if event.action is Action.PICK_PROGRAM:
        picked = turn.desk.registry.get(event.key)
        return await (open_program(turn, picked) if picked else menus.stale(turn))
    if event.action is Action.RESUME:
        return await _resume(turn, event.arg)
    app = await turn.active()
    if app is None or app.id != event.application_id or app.revision != event.revision:
        return await menus.stale(turn)
    if event.action is Action.SAVE_EXIT:
        return await menus.leave(turn)
    if event.action is Action.SUBMIT:
        return await submit(turn, app)
    walker = turn.walker(app)
    if event.action is Action.SUGGEST:
        await _search_suggested(turn, app, walker, event.arg)
    return await turn.apply(app, walker, walker.on_button(event.action, event.arg, event.key))


async def _search_suggested(turn: Turn, app: Application, walker: Walker, arg: int) -> None:
    """An organisation suggested by name (the one of an earlier declaration) is looked
    for as if the name were typed, before the walker takes the press."""
    if walker.mode != "ask" or walker.in_row():
        return
    target, _, _ = walker.target()
    if target.type != "org":
        return
    options = walker.suggestions(target)
    if 0 <= arg < len(options) and options[arg].text:
        await orgsearch.look_up(turn, turn.program(app), target, walker, str(options[arg].text))


async def _resume(turn: Turn, app_id: int) -> Outcome:
    app = await repo.get_application(turn.session, application_id=app_id)
    if app is None or app.user_id != turn.user.id or turn.desk.registry.get(app.program_id) is None:
        return await menus.stale(turn)
    return await open_program(turn, turn.program(app))


async def text(turn: Turn, typed: str) -> Outcome:
    """A typed message: the answer to the current question."""
    app = await turn.active()
    if app is None:
        return turn.menu(turn.t("engine.no_active"))
    walker = turn.walker(app)
    if walker.mode == "ask":
        target, _, _ = walker.target()
        if target.type == "org":
            await orgsearch.look_up(turn, turn.program(app), target, walker, typed)
    return await turn.apply(app, walker, walker.on_text(typed))


async def submit(turn: Turn, app: Application) -> Outcome:
    """Submit if nothing is missing (else say what is): the answers become a version
    of their own, the level that should see it gets it, and the applicant is told
    who decides next."""
    program = turn.program(app)
    walker = turn.walker(app)
    if not walker.submit():
        return await turn.apply(app, walker, walker.step)
    turn.user.active_application_id = None
    # The draft's own state first (cursor, history), then the review side moves it on.
    await turn.apply(app, walker, walker.step)
    moved = await chain.submit(turn.session, app=app, program=program, now=turn.now)
    if moved.outcome == "routed":
        await announce.new_tasks(turn, program, moved)
    else:
        await announce.unplaced(turn, program, app)
    levels = turn.t("engine.sep.chain").join(lv.reviewer for lv in program.review_chain)
    if moved.outcome == "routed":
        orgs = await review.organisations_named(turn, [t.organisation_id for t in moved.opened])
        names = turn.t("engine.sep.list").join([await turn.org_name(o) for o in orgs])
        later = program.review_chain[app.review_level + 1 :]
        then = turn.t("engine.sep.chain").join(lv.reviewer for lv in later)
        text = turn.t(
            "engine.submitted",
            program=turn.title_of(app),
            organisation=names,
            then=turn.t("engine.submitted_then", levels=then) if later else "",
            version=app.submission_no,
        )
    else:
        text = turn.t("engine.submitted_unplaced", program=turn.title_of(app), levels=levels)
    out = turn.menu(text)
    out.replies[0].application_id = app.id or 0
    out.replies[0].revision = app.revision
    return out
