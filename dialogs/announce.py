"""Telling people what the review chain did, through the outbox.

Each move of a declaration (submitted, passed a level, returned, rejected,
named, waiting for a placement) becomes outbox rows in the transaction that
made the move: the reviewers of each newly opened task get the declaration's
card with the decisions, the applicant hears where it stands, and the
administrators of the issuing union hear of a declaration they must place.
Rows are keyed by what caused them, so handling an event twice writes none
twice.  A person without any channel identity (imported staff who never
opened the bot) is skipped, and logged.
"""

from __future__ import annotations

import logging

from dialogs.engine import Walker
from dialogs.qtypes import kind
from dialogs.render import draw
from dialogs.schema import Program, ReviewLevel
from dialogs.screens import answer_lines
from dialogs.turn import Turn
from dialogs.ui import Action, Button
from review.chain import Moved, issuer
from storage import outbox
from storage import review as data
from storage.models import (
    Application,
    Organisation,
    OutboxPriority,
    Person,
    ReviewTask,
    StaffRole,
)

log = logging.getLogger(__name__)

DECIDERS = (StaffRole.REVIEWER.value, StaffRole.ADMIN.value)
CHANGED_CHARS = 300
"""Characters of a changed answer shown on the card (the rest in 查看全文)."""
SHOWN_CHANGES = 12
"""Changed answers named on a resubmitted card; more are counted."""


async def _send(
    turn: Turn,
    person: Person | int,
    *,
    text: str,
    key: str,
    buttons: list[list[Button]] | None = None,
    app: Application | None = None,
    revision: int = 0,
) -> None:
    person_id = person if isinstance(person, int) else person.id or 0
    try:
        await outbox.enqueue(
            turn.session,
            person_id=person_id,
            text=text,
            buttons=buttons or [],
            priority=OutboxPriority.PERSONAL,
            dedupe_key=key,
            now=turn.now,
            application_id=app.id if app is not None else None,
            revision=revision,
        )
    except LookupError:
        log.warning("person %s has no channel to be told of review %s", person_id, key)


# --------------------------------------------------------------------------- the card


def _unit(program: Program, app: Application, turn: Turn) -> str:
    if program.applicant_org is None:
        return ""
    value = app.answers.get(program.applicant_org)
    if value is None:
        return ""
    q = program.question(program.applicant_org)
    return kind(q).format(q, value, loc=turn.loc, date_style=program.date_style)


def _leader(app: Application, applicant: Person | None) -> str:
    name = app.answers.get("leader_name")
    if isinstance(name, str) and name:
        return name
    return applicant.display_name if applicant is not None else ""


async def _joint(turn: Turn, program: Program, task: ReviewTask) -> str:
    """Who decides a joint level together, and what follows when all agree."""
    seats = [
        t
        for t in await data.tasks_of(turn.session, application_id=task.application_id)
        if t.level == task.level and t.submission_no == task.submission_no
    ]
    orgs = [await turn.session.get(Organisation, t.organisation_id) for t in seats]
    parties = turn.t("engine.sep.list").join([await turn.org_name(o) for o in orgs if o])
    last = task.level + 1 == len(program.review_chain)
    return turn.t("review.card.joint_last" if last else "review.card.joint", parties=parties)


def _changed_labels(program: Program, changed: list[str]) -> list[str]:
    labels = []
    for qid in changed:
        try:
            labels.append(program.question(qid).label)
        except KeyError:
            continue
    return labels


