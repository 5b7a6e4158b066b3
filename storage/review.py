"""Data access for the review chain: organisations found by name or by place in the
tree, submitted versions, review tasks, panel opinions and the reviewer's inbox.

Keyword-only functions that take a session and never commit: the caller owns
the transaction, so a decision, the next level's tasks, the outbox rows that
announce them and the audit row land together or not at all.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.models import (
    Application,
    Membership,
    Organisation,
    PanelOpinion,
    Person,
    ReviewTask,
    Submission,
    TaskState,
)

TREE_DEPTH = 16
"""Deeper than any union's tree; a walk up that goes further has met a cycle."""


# --------------------------------------------------------------------------- organisations


async def lineage(session: AsyncSession, *, organisation_id: int) -> list[Organisation]:
    """The organisation and its ancestors, nearest first, in one query."""
    org = Organisation.__table__  # type: ignore[attr-defined]
    up = (
        sa.select(org.c.id, org.c.parent_id, sa.literal(0).label("depth"))
        .where(org.c.id == organisation_id)
        .cte("lineage", recursive=True)
    )
    up = up.union_all(
        sa.select(org.c.id, org.c.parent_id, (up.c.depth + 1).label("depth"))
        .join(up, org.c.id == up.c.parent_id)
        .where(up.c.depth < TREE_DEPTH)
    )
    result = await session.execute(
        select(Organisation).join(up, up.c.id == col(Organisation.id)).order_by(up.c.depth)
    )
    return list(result.scalars().all())


async def children(session: AsyncSession, *, parent_id: int, kind: str) -> list[Organisation]:
    """The organisations of ``kind`` directly under ``parent_id``, in the order added."""
    result = await session.execute(
        select(Organisation)
        .where(Organisation.parent_id == parent_id, Organisation.kind == kind)
        .order_by(col(Organisation.id))
    )
    return list(result.scalars().all())


def subtree(root_id: int) -> sa.Select[tuple[int]]:
    """The ids of an organisation and everything under it (a recursive query)."""
    org = Organisation.__table__  # type: ignore[attr-defined]
    tree = sa.select(org.c.id).where(org.c.id == root_id).cte("subtree", recursive=True)
    tree = tree.union_all(sa.select(org.c.id).where(org.c.parent_id == tree.c.id))
    return sa.select(tree.c.id)


class Found(NamedTuple):
    """Organisations matching a search, the first ``limit`` of ``total``."""

    orgs: list[Organisation]
    total: int


async def search(
    session: AsyncSession,
    *,
    words: list[str],
    kinds: list[str],
    under_id: int | None,
    limit: int,
) -> Found:
    """Organisations of ``kinds`` whose name holds every word, within the subtree of
    ``under_id`` (anywhere when None); the shortest names first, since the
    shortest match of what was typed is most often the one meant."""
    org = Organisation.__table__  # type: ignore[attr-defined]
    cond = [org.c.kind.in_(kinds)]
    for word in words:
        cond.append(org.c.name.contains(word, autoescape=True))
    if under_id is not None:
        cond.append(org.c.id.in_(subtree(under_id)))
    where = sa.and_(*cond)
    total = (await session.execute(sa.select(sa.func.count()).where(where))).scalar_one()
    rows = await session.execute(
        select(Organisation)
        .where(where)
        .order_by(sa.func.length(org.c.name), org.c.id)
        .limit(limit)
    )
    return Found(list(rows.scalars().all()), int(total))


async def staff_of(
    session: AsyncSession, *, organisation_id: int, roles: tuple[str, ...]
) -> list[Person]:
    """The people holding one of ``roles`` in the organisation now, once each."""
    result = await session.execute(
        select(Person)
        .join(Membership, col(Membership.person_id) == col(Person.id))
        .where(
            Membership.organisation_id == organisation_id,
            col(Membership.role).in_(roles),
            col(Membership.revoked_at).is_(None),
        )
        .order_by(col(Person.id))
        .distinct()
    )
    return list(result.scalars().all())


async def role_in(session: AsyncSession, *, person_id: int, organisation_id: int) -> str | None:
    """The strongest role the person holds in the organisation now (admin, reviewer)."""
    result = await session.execute(
        select(Membership.role).where(
            Membership.person_id == person_id,
            Membership.organisation_id == organisation_id,
            col(Membership.revoked_at).is_(None),
        )
    )
    roles = set(result.scalars().all())
    for role in ("admin", "reviewer"):
        if role in roles:
            return role
    return None


# --------------------------------------------------------------------------- submissions


def add_submission(
    session: AsyncSession,
    *,
    application_id: int,
    number: int,
    sha256: str,
    answers: dict[str, object],
    now: dt.datetime,
) -> Submission:
    """A new, never-changed version of the declaration."""
    row = Submission(
        application_id=application_id,
        number=number,
        sha256=sha256,
        answers=answers,
        submitted_at=now,
    )
    session.add(row)
    return row


async def submission(
    session: AsyncSession, *, application_id: int, number: int
) -> Submission | None:
    """One submitted version."""
    result = await session.execute(
        select(Submission).where(
            Submission.application_id == application_id, Submission.number == number
        )
    )
    return result.scalar_one_or_none()


async def submissions_of(session: AsyncSession, *, application_id: int) -> list[Submission]:
    """Every submitted version of a declaration, the first first."""
    result = await session.execute(
        select(Submission)
        .where(Submission.application_id == application_id)
        .order_by(col(Submission.number))
    )
    return list(result.scalars().all())


# --------------------------------------------------------------------------- tasks


