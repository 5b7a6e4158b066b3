"""The applicant's side of the review: where a declaration stands (each level, its
organisation, the opinion, who and when), reading what was submitted, taking it
back before anyone has decided on it, and discarding a draft."""

from __future__ import annotations

import datetime as dt

from dialogs.engine import Walker
from dialogs.flows import forms, menus, review
from dialogs.render import render
from dialogs.screens import section_page
from dialogs.turn import Turn
from dialogs.ui import Action, Button, ButtonIn, Outcome, Reply, storable
from dialogs.view import Plain, View, msg
from review import chain
from storage import repo, staff
from storage import review as data
from storage.models import Application, ApplicationStatus, Organisation, ReviewTask, TaskState

ACTIONS = frozenset(
    {
        Action.TIMELINE,
        Action.WITHDRAW,
        Action.WITHDRAW_OK,
        Action.READ_OWN,
        Action.DISCARD,
        Action.DISCARD_OK,
    }
)


async def button(turn: Turn, event: ButtonIn) -> Outcome:
    """进度 / 撤回 pressed: only ever on the presser's own declaration."""
    if not storable(event.arg):
        return await menus.stale(turn)
    app = await repo.get_application(turn.session, application_id=event.arg, for_update=True)
    if (
        app is None
        or app.user_id != turn.user.id
        or turn.desk.registry.get(app.program_id) is None
        or app.status == ApplicationStatus.DISCARDED.value
    ):
        return await menus.stale(turn)
    if event.action is Action.TIMELINE:
        return await timeline(turn, app)
    if event.action is Action.READ_OWN:
        return await read(turn, app, event.key)
    if event.action is Action.DISCARD:
        return await discard(turn, app, confirmed=False)
    if event.action is Action.DISCARD_OK:
        if (event.application_id, event.revision) != (app.id, app.revision):
            return await menus.stale(turn)  # the draft changed since the question was asked
        return await discard(turn, app, confirmed=True)
    if event.action is Action.WITHDRAW:
        buttons = [
            [Button(turn.t("review.btn.withdraw_ok"), Action.WITHDRAW_OK, app.id or 0)],
            [Button(turn.t("review.btn.keep"), Action.TIMELINE, app.id or 0)],
        ]
        text = turn.t("review.withdraw.confirm", title=turn.title_of(app))
        return Outcome(replies=[Reply(text=text, buttons=buttons)])
    if not await chain.withdraw(turn.session, app=app, person_id=turn.user.id or 0, now=turn.now):
        out = await timeline(turn, app)
        out.replies.insert(0, Reply(text=turn.t("review.withdraw.too_late")))
        return out
    text = turn.t("review.withdraw.done", title=turn.title_of(app))
    resume = turn.t("engine.btn.resume", program=turn.program(app).button_title)
    buttons = [[Button(resume, Action.RESUME, app.id or 0)]]
    return Outcome(replies=[Reply(text=text, buttons=buttons)])


async def read(turn: Turn, app: Application, section_id: str) -> Outcome:
    """One section of the latest submitted version, read only (as a reviewer reads it:
    every answer whole, photos and files as themselves), with ways to the others."""
    program = turn.program(app)
    version = await data.submission(
        turn.session, application_id=app.id or 0, number=app.submission_no
    )
    if version is None:
        return turn.menu(turn.t("preview.read.none"))
    shown = Walker(program, dict(version.answers), {}, today=turn.today()).shown()
    sections = [s for s in program.sections if shown.get(s.id)]
    if not sections:
        return turn.menu(turn.t("review.read.empty"))
    at = next((i for i, s in enumerate(sections) if s.id == section_id), 0)
    section = sections[at]
    header = msg(
        "preview.read.header",
        title=turn.title_of(app),
        version=version.number,
        submitted=turn.local(version.submitted_at, "%Y-%m-%d"),
        n=at + 1,
        total=len(sections),
    )
    page = section_page(program, section, shown[section.id], version.answers)
    text = render(View(lines=(header, Plain(""), *page)), turn.loc, date_style=program.date_style)
    nav = review.section_nav(turn, Action.READ_OWN, app.id or 0, sections, at)
    buttons = [nav] if nav else []
    buttons.append([forms.own_button(turn, app)])
    buttons.append([Button(turn.t("engine.btn.menu_status"), Action.STATUS)])
    media = await review.media_of(turn, shown[section.id], version.answers)
    return Outcome(replies=[Reply(text=text.text, buttons=buttons, media=media)])