async def card_text(
    turn: Turn,
    app: Application,
    task: ReviewTask,
    org: Organisation,
    program: Program,
    *,
    changed: list[str] | None = None,
) -> str:
    """What a reviewer reads first: program, studio, leader, unit, version, the level,
    the days it waited, the eligibility warnings, and what changed since the
    version they returned."""
    applicant = await turn.session.get(Person, app.user_id)
    level = program.review_chain[task.level]
    version = await data.submission(
        turn.session, application_id=app.id or 0, number=task.submission_no
    )
    answers = dict(version.answers) if version is not None else dict(app.answers)
    lines = [
        turn.t("review.card.title", program=program.button_title),
        turn.t("review.card.leader", name=_leader(app, applicant)),
        turn.t("review.card.unit", unit=_unit(program, app, turn) or turn.t("review.card.unnamed")),
        turn.t(
            "review.card.submitted",
            date=turn.local(version.submitted_at if version else app.updated_at, "%Y-%m-%d"),
            version=task.submission_no,
        ),
        turn.t(
            "review.card.level",
            level=level.reviewer,
            label=level.opinion_label,
            organisation=await turn.org_name(org),
            n=task.level + 1,
            total=len(program.review_chain),
        ),
    ]
    studio = turn.title_of(app, bare=True)
    if program.studio_name is not None:  # a program that asks for the studio's name
        lines.insert(1, turn.t("review.card.studio", name=studio or turn.t("review.card.unnamed")))
    if level.joint:
        lines.append(await _joint(turn, program, task))
    if level.panel:
        lines.append(turn.t("review.card.panel"))
    waited = (turn.now - task.opened_at).days
    if waited:
        lines.append(turn.t("review.card.waited", days=waited))
    warnings = Walker(program, answers, {}, today=turn.today()).warnings()
    if warnings:
        lines.append(turn.t("review.card.warnings", count=len(warnings)))
        lines += [turn.t("review.card.warning", message=m) for m, _ in warnings]
    if changed:
        labels = _changed_labels(program, changed)
        shown = turn.t("engine.sep.list").join(labels[:SHOWN_CHANGES])
        more = len(labels) - SHOWN_CHANGES
        lines.append(turn.t("review.card.changed", labels=shown, count=len(labels)))
        if more > 0:
            lines.append(turn.t("review.card.changed_more", count=more))
        lines += _changed_values(turn, program, answers, changed[:SHOWN_CHANGES])
    return "\n".join(lines)


def _changed_values(
    turn: Turn, program: Program, answers: dict[str, object], changed: list[str]
) -> list[str]:
    """The new value of each changed answer, as the preview shows it (a table by its
    rows), each line clipped: the whole is one press away (查看全文)."""
    out = []
    for qid in changed:
        try:
            q = program.question(qid)
        except KeyError:
            continue
        lines = answer_lines(q, answers.get(qid), CHANGED_CHARS)
        out += ["  " + draw(line, turn.loc, program.date_style) for line in lines]
    return out


def decision_buttons(
    turn: Turn, task: ReviewTask, level: ReviewLevel, role: str
) -> list[list[Button]]:
    """查看全文 and the decisions a person in ``role`` may take at this level: on a panel,
    members give opinions and the convener (an administrator) closes."""
    tid = task.id or 0
    read = [Button(turn.t("review.btn.read"), Action.REVIEW_READ, tid)]
    if level.panel and role != StaffRole.ADMIN.value:
        return [
            read,
            [
                Button(turn.t("review.btn.vote_yes"), Action.REVIEW_VOTE_YES, tid),
                Button(turn.t("review.btn.vote_no"), Action.REVIEW_VOTE_NO, tid),
            ],
        ]
    rows = [
        read,
        [
            Button(turn.t("review.btn.approve"), Action.REVIEW_APPROVE, tid),
            Button(turn.t("review.btn.return"), Action.REVIEW_RETURN, tid),
            Button(turn.t("review.btn.reject"), Action.REVIEW_REJECT, tid),
        ],
    ]
    if level.panel:  # the convener sees the members' opinions before closing
        rows.insert(1, [Button(turn.t("review.btn.tally"), Action.REVIEW_SHOW, tid)])
    return rows


# --------------------------------------------------------------------------- moves


async def new_tasks(turn: Turn, program: Program, moved: Moved) -> None:
    """Each reviewer (and administrator) of each opened task gets its card."""
    for task in moved.opened:
        org = await turn.session.get(Organisation, task.organisation_id)
        if org is None:
            continue
        level = program.review_chain[task.level]
        text = await card_text(turn, moved.app, task, org, program, changed=moved.changed)
        people = await data.staff_of(turn.session, organisation_id=org.id or 0, roles=DECIDERS)
        for person in people:
            if person.id == moved.app.user_id:
                continue  # nobody reviews their own declaration
            role = StaffRole.REVIEWER.value  # only a panel's buttons differ by role
            if level.panel:
                held = await data.role_in(
                    turn.session, person_id=person.id or 0, organisation_id=org.id or 0
                )
                role = held or role
            await _send(
                turn,
                person,
                text=turn.t("review.note.new") + "\n" + text,
                key=f"task:{task.id}:new:{person.id}",
                buttons=decision_buttons(turn, task, level, role),
                app=moved.app,
                revision=task.submission_no,
            )
        if not [p for p in people if p.id != moved.app.user_id]:
            await _nobody_decides(turn, program, moved.app, org, task)