def open_task(
    session: AsyncSession,
    *,
    application_id: int,
    submission_no: int,
    level: int,
    level_id: str,
    seat: int,
    organisation_id: int,
    now: dt.datetime,
) -> ReviewTask:
    """An organisation's turn to decide at a level."""
    task = ReviewTask(
        application_id=application_id,
        submission_no=submission_no,
        level=level,
        level_id=level_id,
        seat=seat,
        organisation_id=organisation_id,
        opened_at=now,
    )
    session.add(task)
    return task


async def task(session: AsyncSession, *, task_id: int) -> ReviewTask | None:
    """One task as stored now (not a copy the session read earlier)."""
    result = await session.execute(
        select(ReviewTask).where(ReviewTask.id == task_id).execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def tasks_of(session: AsyncSession, *, application_id: int) -> list[ReviewTask]:
    """Every task of a declaration, in the order they were opened."""
    result = await session.execute(
        select(ReviewTask)
        .where(ReviewTask.application_id == application_id)
        .order_by(col(ReviewTask.id))
        .execution_options(populate_existing=True)
    )
    return list(result.scalars().all())


async def close_task(
    session: AsyncSession,
    *,
    task_id: int,
    state: TaskState,
    now: dt.datetime,
    person_id: int | None = None,
    role: str | None = None,
    opinion: str | None = None,
    approved_name: str | None = None,
) -> bool:
    """Decide (or close) a task if it is still open: False when someone else did first.

    One conditional UPDATE, so of two reviewers pressing at once exactly one
    changes the row, on SQLite and PostgreSQL alike."""
    table = ReviewTask.__table__  # type: ignore[attr-defined]
    result = await session.execute(
        sa.update(table)
        .where(table.c.id == task_id, table.c.state == TaskState.OPEN.value)
        .values(
            state=state.value,
            decided_at=now,
            decided_by=person_id,
            decided_role=role,
            opinion=opinion,
            approved_name=approved_name,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def close_open_tasks(session: AsyncSession, *, application_id: int, now: dt.datetime) -> int:
    """Close every task of the declaration still open (withdrawn, returned, rejected)."""
    table = ReviewTask.__table__  # type: ignore[attr-defined]
    result = await session.execute(
        sa.update(table)
        .where(table.c.application_id == application_id, table.c.state == TaskState.OPEN.value)
        .values(state=TaskState.CLOSED.value, decided_at=now)
    )
    return int(getattr(result, "rowcount", 0))


class InboxItem(NamedTuple):
    """An open task the person may decide, with its declaration and organisation."""

    task: ReviewTask
    application: Application
    organisation: Organisation
    applicant: Person


async def inbox(session: AsyncSession, *, person_id: int, limit: int = 50) -> list[InboxItem]:
    """Open tasks at the organisations where the person holds a role, oldest first."""
    mine = sa.select(Membership.organisation_id).where(  # type: ignore[call-overload]
        Membership.person_id == person_id, col(Membership.revoked_at).is_(None)
    )
    # The oldest ids first (the index on organisation, state and age answers it), then
    # only those joined to their declarations: a city union's reviewer may have ten
    # thousand waiting, whose answers are not to be read to show twenty.
    table = ReviewTask.__table__  # type: ignore[attr-defined]
    first = (
        sa.select(table.c.id)
        .where(table.c.organisation_id.in_(mine), table.c.state == TaskState.OPEN.value)
        .order_by(table.c.opened_at, table.c.id)
        .limit(limit)
        .subquery()
    )
    result = await session.execute(
        select(ReviewTask, Application, Organisation, Person)
        .join(first, first.c.id == col(ReviewTask.id))
        .join(Application, col(Application.id) == col(ReviewTask.application_id))
        .join(Organisation, col(Organisation.id) == col(ReviewTask.organisation_id))
        .join(Person, col(Person.id) == col(Application.user_id))
        .order_by(col(ReviewTask.opened_at), col(ReviewTask.id))
    )
    return [InboxItem(t, a, o, p) for t, a, o, p in result.all()]


async def count_inbox(session: AsyncSession, *, person_id: int) -> int:
    """How many open tasks wait at the person's organisations."""
    mine = sa.select(Membership.organisation_id).where(  # type: ignore[call-overload]
        Membership.person_id == person_id, col(Membership.revoked_at).is_(None)
    )
    table = ReviewTask.__table__  # type: ignore[attr-defined]
    result = await session.execute(
        sa.select(sa.func.count()).where(
            table.c.organisation_id.in_(mine), table.c.state == TaskState.OPEN.value
        )
    )
    return int(result.scalar_one())


# --------------------------------------------------------------------------- panels


async def panel_opinions(
    session: AsyncSession, *, task_id: int
) -> list[tuple[PanelOpinion, Person]]:
    """The members' opinions on a panel task, in the order given."""
    result = await session.execute(
        select(PanelOpinion, Person)
        .join(Person, col(Person.id) == col(PanelOpinion.person_id))
        .where(PanelOpinion.task_id == task_id)
        .order_by(col(PanelOpinion.id))
    )
    return [(o, p) for o, p in result.all()]


async def put_panel_opinion(
    session: AsyncSession,
    *,
    task_id: int,
    person_id: int,
    agree: bool,
    opinion: str,
    now: dt.datetime,
) -> PanelOpinion:
    """A member's opinion, replacing their earlier one on the same task."""
    result = await session.execute(
        select(PanelOpinion).where(
            PanelOpinion.task_id == task_id, PanelOpinion.person_id == person_id
        )
    )
    row = result.scalar_one_or_none()
    if row is None:
        row = PanelOpinion(
            task_id=task_id, person_id=person_id, agree=agree, opinion=opinion, at=now
        )
        session.add(row)
    else:
        row.agree, row.opinion, row.at = agree, opinion, now
    return row
