"""Data access for the review side: organisations, roles, invitations.

Keyword-only functions that take a session and never commit: the caller (an
event of the conversation, a CLI command) owns the transaction, so that a
role granted, the invitation marked used and the audit row land together.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.models import Invitation, Membership, Organisation, Person


class OrgRow(NamedTuple):
    """An organisation's columns, read without building ORM objects (thousands at once)."""

    id: int
    code: str
    name: str
    kind: str
    parent_id: int | None


async def organisation_rows(session: AsyncSession) -> list[OrgRow]:
    """Every organisation, in the order they were added, in one query."""
    table = Organisation.__table__  # type: ignore[attr-defined]
    result = await session.execute(
        sa.select(table.c.id, table.c.code, table.c.name, table.c.kind, table.c.parent_id).order_by(
            table.c.id
        )
    )
    return [OrgRow(*row) for row in result.all()]


async def organisations(session: AsyncSession) -> list[Organisation]:
    """Every organisation as a model (to be changed), in the order they were added."""
    result = await session.execute(select(Organisation).order_by(col(Organisation.id)))
    return list(result.scalars().all())


async def organisation(
    session: AsyncSession, *, code: str | None = None, organisation_id: int | None = None
) -> Organisation | None:
    """One organisation by its code or its id."""
    stmt = select(Organisation)
    if code is not None:
        stmt = stmt.where(Organisation.code == code)
    if organisation_id is not None:
        stmt = stmt.where(Organisation.id == organisation_id)
    result = await session.execute(stmt)
    return result.scalar_one_or_none()


def add_organisation(
    session: AsyncSession, *, code: str, name: str, kind: str, now: dt.datetime
) -> Organisation:
    """A new organisation, for now without a parent (its id comes at the next flush)."""
    org = Organisation(code=code, name=name, kind=kind, created_at=now, updated_at=now)
    session.add(org)
    return org


async def add_invitation(
    session: AsyncSession,
    *,
    token_sha256: str,
    organisation_id: int,
    role: str,
    created_by: int | None,
    expires_at: dt.datetime,
    now: dt.datetime,
) -> Invitation:
    """A new invitation, stored by its token's hash; flushed, so its id is known."""
    invitation = Invitation(
        token_sha256=token_sha256,
        organisation_id=organisation_id,
        role=role,
        created_at=now,
        created_by=created_by,
        expires_at=expires_at,
    )
    session.add(invitation)
    await session.flush()
    return invitation


async def invitation(
    session: AsyncSession, *, token_sha256: str | None = None, invitation_id: int | None = None
) -> Invitation | None:
    """One invitation by its token's hash or its id, its row locked (PostgreSQL) so that
    two people opening the same link at once are served one after the other."""
    stmt = select(Invitation).with_for_update().execution_options(populate_existing=True)
    if token_sha256 is not None:
        stmt = stmt.where(Invitation.token_sha256 == token_sha256)
    if invitation_id is not None:
        stmt = stmt.where(Invitation.id == invitation_id)
    result = await session.execute(stmt)
    return result.scalar_one_or_none()


async def membership(
    session: AsyncSession,
    *,
    membership_id: int | None = None,
    person_id: int | None = None,
    organisation_id: int | None = None,
    role: str | None = None,
) -> Membership | None:
    """One membership, by id or by (person, organisation, role), revoked or not."""
    stmt = select(Membership)
    if membership_id is not None:
        stmt = stmt.where(Membership.id == membership_id)
    if person_id is not None:
        stmt = stmt.where(Membership.person_id == person_id)
    if organisation_id is not None:
        stmt = stmt.where(Membership.organisation_id == organisation_id)
    if role is not None:
        stmt = stmt.where(Membership.role == role)
    result = await session.execute(stmt.with_for_update())
    return result.scalars().first()


async def grant_role(
    session: AsyncSession,
    *,
    person_id: int,
    organisation_id: int,
    role: str,
    granted_by: int | None,
    now: dt.datetime,
) -> Membership:
    """Give a person a role in an organisation.  A role removed earlier comes back on
    its old row (one row per person, organisation and role, see ``Membership``)."""
    held = await membership(
        session, person_id=person_id, organisation_id=organisation_id, role=role
    )
    if held is None:
        held = Membership(
            person_id=person_id,
            organisation_id=organisation_id,
            role=role,
            granted_at=now,
            granted_by=granted_by,
        )
        session.add(held)
    elif held.revoked_at is not None:
        held.revoked_at = None
        held.granted_at = now
        held.granted_by = granted_by
    await session.flush()
    return held


async def roles_of(
    session: AsyncSession, *, person_id: int, role: str | None = None
) -> list[tuple[Membership, Organisation]]:
    """The roles a person holds now (removed ones left out), with their organisations."""
    stmt = (
        select(Membership, Organisation)
        .join(Organisation, col(Organisation.id) == col(Membership.organisation_id))
        .where(Membership.person_id == person_id, col(Membership.revoked_at).is_(None))
        .order_by(col(Organisation.id), col(Membership.role))
    )
    if role is not None:
        stmt = stmt.where(Membership.role == role)
    result = await session.execute(stmt)
    return [(m, o) for m, o in result.all()]


async def members_of(
    session: AsyncSession, *, organisation_ids: list[int]
) -> list[tuple[Membership, Person]]:
    """Everyone holding a role now in these organisations, oldest grant first."""
    if not organisation_ids:
        return []
    result = await session.execute(
        select(Membership, Person)
        .join(Person, col(Person.id) == col(Membership.person_id))
        .where(
            col(Membership.organisation_id).in_(organisation_ids),
            col(Membership.revoked_at).is_(None),
        )
        .order_by(col(Membership.organisation_id), col(Membership.id))
    )
    return [(m, p) for m, p in result.all()]


async def person(session: AsyncSession, *, person_id: int) -> Person | None:
    """One person by id (a colleague shown to an administrator)."""
    result = await session.execute(select(Person).where(Person.id == person_id))
    return result.scalar_one_or_none()
