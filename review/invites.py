"""Invitations: how reviewers and administrators join.

An administrator (at the command line, or in the bot for their own
organisation) creates a one-time link; whoever opens it holds the role.  The
token is the only secret: 256 random bits, URL-safe, short enough for
Telegram's ``start`` parameter (at most 64 characters of ``A-Z a-z 0-9 _ -``).
The database keeps only its SHA-256, so a copy of the database lets nobody
in; a token typed or forged is cleaned, length-checked and compared by hash.
A refusal (unknown, used, expired, revoked) changes nothing.  Every act is
in the audit log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from review.audit import AuditAct, record
from storage import staff
from storage.models import Invitation, Membership, Organisation, StaffRole

TOKEN_BYTES = 32
"""256 random bits: 43 URL-safe characters."""
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
"""What a token may look like; anything else is refused before a query."""
DEFAULT_DAYS = 7
MAX_DAYS = 365
START_LINK = "https://t.me/{bot}?start={token}"


def new_token() -> str:
    """An unguessable token within Telegram's ``start`` parameter alphabet and length."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What is stored of a token (hex SHA-256)."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def clean_token(raw: str) -> str | None:
    """The token in what someone typed or pasted (the bare token, or the whole link);
    None if it cannot be one."""
    text = raw.strip()
    if "start=" in text:
        text = text.rsplit("start=", 1)[1]
    return text if TOKEN_RE.match(text) else None


def start_link(bot_username: str, token: str) -> str:
    """The link that opens the bot with the token as its ``start`` parameter."""
    return START_LINK.format(bot=bot_username, token=token)


@dataclass(frozen=True)
class Created:
    """A new invitation and its token (shown once, never stored)."""

    token: str
    invitation: Invitation
    organisation: Organisation


async def create(
    session: AsyncSession,
    *,
    organisation: Organisation,
    role: StaffRole,
    days: int,
    now: dt.datetime,
    created_by: int | None = None,
) -> Created:
    """A one-time invitation valid ``days`` days; ``created_by`` None for the command line."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}")
    token = new_token()
    invitation = await staff.add_invitation(
        session,
        token_sha256=token_hash(token),
        organisation_id=organisation.id or 0,
        role=role.value,
        created_by=created_by,
        expires_at=now + dt.timedelta(days=days),
        now=now,
    )
    record(
        session,
        act=AuditAct.INVITE_CREATED,
        now=now,
        person_id=created_by,
        organisation_id=organisation.id,
        role=role.value,
        detail={"invitation_id": invitation.id, "expires_at": invitation.expires_at.isoformat()},
    )
    return Created(token=token, invitation=invitation, organisation=organisation)


class Verdict(StrEnum):
    """What opening a link came to."""

    JOINED = "joined"
    ALREADY = "already"  # the person holds that role there already: the link stays unused
    YOURS = "yours"  # the person opens the link they used: they hold its role
    UNKNOWN = "unknown"  # malformed, or no such token
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class Redemption:
    """The verdict, and for a link that exists, its organisation and role."""

    verdict: Verdict
    organisation: Organisation | None = None
    role: StaffRole | None = None
    membership: Membership | None = None


def _judge(invitation: Invitation, now: dt.datetime) -> Verdict | None:
    """Why a stored invitation cannot be used now, if it cannot."""
    if invitation.revoked_at is not None:
        return Verdict.REVOKED
    if invitation.used_at is not None:
        return Verdict.USED
    if invitation.expires_at <= now:
        return Verdict.EXPIRED
    return None


async def redeem(
    session: AsyncSession, *, raw_token: str, person_id: int, now: dt.datetime
) -> Redemption:
    """Give ``person_id`` the invitation's role, once; every refusal changes nothing."""
    token = clean_token(raw_token)
    found = await staff.invitation(session, token_sha256=token_hash(token)) if token else None
    if found is None:
        return Redemption(Verdict.UNKNOWN)
    org = await staff.organisation(session, organisation_id=found.organisation_id)
    role = StaffRole(found.role)
    refused = _judge(found, now)
    if refused is Verdict.USED and found.used_by == person_id and org is not None:
        # The person opening their own link again: they hold the role, say so.
        held = await staff.membership(
            session, person_id=person_id, organisation_id=org.id, role=role.value
        )
        if held is not None and held.revoked_at is None:
            return Redemption(Verdict.YOURS, org, role, held)
    if refused is not None or org is None:
        return Redemption(refused or Verdict.UNKNOWN, org, role)
    held = await staff.membership(
        session, person_id=person_id, organisation_id=org.id, role=role.value
    )
    if held is not None and held.revoked_at is None:
        return Redemption(Verdict.ALREADY, org, role, held)
    found.used_at = now
    found.used_by = person_id
    granted = await staff.grant_role(
        session,
        person_id=person_id,
        organisation_id=org.id or 0,
        role=role.value,
        granted_by=found.created_by,
        now=now,
    )
    record(
        session,
        act=AuditAct.INVITE_USED,
        now=now,
        person_id=person_id,
        organisation_id=org.id,
        role=role.value,
        detail={"invitation_id": found.id, "membership_id": granted.id},
    )
    return Redemption(Verdict.JOINED, org, role, granted)


async def find(session: AsyncSession, *, reference: str) -> Invitation | None:
    """An invitation by its number (as printed when it was made) or by its token or link."""
    text = reference.strip().lstrip("#")
    if text.isdigit() and len(text) <= 10:
        number = int(text)
        return await staff.invitation(session, invitation_id=number) if number < 2**31 else None
    token = clean_token(reference)
    return await staff.invitation(session, token_sha256=token_hash(token)) if token else None


async def revoke(
    session: AsyncSession, *, invitation: Invitation, now: dt.datetime, person_id: int | None = None
) -> Verdict | None:
    """Make an unused invitation unusable; None when done, else why not (used or revoked
    already: a used one's role is removed instead).  An expired one may be revoked too."""
    if invitation.revoked_at is not None:
        return Verdict.REVOKED
    if invitation.used_at is not None:
        return Verdict.USED
    invitation.revoked_at = now
    record(
        session,
        act=AuditAct.INVITE_REVOKED,
        now=now,
        person_id=person_id,
        organisation_id=invitation.organisation_id,
        role=invitation.role,
        detail={"invitation_id": invitation.id},
    )
    return None


async def remove_role(
    session: AsyncSession, *, membership: Membership, now: dt.datetime, by_person_id: int | None
) -> bool:
    """Take a role away (the row stays, marked revoked); False if it was removed already."""
    if membership.revoked_at is not None:
        return False
    membership.revoked_at = now
    record(
        session,
        act=AuditAct.ROLE_REMOVED,
        now=now,
        person_id=by_person_id,
        organisation_id=membership.organisation_id,
        role=membership.role,
        detail={"membership_id": membership.id, "member_person_id": membership.person_id},
    )
    return True