async def discard(turn: Turn, app: Application, *, confirmed: bool) -> Outcome:
    """放弃草稿: asked to confirm first; then the draft is marked discarded (kept for the
    record, no longer shown, resumed or reminded of)."""
    title = turn.title_of(app)
    if not ApplicationStatus(app.status).editable:
        return turn.menu(turn.t("preview.discard.not_draft"))
    if not confirmed:
        count = sum(1 for v in app.answers.values() if v is not None)
        buttons = [
            [Button(turn.t("preview.btn.discard_ok"), Action.DISCARD_OK, app.id or 0)],
            [Button(turn.t("preview.btn.keep_draft"), Action.STATUS)],
        ]
        text = turn.t("preview.discard.confirm", title=title, count=count)
        reply = Reply(text=text, buttons=buttons, application_id=app.id or 0, revision=app.revision)
        return Outcome(replies=[reply])
    await chain.discard(turn.session, app=app, person_id=turn.user.id or 0, now=turn.now)
    if turn.user.active_application_id == app.id:
        turn.user.active_application_id = None
        turn.user.updated_at = turn.now
    return turn.menu(turn.t("preview.discard.done", title=title))


async def timeline(turn: Turn, app: Application) -> Outcome:
    """Everything that happened to the declaration, in the order it happened: each
    version submitted, each level's organisation with what it decided, the opinion,
    who signed and when, what waits now; then the stage it is at."""
    program = turn.program(app)
    tasks = await data.tasks_of(turn.session, application_id=app.id or 0)
    events: list[tuple[dt.datetime, int, str]] = []
    for version in await data.submissions_of(turn.session, application_id=app.id or 0):
        when = turn.local(version.submitted_at, "%Y-%m-%d %H:%M")
        text = turn.t("review.timeline.submitted", when=when, version=version.number)
        events.append((version.submitted_at, 0, text))
    for task in tasks:
        label = program.review_chain[task.level].opinion_label
        at = task.decided_at or task.opened_at
        events.append((at, 1 if task.decided_at else 2, await _line(turn, label, task)))
    events.sort(key=lambda e: (e[0], e[1]))
    lines = [turn.t("review.timeline.title", title=turn.title_of(app))]
    lines += [text for _, _, text in events]
    lines.append(
        turn.t(
            f"review.timeline.now.{app.status}",
            organisation=await _waiting_at(turn, tasks),
            name=app.named_as or "",
        )
    )
    buttons: list[list[Button]] = []
    decided = any(t.state not in (TaskState.OPEN.value, TaskState.CLOSED.value) for t in tasks)
    waiting = app.status in (ApplicationStatus.SUBMITTED.value, ApplicationStatus.IN_REVIEW.value)
    if waiting and not decided:
        buttons.append([Button(turn.t("review.btn.withdraw"), Action.WITHDRAW, app.id or 0)])
    if app.submission_no:
        read = turn.t("preview.btn.read_this")
        buttons.append([Button(read, Action.READ_OWN, app.id or 0), forms.own_button(turn, app)])
    if ApplicationStatus(app.status).editable:
        resume = turn.t("engine.btn.resume", program=program.button_title)
        buttons.append([Button(resume, Action.RESUME, app.id or 0)])
    return Outcome(replies=[Reply(text="\n".join(lines), buttons=buttons)])


async def _waiting_at(turn: Turn, tasks: list[ReviewTask]) -> str:
    orgs = [
        await turn.session.get(Organisation, t.organisation_id)
        for t in tasks
        if t.state == TaskState.OPEN.value
    ]
    return turn.t("engine.sep.list").join([await turn.org_name(o) for o in orgs if o])


async def _line(turn: Turn, level: str, task: ReviewTask) -> str:
    org = await turn.session.get(Organisation, task.organisation_id)
    who = await staff.person(turn.session, person_id=task.decided_by) if task.decided_by else None
    params = {
        "level": level,
        "organisation": await turn.org_name(org),
        "version": task.submission_no,
        "opened": turn.local(task.opened_at, "%Y-%m-%d"),
        "when": turn.local(task.decided_at, "%Y-%m-%d %H:%M") if task.decided_at else "",
        "who": (who.display_name if who is not None else "") or turn.t("staff.unnamed"),
        "opinion": task.opinion or "",
        "state": turn.t(f"review.state.{task.state}"),
        "name": task.approved_name or "",
    }
    key = (
        "review.timeline.open" if task.state == TaskState.OPEN.value else "review.timeline.decided"
    )
    if task.state == TaskState.CLOSED.value:
        key = "review.timeline.closed"
    return turn.t(key, **params)
