"""One person, several channels: one-time link codes and the move they make.

A person asks for a code in a channel they already use; typed in another
channel, it moves the identities of whoever typed it to the person who asked.
Only someone who has nothing of their own yet may be moved (no declaration, no
role, no message waiting), so a link never merges two histories: the person
typing it is a newcomer the bot created a moment ago, and is left without any
identity afterwards.  Codes are short enough to type on a phone, random,
usable once, for ``LINK_TTL``; only their SHA-256 is kept.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.models import (
    Application,
    ChannelIdentity,
    LinkCode,
    Membership,
    OutboxMessage,
)

LINK_TTL = dt.timedelta(minutes=10)
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""No 0/O or 1/I: a code is read on one screen and typed on another."""
CODE_LENGTH = 8


class Linked(StrEnum):
    DONE = "done"
    UNKNOWN = "unknown"  # no such code, used, or expired
    SAME = "same"  # the person who asked typed it themselves
    OWN_DATA = "own_data"  # whoever typed it has declarations or roles of their own


def _digest(code: str) -> str:
    cleaned = "".join(code.split()).upper().replace("-", "")
    return hashlib.sha256(cleaned.encode()).hexdigest()


async def issue(session: AsyncSession, *, person_id: int, now: dt.datetime) -> str:
    """A new code for the person (the earlier unused ones stay valid until they expire)."""
    code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    session.add(
        LinkCode(
            code_sha256=_digest(code),
            person_id=person_id,
            created_at=now,
            expires_at=now + LINK_TTL,
        )
    )
    await session.flush()
    return f"{code[:4]}-{code[4:]}"


async def redeem(
    session: AsyncSession, *, code: str, person_id: int, now: dt.datetime
) -> tuple[Linked, int | None]:
    """Move every identity of ``person_id`` to the person the code belongs to; what
    happened and, when done, that person's id."""
    stmt = (
        sa.update(LinkCode)
        .where(
            col(LinkCode.code_sha256) == _digest(code),
            col(LinkCode.used_at).is_(None),
            col(LinkCode.expires_at) > now,
        )
        .values(used_at=now)
        .returning(col(LinkCode.person_id))
    )
    owner = (await session.execute(stmt)).scalar_one_or_none()
    if owner is None:
        return Linked.UNKNOWN, None
    if owner == person_id:
        return Linked.SAME, None
    if await _has_own_data(session, person_id):
        return Linked.OWN_DATA, None
    await session.execute(
        sa.update(ChannelIdentity)
        .where(col(ChannelIdentity.person_id) == person_id)
        .values(person_id=owner)
    )
    return Linked.DONE, int(owner)


async def _has_own_data(session: AsyncSession, person_id: int) -> bool:
    for model, column in (
        (Application, Application.user_id),
        (Membership, Membership.person_id),
        (OutboxMessage, OutboxMessage.person_id),
    ):
        found = await session.execute(select(model.id).where(column == person_id).limit(1))
        if found.first() is not None:
            return True
    return False
