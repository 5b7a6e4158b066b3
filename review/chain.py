"""The review chain's state machine: a submitted declaration climbs its program's
levels, each decided by the organisation the definition names relative to the
applicant's organisation.

Every function takes the caller's session and never commits: a decision, the
next level's tasks and the audit row are one transaction with the outbox rows
the caller writes to announce them (``dialogs.flows.review``).  The rules that
make a press trustworthy live here, not in the buttons: the presser's role in
the task's organisation now, the task still open, the version they read still
the current one, nobody deciding on their own declaration.

States: ``draft`` → (submit) ``in_review`` at level 0, or ``submitted`` while
no organisation can be worked out (an administrator of the issuing union
places it) → each level approves (a joint level when every seat approved) →
the last level's approval names the studio (``approved``).  A return sends
it back (``returned``, editable) and its resubmission goes to the level that
returned it; a rejection is final; a withdrawal before any decision makes it
a draft again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from review.audit import AuditAct, record
from storage import outbox, repo, staff
from storage import review as data
from storage.models import (
    Application,
    ApplicationStatus,
    Organisation,
    OrganisationKind,
    Person,
    ReviewTask,
    StaffRole,
    TaskState,
)

DECIDING_ROLES = (StaffRole.REVIEWER.value, StaffRole.ADMIN.value)


# What this module reads of a program definition (``dialogs.schema``), as protocols:
# the chain runs on any object shaped so, and the review side needs nothing else of
# the dialogs.


class Acts(Protocol):
    """Who acts: exactly one of the three is set."""

    @property
    def nearest(self) -> Sequence[str] | None: ...
    @property
    def body(self) -> str | None: ...
    @property
    def org(self) -> str | None: ...


class ReviewLevel(Protocol):
    """One level of a chain."""

    @property
    def id(self) -> str: ...
    @property
    def acts(self) -> Acts | None: ...
    @property
    def joint(self) -> Sequence[Acts]: ...
    @property
    def panel(self) -> bool: ...


class Program(Protocol):
    """A program, as far as its chain goes."""

    @property
    def issuer(self) -> str | None: ...
    @property
    def applicant_org(self) -> str | None: ...
    @property
    def review_chain(self) -> Sequence[ReviewLevel]: ...


class Act(StrEnum):
    """What a reviewer decides (the values travel in a person's pending input)."""

    APPROVE = "approve"
    RETURN = "return"
    REJECT = "reject"


TASK_STATE = {
    Act.APPROVE: TaskState.APPROVED,
    Act.RETURN: TaskState.RETURNED,
    Act.REJECT: TaskState.REJECTED,
}
AUDIT_ACT = {
    Act.APPROVE: AuditAct.APPROVED,
    Act.RETURN: AuditAct.RETURNED,
    Act.REJECT: AuditAct.REJECTED,
}


class Verdict(StrEnum):
    """Whether an act was carried out, and if not, why."""

    DONE = "done"
    GONE = "gone"  # no such task (or declaration)
    FORBIDDEN = "forbidden"  # no role in the task's organisation now
    OWN = "own"  # the presser's own declaration
    TAKEN = "taken"  # someone decided first
    STALE = "stale"  # a newer version was submitted, or the level moved on
    CONVENER = "convener"  # a panel level is closed by its convener (an administrator)


@dataclass
class Moved:
    """What an act changed, for the caller to announce."""

    app: Application
    outcome: str
    """``routed`` (a level's tasks opened), ``unplaced`` (waits for an administrator),
    ``waiting`` (a joint level waits for another seat), ``named``, ``returned``,
    ``rejected``, ``withdrawn``, ``voted``."""
    opened: list[ReviewTask] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    """Answers that differ from the previous version (a resubmission)."""


@dataclass
class Decision:
    """The answer to a reviewer's act."""

    verdict: Verdict
    task: ReviewTask | None = None
    moved: Moved | None = None
    decided_by: Person | None = None
    """Who decided first, when the verdict is ``TAKEN``."""


# --------------------------------------------------------------------------- resolving


def content_hash(answers: dict[str, Any]) -> str:
    """The SHA-256 of a version's answers in canonical JSON (attachments are stored
    answers by their ids, whose rows keep the files' own hashes and never change)."""
    canonical = json.dumps(answers, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def issuer(session: AsyncSession, program: Program) -> Organisation | None:
    """The program's issuing union, if the organisation file has it."""
    if program.issuer is None:
        return None
    return await staff.organisation(session, code=program.issuer)


async def _acting(
    session: AsyncSession, acts: Acts | None, program: Program, org_id: int | None
) -> Organisation | None:
    if acts is None:
        return await issuer(session, program)
    if acts.org is not None:
        return await staff.organisation(session, code=acts.org)
    if org_id is None:
        return None
    line = await data.lineage(session, organisation_id=org_id)
    if acts.nearest is not None:
        return next((o for o in line if o.kind in acts.nearest), None)
    unit = next((o for o in line if o.kind == OrganisationKind.UNIT.value), None)
    if unit is None or unit.id is None:
        return None
    bodies = await data.children(session, parent_id=unit.id, kind=OrganisationKind.DEPARTMENT.value)
    return next((b for b in bodies if b.name == acts.body), None)


async def resolve(
    session: AsyncSession, program: Program, level: ReviewLevel, org_id: int | None
) -> list[Organisation] | None:
    """The organisations deciding ``level`` for an applicant of ``org_id`` (one, or one
    per seat of a joint level); None when one of them cannot be found."""
    found = []
    for acts in [level.acts, *level.joint]:
        org = await _acting(session, acts, program, org_id)
        if org is None:
            return None
        found.append(org)
    return found


# --------------------------------------------------------------------------- moving


def _bump(app: Application, status: ApplicationStatus, now: dt.datetime) -> None:
    """A new stage: the revision moves, so buttons shown for the old one are stale."""
    app.status = status.value
    app.revision += 1
    app.updated_at = now


async def route(
    session: AsyncSession, *, app: Application, program: Program, level: int, now: dt.datetime
) -> Moved:
    """Open ``level``'s tasks for the latest version, or leave the declaration waiting
    for an administrator when its organisation or a deciding body is unknown."""
    app.review_level = level
    orgs = await resolve(session, program, program.review_chain[level], app.organisation_id)
    if orgs is None:
        _bump(app, ApplicationStatus.SUBMITTED, now)
        return Moved(app, "unplaced")
    opened = [
        data.open_task(
            session,
            application_id=app.id or 0,
            submission_no=app.submission_no,
            level=level,
            level_id=program.review_chain[level].id,
            seat=seat,
            organisation_id=org.id or 0,
            now=now,
        )
        for seat, org in enumerate(orgs)
    ]
    _bump(app, ApplicationStatus.IN_REVIEW, now)
    await session.flush()
    return Moved(app, "routed", opened)


async def submit(
    session: AsyncSession, *, app: Application, program: Program, now: dt.datetime
) -> Moved:
    """Freeze the answers as a new version and send it to the level that should see it:
    the first, or the one that returned it."""
    previous = await data.submission(session, application_id=app.id or 0, number=app.submission_no)
    app.submission_no += 1
    answers = dict(app.answers)
    sha = content_hash(answers)
    data.add_submission(
        session,
        application_id=app.id or 0,
        number=app.submission_no,
        sha256=sha,
        answers=answers,
        now=now,
    )
    app.submitted_at = now
    if program.applicant_org is not None:
        app.organisation_id = await _placed_org(session, answers.get(program.applicant_org))
    record(
        session,
        act=AuditAct.SUBMITTED,
        now=now,
        person_id=app.user_id,
        application_id=app.id,
        version_sha256=sha,
        detail={"version": app.submission_no, "level": app.review_level},
    )
    # Deadline reminders already planned for the draft would now say what is no longer so.
    await outbox.drop_planned(
        session, application_id=app.id or 0, key_prefix="rem:d:", now=now, why="submitted"
    )
    moved = await route(session, app=app, program=program, level=app.review_level, now=now)
    if previous is not None:
        moved.changed = sorted(
            k
            for k in set(answers) | set(previous.answers)
            if answers.get(k) != previous.answers.get(k)
        )
    return moved


async def _placed_org(session: AsyncSession, answer: Any) -> int | None:
    code = answer.get("code") if isinstance(answer, dict) else None
    if not isinstance(code, str):
        return None
    org = await staff.organisation(session, code=code)
    return org.id if org is not None else None


async def place(
    session: AsyncSession,
    *,
    app: Application,
    program: Program,
    org: Organisation,
    person_id: int,
    now: dt.datetime,
) -> Moved | None:
    """An administrator of the issuing union puts a waiting declaration under ``org``;
    None (nothing changed) if the chain still cannot be worked out from there."""
    level = program.review_chain[app.review_level]
    if await resolve(session, program, level, org.id) is None:
        return None
    app.organisation_id = org.id
    record(
        session,
        act=AuditAct.PLACED,
        now=now,
        person_id=person_id,
        organisation_id=org.id,
        role=StaffRole.ADMIN.value,
        application_id=app.id,
        detail={"organisation": org.code},
    )
    return await route(session, app=app, program=program, level=app.review_level, now=now)


async def withdraw(
    session: AsyncSession, *, app: Application, person_id: int, now: dt.datetime
) -> bool:
    """The applicant takes back a declaration no level has decided on yet; it becomes
    a draft again, every answer kept.  False (nothing changed) otherwise."""
    if app.user_id != person_id or app.status not in (
        ApplicationStatus.SUBMITTED.value,
        ApplicationStatus.IN_REVIEW.value,
    ):
        return False
    tasks = await data.tasks_of(session, application_id=app.id or 0)
    if any(t.state not in (TaskState.OPEN.value, TaskState.CLOSED.value) for t in tasks):
        return False
    await data.close_open_tasks(session, application_id=app.id or 0, now=now)
    app.review_level = 0
    _bump(app, ApplicationStatus.DRAFT, now)
    record(
        session,
        act=AuditAct.WITHDRAWN,
        now=now,
        person_id=person_id,
        application_id=app.id,
        detail={"version": app.submission_no},
    )
    return True


# --------------------------------------------------------------------------- deciding


@dataclass
class Checked:
    """A task a person may act on now, with what the act needs."""

    task: ReviewTask
    app: Application
    role: str


async def discard(
    session: AsyncSession, *, app: Application, person_id: int, now: dt.datetime
) -> bool:
    """The applicant gives up a draft (or a declaration returned to them): its row and
    answers stay, marked discarded, for the record of what was submitted or decided
    on it; it is no longer shown nor reminded of.  False (nothing changed) if it is
    not theirs or no longer editable."""
    if app.user_id != person_id or not ApplicationStatus(app.status).editable:
        return False
    _bump(app, ApplicationStatus.DISCARDED, now)
    record(
        session,
        act=AuditAct.DISCARDED,
        now=now,
        person_id=person_id,
        application_id=app.id,
        detail={"version": app.submission_no, "answers": len(app.answers)},
    )
    await outbox.drop_planned(
        session, application_id=app.id or 0, key_prefix="rem:", now=now, why="discarded"
    )
    return True


async def receivers(
    session: AsyncSession, *, app: Application, program: Program
) -> list[Organisation] | None:
    """Who a submission now would go to (the level it would be routed to), without
    changing anything; None when that cannot be worked out (it would wait to be placed)."""
    org_id = app.organisation_id
    if program.applicant_org is not None:
        org_id = await _placed_org(session, app.answers.get(program.applicant_org))
    return await resolve(session, program, program.review_chain[app.review_level], org_id)


async def check(
    session: AsyncSession, *, task_id: int, person_id: int, submission_no: int
) -> Checked | Decision:
    """Everything a press must satisfy, read from the database now."""
    task = await data.task(session, task_id=task_id)
    if task is None:
        return Decision(Verdict.GONE)
    app = await repo.get_application(
        session, application_id=task.application_id, for_update=True, fresh=True
    )
    if app is None:
        return Decision(Verdict.GONE)
    role = await data.role_in(session, person_id=person_id, organisation_id=task.organisation_id)
    if role is None:
        return Decision(Verdict.FORBIDDEN, task)
    if app.user_id == person_id:
        return Decision(Verdict.OWN, task)
    if task.state != TaskState.OPEN.value:
        by = await staff.person(session, person_id=task.decided_by) if task.decided_by else None
        return Decision(Verdict.TAKEN if by else Verdict.STALE, task, decided_by=by)
    if task.submission_no != submission_no or app.submission_no != submission_no:
        return Decision(Verdict.STALE, task)
    return Checked(task, app, role)


async def decide(
    session: AsyncSession,
    *,
    program: Program,
    task_id: int,
    person_id: int,
    act: Act,
    opinion: str,
    submission_no: int,
    now: dt.datetime,
    approved_name: str | None = None,
) -> Decision:
    """Carry out a reviewer's decision on a task, re-checking everything first."""
    found = await check(session, task_id=task_id, person_id=person_id, submission_no=submission_no)
    if isinstance(found, Decision):
        return found
    task, app = found.task, found.app
    level = program.review_chain[task.level]
    if level.panel and found.role != StaffRole.ADMIN.value:
        return Decision(Verdict.CONVENER, task)
    closed = await data.close_task(
        session,
        task_id=task.id or 0,
        state=TASK_STATE[act],
        now=now,
        person_id=person_id,
        role=found.role,
        opinion=opinion,
        approved_name=approved_name,
    )
    if not closed:  # another reviewer's update committed in between
        fresh = await data.task(session, task_id=task.id or 0)
        by = (
            await staff.person(session, person_id=fresh.decided_by)
            if fresh and fresh.decided_by
            else None
        )
        return Decision(Verdict.TAKEN, fresh, decided_by=by)
    sha = await _version_sha(session, app)
    record(
        session,
        act=AUDIT_ACT[act],
        now=now,
        person_id=person_id,
        organisation_id=task.organisation_id,
        role=found.role,
        application_id=app.id,
        opinion=opinion,
        version_sha256=sha,
        detail={"level": level.id, "seat": task.seat, "version": task.submission_no}
        | ({"approved_name": approved_name} if approved_name else {}),
    )
    fresh_task = await data.task(session, task_id=task.id or 0)
    moved = await _after(
        session, program=program, app=app, task=task, act=act, now=now, name=approved_name
    )
    return Decision(Verdict.DONE, fresh_task, moved)


async def _version_sha(session: AsyncSession, app: Application) -> str | None:
    version = await data.submission(session, application_id=app.id or 0, number=app.submission_no)
    return version.sha256 if version is not None else None


async def _after(
    session: AsyncSession,
    *,
    program: Program,
    app: Application,
    task: ReviewTask,
    act: Act,
    now: dt.datetime,
    name: str | None,
) -> Moved:
    """Where a decision takes the declaration."""
    if act is not Act.APPROVE:
        await data.close_open_tasks(session, application_id=app.id or 0, now=now)
        status = ApplicationStatus.RETURNED if act is Act.RETURN else ApplicationStatus.REJECTED
        app.review_level = task.level
        _bump(app, status, now)
        return Moved(app, status.value if act is Act.REJECT else "returned")
    siblings = await data.tasks_of(session, application_id=app.id or 0)
    waiting = [
        t
        for t in siblings
        if t.level == task.level
        and t.submission_no == task.submission_no
        and t.state == TaskState.OPEN.value
    ]
    if waiting:
        app.updated_at = now
        return Moved(app, "waiting")
    if task.level + 1 < len(program.review_chain):
        return await route(session, app=app, program=program, level=task.level + 1, now=now)
    lead = next(
        (
            t
            for t in siblings
            if t.level == task.level and t.seat == 0 and t.submission_no == task.submission_no
        ),
        None,
    )
    app.named_as = name or (lead.approved_name if lead is not None else None) or app.named_as
    app.named_at = now
    _bump(app, ApplicationStatus.APPROVED, now)
    record(
        session,
        act=AuditAct.NAMED,
        now=now,
        person_id=None,
        organisation_id=task.organisation_id,
        application_id=app.id,
        detail={"name": app.named_as or ""},
    )
    return Moved(app, "named")


async def vote(
    session: AsyncSession,
    *,
    program: Program,
    task_id: int,
    person_id: int,
    agree: bool,
    opinion: str,
    submission_no: int,
    now: dt.datetime,
) -> Decision:
    """A panel member's opinion on a panel level's task (the convener closes it)."""
    found = await check(session, task_id=task_id, person_id=person_id, submission_no=submission_no)
    if isinstance(found, Decision):
        return found
    if not program.review_chain[found.task.level].panel:
        return Decision(Verdict.STALE, found.task)
    await data.put_panel_opinion(
        session, task_id=task_id, person_id=person_id, agree=agree, opinion=opinion, now=now
    )
    record(
        session,
        act=AuditAct.PANEL_OPINION,
        now=now,
        person_id=person_id,
        organisation_id=found.task.organisation_id,
        role=found.role,
        application_id=found.app.id,
        opinion=opinion,
        version_sha256=await _version_sha(session, found.app),
        detail={"agree": agree, "level": found.task.level_id},
    )
    return Decision(Verdict.DONE, found.task, Moved(found.app, "voted"))
