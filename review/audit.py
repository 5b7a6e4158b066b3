"""The audit log: who did what, as whom, for which organisation, and when.

Union staff must be able to show afterwards how a declaration was decided and
who let whom in, so every act of the review side appends one row in the same
transaction as the act itself (an act rolled back leaves no row; a row never
exists without its act).  Rows are only ever added: nothing here updates or
deletes one.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry


class AuditAct(StrEnum):
    """What happened; the values are stored."""

    INVITE_CREATED = "invite_created"
    INVITE_USED = "invite_used"
    INVITE_REVOKED = "invite_revoked"
    ROLE_REMOVED = "role_removed"
    SUBMITTED = "submitted"
    PLACED = "placed"
    APPROVED = "approved"
    RETURNED = "returned"
    REJECTED = "rejected"
    PANEL_OPINION = "panel_opinion"
    NAMED = "named"
    WITHDRAWN = "withdrawn"
    ANNOUNCED = "announced"
    DISCARDED = "discarded"


def record(
    session: AsyncSession,
    *,
    act: AuditAct,
    now: dt.datetime,
    person_id: int | None = None,
    organisation_id: int | None = None,
    role: str | None = None,
    application_id: int | None = None,
    opinion: str | None = None,
    version_sha256: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one row (written at the caller's next flush or commit; never commits).

    ``person_id`` is who acted (None for the operator at the command line),
    ``role`` the role they acted in or were given, ``detail`` what else identifies
    the act (an invitation's id, the person a role was taken from).
    """
    entry = AuditEntry(
        at=now,
        person_id=person_id,
        organisation_id=organisation_id,
        role=role,
        act=act.value,
        application_id=application_id,
        opinion=opinion,
        version_sha256=version_sha256,
        detail=detail or {},
    )
    session.add(entry)
    return entry
