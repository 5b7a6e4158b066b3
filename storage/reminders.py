"""Data access for reminders: who has a draft of which program, which studios were
named, what waits at whose desk.  Read in a few set-wise queries (a day may
plan a hundred thousand reminders), keyword-only, never committing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Application, ApplicationStatus, Membership, Person, ReviewTask, TaskState
from storage.review import subtree

APPS = Application.__table__  # type: ignore[attr-defined]
PERSONS = Person.__table__  # type: ignore[attr-defined]
TASKS = ReviewTask.__table__  # type: ignore[attr-defined]
MEMBERS = Membership.__table__  # type: ignore[attr-defined]


class Holder(NamedTuple):
    """A declaration and its leader, with what a reminder needs of both."""

    application_id: int
    person_id: int
    program_id: str
    revision: int
    unanswered: int
    named_at: dt.datetime | None
    remind_hour: int | None
    mutes: Any


async def holders(
    session: AsyncSession, *, program_ids: Collection[str], statuses: Collection[str]
) -> list[Holder]:
    """Declarations of these programs in these states, with their leaders."""
    if not program_ids:
        return []
    rows = await session.execute(
        sa.select(
            APPS.c.id,
            APPS.c.user_id,
            APPS.c.program_id,
            APPS.c.revision,
            APPS.c.unanswered,
            APPS.c.named_at,
            PERSONS.c.remind_hour,
            PERSONS.c.mutes,
        )
        .join(PERSONS, PERSONS.c.id == APPS.c.user_id)
        .where(APPS.c.program_id.in_(list(program_ids)), APPS.c.status.in_(list(statuses)))
        .order_by(APPS.c.id)
    )
    return [Holder(*row) for row in rows.all()]


def drafting() -> list[str]:
    """The states in which a leader still owes the declaration."""
    return [ApplicationStatus.DRAFT.value, ApplicationStatus.RETURNED.value]


class Waiting(NamedTuple):
    """An open task and one person who may decide it."""

    task_id: int
    application_id: int
    program_id: str
    level: int
    submission_no: int
    opened_at: dt.datetime
    person_id: int
    remind_hour: int | None
    mutes: Any


async def waiting(session: AsyncSession) -> list[Waiting]:
    """Every open task with every person holding a role in its organisation now, the
    declaration's own leader excepted (nobody reviews their own)."""
    rows = await session.execute(
        sa.select(
            TASKS.c.id,
            TASKS.c.application_id,
            APPS.c.program_id,
            TASKS.c.level,
            TASKS.c.submission_no,
            TASKS.c.opened_at,
            MEMBERS.c.person_id,
            PERSONS.c.remind_hour,
            PERSONS.c.mutes,
        )
        .join(APPS, APPS.c.id == TASKS.c.application_id)
        .join(MEMBERS, MEMBERS.c.organisation_id == TASKS.c.organisation_id)
        .join(PERSONS, PERSONS.c.id == MEMBERS.c.person_id)
        .where(
            TASKS.c.state == TaskState.OPEN.value,
            MEMBERS.c.revoked_at.is_(None),
            MEMBERS.c.person_id != APPS.c.user_id,
        )
        .order_by(TASKS.c.opened_at, TASKS.c.id)
    )
    seen: set[tuple[int, int]] = set()
    out = []
    for row in rows.all():
        item = Waiting(*row)
        if (item.task_id, item.person_id) not in seen:  # reviewer and admin: once
            seen.add((item.task_id, item.person_id))
            out.append(item)
    return out


async def leaders_under(session: AsyncSession, *, organisation_id: int) -> list[int]:
    """The leaders of every declaration placed under the organisation or below it
    (submitted ones, named studios), once each: whom an announcement reaches."""
    rows = await session.execute(
        sa.select(APPS.c.user_id)
        .where(
            APPS.c.organisation_id.in_(subtree(organisation_id)),
            APPS.c.status.not_in(
                [ApplicationStatus.DRAFT.value, ApplicationStatus.DISCARDED.value]
            ),
        )
        .distinct()
        .order_by(APPS.c.user_id)
    )
    return [int(r) for r in rows.scalars().all()]
