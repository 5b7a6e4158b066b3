"""The team leader's form: opening a program, answering by text and buttons,
and submitting."""

from __future__ import annotations

from dialogs import announce, deadlines, words
from dialogs.engine import Walker
from dialogs.flows import menus, orgsearch, review, sheets
from dialogs.qtypes import kind
from dialogs.schema import Program
from dialogs.turn import Turn
from dialogs.ui import DB_INT_MAX, Action, ButtonIn, Outcome, Reply
from dialogs.view import ButtonView, Part, View, msg, notice, rows
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
        late = deadlines.notice_for(program, turn.today())
        if late is not None:
            intro.append(notice(late))
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
    return await _on_draft(turn, app, event)


async def _on_draft(turn: Turn, app: Application, event: ButtonIn) -> Outcome:
    """A press on the draft being filled in (its revision already checked)."""
    if event.action is Action.SAVE_EXIT:
        return await menus.leave(turn)
    if event.action is Action.SUBMIT:
        return await confirm_submit(turn, app)
    if event.action is Action.SUBMIT_OK:
        return await submit(turn, app)
    walker = turn.walker(app)
    if event.action is Action.TABLE_TEMPLATE:
        return await sheets.template(turn, app, walker)
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
    """A typed message: a navigation word (see :func:`navigation`), else the answer
    to the current question."""
    app = await turn.active()
    if app is None:
        return turn.menu(turn.t("engine.no_active"))
    said = await navigation(turn, app, typed)
    if said is not None:
        return said
    walker = turn.walker(app)
    if walker.mode == "ask":
        target, _, _ = walker.target()
        if target.type == "org":
            await orgsearch.look_up(turn, turn.program(app), target, walker, typed)
    return await turn.apply(app, walker, walker.on_text(typed))


FREE_TEXT_TYPES = frozenset({"text", "longtext"})
"""Question types whose answer could literally be 完成 or 提交."""


async def navigation(turn: Turn, app: Application, typed: str) -> Outcome | None:
    """Typed 上一步, 跳过, 完成, 保存并退出, 返回预览, 提交 … (``dialogs.words``): the
    button of that name on the screen now, pressed exactly as if tapped (the same
    :func:`button`, with the draft's current revision); None when the text is an answer.

    The screen is the one the walker draws for the draft now, so during a long
    text in progress 完成 finishes the text instead of being appended to it.
    A word whose button is not on this screen is never stored as an answer
    (跳过 on a required question is told it cannot be skipped), except the
    words a real answer could be (完成, 提交, 取消) on a question answered in
    free text (``text``, ``longtext``), which take them as what was written.
    Options of a choice are not navigation: their types read typed options.
    """
    if len(typed) > words.SHORT:
        return None  # an answer: not worth drawing the screen for
    screen = turn.current(app)
    on_screen = [b for reply in screen for row in reply.buttons for b in row]
    hit = words.pressed(typed, on_screen, turn.loc)
    if hit is not None:
        event = ButtonIn(hit.action, hit.arg, app.id or 0, app.revision, hit.key)
        return await button(turn, event)
    action = words.named(typed, turn.loc)
    if action is None:
        return None
    walker = turn.walker(app)
    if action in words.LITERAL and _free_text(walker):
        return None
    said = turn.t(_not_here(walker, action), word=words.shown_word(action, turn.loc))
    return Outcome(replies=[Reply(text=said), *screen])


def _free_text(walker: Walker) -> bool:
    """Whether the screen asks a question answered in free text."""
    if walker.mode != "ask" or (kind(walker.question()).repeats and not walker.in_row()):
        return False
    target, _, _ = walker.target()
    return target.type in FREE_TEXT_TYPES


def _not_here(walker: Walker, action: Action) -> str:
    """Why a navigation word does nothing here (a locale key)."""
    if walker.mode == "ask" and not walker.in_row():
        q = walker.question()
        if action is Action.SKIP and q.required:
            return "words.not_here_skip"
        if action is Action.BACK and walker.neighbour(q.id, -1) is None:
            return "words.not_here_back"
    return "words.not_here"


async def confirm_submit(turn: Turn, app: Application) -> Outcome:
    """提交 pressed: what is missing or which rule forbids it, if anything; else which
    program goes to whom, with 确认提交 and 返回 (only the confirmation submits).
    Nothing changes, so the preview's buttons stay good."""
    program = turn.program(app)
    walker = turn.walker(app)
    if walker.problems() or walker.blocked():
        walker.submit()  # says what is missing, or which rule forbids it
        return await turn.apply(app, walker, walker.step)
    levels = turn.t("engine.sep.chain").join(lv.reviewer for lv in program.review_chain)
    title = msg(
        "preview.confirm.title",
        program=turn.title_of(app),
        form=program.form_title,
        union=program.union,
    )
    lines: list[Part] = [title]
    orgs = await chain.receivers(turn.session, app=app, program=program)
    if orgs is None:
        lines.append(msg("preview.confirm.unplaced", levels=levels))
    else:
        names = turn.t("engine.sep.list").join([await turn.org_name(o) for o in orgs])
        later = program.review_chain[app.review_level + 1 :]
        then = turn.t("engine.sep.chain").join(lv.reviewer for lv in later)
        after = msg("engine.submitted_then", levels=then) if later else ""
        lines.append(msg("preview.confirm.to", organisation=names, then=after))
    lines.append(msg("preview.confirm.frozen"))
    buttons = rows(
        [ButtonView(msg("preview.btn.submit_ok"), Action.SUBMIT_OK)],
        [ButtonView(msg("engine.btn.preview"), Action.PREVIEW)],
    )
    view = View(lines=tuple(lines), buttons=buttons, kind="confirm_submit")
    return Outcome(replies=turn.replies([view], app))


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
