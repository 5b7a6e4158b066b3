"""Data access for workbooks of declarations: the submitted declarations of one
program, read a batch at a time.

Keyword-only functions that take a session and never commit.  A batch is read
as plain rows (no ORM objects held by the session) and the next one starts
after the last id seen, so an export of ten thousand declarations holds one
batch in memory, never the whole program.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Application,
    ApplicationStatus,
    Organisation,
    ReviewTask,
    Submission,
    TaskState,
)
from storage.review import subtree

EXPORTED = (
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.IN_REVIEW,
    ApplicationStatus.RETURNED,
    ApplicationStatus.APPROVED,
    ApplicationStatus.REJECTED,
)
"""Statuses of declarations that were submitted: drafts (and drafts given up) are the
applicant's own and never leave in a workbook."""

EXPORTED_VALUES: tuple[str, ...] = tuple(status.value for status in EXPORTED)

BATCH = 500
"""Declarations read at once."""

DECIDED = (TaskState.APPROVED.value, TaskState.RETURNED.value, TaskState.REJECTED.value)

ENDED = frozenset(
    {ApplicationStatus.APPROVED, ApplicationStatus.RETURNED, ApplicationStatus.REJECTED}
)
"""Statuses a decision put the declaration in (a level passed on the way decides nothing
the workbook dates)."""


class Declared(NamedTuple):
    """One submitted declaration as a workbook shows it: its latest submitted version."""

    id: int
    status: str
    review_level: int
    organisation: str | None
    named_as: str | None
    answers: dict[str, Any]
    submitted_at: dt.datetime | None
    decided_at: dt.datetime | None
    """When it was named, returned or rejected (None while it is being reviewed)."""


def _statement(
    program_id: str, under: int | None, statuses: Sequence[str], after: int, limit: int
) -> sa.Select[Any]:
    app = Application.__table__  # type: ignore[attr-defined]
    sub = Submission.__table__  # type: ignore[attr-defined]
    org = Organisation.__table__  # type: ignore[attr-defined]
    task = ReviewTask.__table__  # type: ignore[attr-defined]
    decided = (
        sa.select(sa.func.max(task.c.decided_at))
        .where(task.c.application_id == app.c.id, task.c.state.in_(DECIDED))
        .scalar_subquery()
    )
    stmt = (
        sa.select(
            app.c.id,
            app.c.status,
            app.c.review_level,
            org.c.name,
            app.c.named_as,
            sub.c.answers,
            sub.c.submitted_at,
            decided,
        )
        .join(sub, sa.and_(sub.c.application_id == app.c.id, sub.c.number == app.c.submission_no))
        .outerjoin(org, org.c.id == app.c.organisation_id)
        .where(
            app.c.program_id == program_id,
            app.c.status.in_(list(statuses)),
            app.c.id > after,
        )
        .order_by(app.c.id)
        .limit(limit)
    )
    if under is not None:
        stmt = stmt.where(app.c.organisation_id.in_(subtree(under)))
    return stmt


async def declarations(
    session: AsyncSession,
    *,
    program_id: str,
    under: int | None = None,
    statuses: Sequence[str] = EXPORTED_VALUES,
    batch: int = BATCH,
) -> AsyncIterator[list[Declared]]:
    """The program's declarations with one of ``statuses`` (under the organisation
    ``under`` and everything below it, when given), oldest first, ``batch`` at a time."""
    after = 0
    while True:
        result = await session.execute(_statement(program_id, under, statuses, after, batch))
        rows = [_declared(row) for row in result.all()]
        if not rows:
            return
        after, full = rows[-1].id, len(rows) == batch
        yield rows
        del rows  # the next batch is read without this one still held
        if not full:
            return


def _declared(row: Any) -> Declared:
    app_id, status, level, organisation, named_as, answers, submitted, decided = row
    return Declared(
        id=app_id,
        status=status,
        review_level=level,
        organisation=organisation,
        named_as=named_as,
        answers=answers or {},
        submitted_at=_aware(submitted),
        decided_at=_aware(decided) if status in ENDED else None,
    )


def _aware(value: Any) -> dt.datetime | None:
    """A moment read through a scalar subquery skips the column's type: SQLite gives it
    back as text and without zone; it is UTC as stored."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    raise TypeError(f"not a moment: {value!r}")