async def _nobody_decides(
    turn: Turn, program: Program, app: Application, org: Organisation, task: ReviewTask
) -> None:
    """A level reached an organisation without reviewers: the issuing union's
    administrators are asked to invite one (the declaration waits in its /inbox)."""
    log.warning("organisation %s has no reviewer for task %s", org.code, task.id)
    union = await issuer(turn.session, program)
    admins = (
        await data.staff_of(
            turn.session, organisation_id=union.id or 0, roles=(StaffRole.ADMIN.value,)
        )
        if union is not None
        else []
    )
    text = turn.t(
        "review.note.no_reviewer",
        title=turn.title_of(app),
        organisation=await turn.org_name(org),
        code=org.code,
    )
    for admin in admins:
        await _send(turn, admin, text=text, key=f"task:{task.id}:nobody:{admin.id}")


async def unplaced(turn: Turn, program: Program, app: Application) -> None:
    """The issuing union's administrators hear of a declaration they must place."""
    union = await issuer(turn.session, program)
    if union is None:
        log.warning("declaration %s waits for a placement, and its program has no issuer", app.id)
        return
    admins = await data.staff_of(
        turn.session, organisation_id=union.id or 0, roles=(StaffRole.ADMIN.value,)
    )
    level = program.review_chain[app.review_level]
    text = turn.t(
        "review.note.unplaced",
        title=turn.title_of(app),
        unit=_unit(program, app, turn) or turn.t("review.card.unnamed"),
        level=level.reviewer,
    )
    for admin in admins:
        await _send(
            turn,
            admin,
            text=text,
            key=f"app:{app.id}:place:{app.revision}:{admin.id}",
            buttons=[[Button(turn.t("review.btn.place"), Action.PLACE, app.id or 0)]],
            app=app,
            revision=app.revision,
        )
    if not admins:
        log.warning(
            "declaration %s waits for a placement; %s has no administrator", app.id, union.code
        )


async def moved(turn: Turn, program: Program, moved: Moved, *, decided: ReviewTask | None) -> None:
    """Announce a move caused by a reviewer: the next level, and the applicant."""
    app = moved.app
    if moved.outcome == "voted":
        return
    if moved.outcome == "routed":
        await new_tasks(turn, program, moved)
    if moved.outcome == "unplaced":
        await unplaced(turn, program, app)
    await tell_applicant(turn, program, moved, decided=decided)


async def tell_applicant(
    turn: Turn, program: Program, moved: Moved, *, decided: ReviewTask | None
) -> None:
    """Where the declaration stands now, in the applicant's chat."""
    app = moved.app
    params: dict[str, object] = {"title": turn.title_of(app)}
    buttons: list[list[Button]] = [
        [Button(turn.t("review.btn.timeline"), Action.TIMELINE, app.id or 0)]
    ]
    if decided is not None:
        org = await turn.session.get(Organisation, decided.organisation_id)
        level = program.review_chain[decided.level]
        params |= {
            "level": level.reviewer,
            "organisation": await turn.org_name(org),
            "opinion": decided.opinion or "",
        }
    if moved.outcome == "routed":
        orgs = [await turn.session.get(Organisation, t.organisation_id) for t in moved.opened]
        params["next"] = turn.t("engine.sep.list").join([await turn.org_name(o) for o in orgs])
        params["next_level"] = program.review_chain[app.review_level].reviewer
    if moved.outcome == "returned":
        buttons.insert(0, [Button(turn.t("review.btn.revise"), Action.RESUME, app.id or 0)])
    if moved.outcome == "named":  # the final form, every level's opinion in its box
        buttons.append([Button(turn.t("documents.btn.final"), Action.FORM_OWN, app.id or 0)])
        params["name"] = app.named_as or ""
        naming = program.naming
        params["naming"] = (
            turn.t("review.note.naming", by=naming.by, plaque=naming.plaque or "") if naming else ""
        )
    key = "review.note.applicant." + moved.outcome + ("" if decided is not None else "_first")
    if not turn.loc.has(key):
        key = "review.note.applicant." + moved.outcome
    await _send(
        turn,
        app.user_id,
        text=turn.t(key, **params),
        key=f"app:{app.id}:{moved.outcome}:{app.revision}",
        buttons=buttons,
        app=app,
        revision=app.revision,
    )
