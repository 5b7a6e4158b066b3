"""The outbox: every message that leaves outside a direct reply is a row first.

A notification is written by :func:`enqueue` in the same transaction as the
change that causes it (a decision, a return, a planned reminder), so it exists
exactly when the change does: a crash after the commit loses none, a rollback
leaves none.  Each row has a unique ``dedupe_key``; enqueueing a key again
inserts nothing, so a retried transaction or a reminder planned twice, or by
two processes, is one message.  Senders (``bot.sender`` for Telegram, the
terminal for ``studiobot chat``) take rows by priority, then age, and record
what became of each.

A row's life, and why each step is a separate commit::

    pending  --claim_due-->   claimed   (claim_token, claimed_until: a lease)
    claimed  --mark_sending--> sending  (sending_at, attempts + 1; committed
                                         before the channel is called)
    sending  --mark_sent-->    sent
             --mark_failed-->  pending again at ``retry_at``, or given up
    claimed  --release-->      pending  (a sender stopping gives back rows it
                                         has not started)

A sender that dies leaves its rows behind.  A row it had only claimed is
claimable again when the lease runs out, and is sent then, once.  A row it was
sending (``sending_at`` set) may or may not have reached the person: the
channel offers no way to ask and no idempotency key.  Such a row is given up
by :func:`give_up_interrupted` and reported, not sent again: a message is
never sent twice, at the price of possibly losing the one or few messages in
flight at the moment of a crash (see ``bot.sender`` for the reasons).

None of these functions commits: the caller owns the transaction.  Several
senders may share one database: on PostgreSQL :func:`claim_due` skips rows
another transaction is claiming (``FOR UPDATE SKIP LOCKED``); on SQLite every
transaction already holds the one write lock (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from typing import Any, Protocol, TypedDict

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.models import (
    ChannelIdentity,
    Membership,
    OutboxMessage,
    OutboxPriority,
    Person,
    StaffRole,
)

OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
IDENTITIES = ChannelIdentity.__table__  # type: ignore[attr-defined]

DEDUPE_KEY_CHARS = 128
ERROR_CHARS = 255

INTERRUPTED = "interrupted while sending: the sender stopped before it knew the outcome"
"""``last_error`` of a row given up after its sender died in mid-send."""


class ButtonLike(Protocol):
    """What a stored button is made of (``dialogs.ui.Button`` is one)."""

    @property
    def label(self) -> str: ...

    @property
    def action(self) -> int: ...

    @property
    def arg(self) -> int: ...

    @property
    def key(self) -> str: ...


class StoredButton(TypedDict):
    """A button as a row keeps it: channel-neutral, turned into a keyboard by the sender."""

    label: str
    action: int
    arg: int
    key: str


def store_buttons(rows: Iterable[Iterable[ButtonLike]]) -> list[list[StoredButton]]:
    """Rows of buttons as plain data (JSON), the action as its number."""
    return [
        [StoredButton(label=b.label, action=int(b.action), arg=int(b.arg), key=b.key) for b in row]
        for row in rows
    ]


def _insert(session: AsyncSession) -> Any:
    """The dialect's INSERT, which knows ``ON CONFLICT``."""
    return pg_insert if _dialect(session) == "postgresql" else sqlite_insert


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _pending() -> sa.ColumnElement[bool]:
    return sa.and_(OUTBOX.c.sent_at.is_(None), OUTBOX.c.given_up_at.is_(None))


async def identity_for(
    session: AsyncSession, *, person_id: int, channel: str | None = None
) -> ChannelIdentity | None:
    """The channel identity a message to a person goes to: on ``channel`` if given,
    else a reachable one before an unreachable one, the newest first (the way the
    person came in last); None for a person without one."""
    stmt = select(ChannelIdentity).where(ChannelIdentity.person_id == person_id)
    if channel is not None:
        stmt = stmt.where(ChannelIdentity.channel == channel)
    stmt = stmt.order_by(
        col(ChannelIdentity.unreachable_at).is_not(None), col(ChannelIdentity.id).desc()
    ).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


async def enqueue(
    session: AsyncSession,
    *,
    person_id: int,
    text: str,
    buttons: Iterable[Iterable[ButtonLike]] = (),
    priority: int,
    dedupe_key: str,
    now: dt.datetime,
    not_before: dt.datetime | None = None,
    application_id: int | None = None,
    revision: int = 0,
    channel: str | None = None,
) -> bool:
    """Put a message to a person in the outbox, in the caller's transaction; True when
    it is new, False when a row with ``dedupe_key`` exists already (nothing changes).

    The person's channel identity is resolved now (:func:`identity_for`, or the
    one on ``channel``).  ``buttons`` carry ``application_id`` and ``revision``
    like a reply's: a press of one is checked against the state it was sent for.
    ``not_before`` holds the message back until then.  ``LookupError`` when the
    person cannot be reached on any (or that) channel, ``ValueError`` for an
    empty text or a key longer than the column (cutting it could merge two keys).
    """
    if not text.strip():
        raise ValueError("an outbox message needs a text")
    if not dedupe_key or len(dedupe_key) > DEDUPE_KEY_CHARS:
        raise ValueError(f"a dedupe key has 1 to {DEDUPE_KEY_CHARS} characters")
    identity = await identity_for(session, person_id=person_id, channel=channel)
    if identity is None:
        raise LookupError(f"person {person_id} has no identity on {channel or 'any channel'}")
    values = {
        "dedupe_key": dedupe_key,
        "person_id": person_id,
        "channel": identity.channel,
        "external_id": identity.external_id,
        "priority": int(priority),
        "text": text,
        "buttons": store_buttons(buttons),
        "application_id": application_id,
        "revision": revision,
        "created_at": now,
        "not_before": not_before or now,
        "attempts": 0,
        "last_error": "",
        "parts_sent": 0,
    }
    stmt = (
        _insert(session)(OUTBOX)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0))


class Planned(TypedDict):
    """A message planned in bulk (reminders): what :func:`enqueue_many` takes."""

    person_id: int
    text: str
    buttons: list[list[StoredButton]]
    priority: int
    dedupe_key: str
    not_before: dt.datetime
    expires_at: dt.datetime | None
    application_id: int | None
    revision: int


BULK_CHUNK = 500
"""Keys per IN list, and a twentieth of the rows per executed batch."""
ANALYZE_AFTER = 5000
"""Rows added at once after which PostgreSQL's statistics of the outbox are renewed."""


async def reachable_identities(
    session: AsyncSession, *, person_ids: Collection[int]
) -> dict[int, tuple[str, str]]:
    """Each person's channel and id to write to, in one query: a reachable identity
    before an unreachable one, the newest first (as :func:`identity_for`)."""
    found: dict[int, tuple[str, str]] = {}
    ids = sorted(set(person_ids))
    for start in range(0, len(ids), BULK_CHUNK * 10):
        chunk = ids[start : start + BULK_CHUNK * 10]
        rows = await session.execute(
            sa.select(IDENTITIES.c.person_id, IDENTITIES.c.channel, IDENTITIES.c.external_id)
            .where(IDENTITIES.c.person_id.in_(chunk))
            .order_by(IDENTITIES.c.unreachable_at.is_not(None).desc(), IDENTITIES.c.id)
        )
        for person_id, channel, external_id in rows.all():
            found[person_id] = (channel, external_id)  # the last wins: the best one
    return found


async def enqueue_many(
    session: AsyncSession, *, planned: Sequence[Planned], now: dt.datetime
) -> int:
    """Enqueue many messages at once (a day's reminders), in the caller's transaction;
    how many were new.  A key already present adds nothing, so planning the same
    reminders twice, or in two processes, sends each once.  A person with no
    channel identity is skipped (they cannot be reached)."""
    where = await reachable_identities(session, person_ids=[p["person_id"] for p in planned])
    values = []
    for p in planned:
        identity = where.get(p["person_id"])
        if identity is None or not p["text"].strip():
            continue
        values.append(
            {
                **p,
                "channel": identity[0],
                "external_id": identity[1],
                "created_at": now,
                "attempts": 0,
                "last_error": "",
                "parts_sent": 0,
            }
        )
    # One statement executed for many rows (compiled once), not a statement per chunk
    # of rows; the ids of the rows actually inserted say how many were new.
    stmt = (
        _insert(session)(OUTBOX)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OUTBOX.c.id)
    )
    added = 0
    for start in range(0, len(values), BULK_CHUNK * 20):
        result = await session.execute(stmt, values[start : start + BULK_CHUNK * 20])
        added += len(result.all())
    if added >= ANALYZE_AFTER and _dialect(session) == "postgresql":
        # Fresh statistics at once: until autovacuum gets to it, the planner would take
        # the outbox for small and scan it for every mark of a send.
        await session.execute(sa.text("ANALYZE outbox"))
    return added


async def existing_keys(session: AsyncSession, *, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` the outbox holds already (planned before: not to be worded again)."""
    found: set[str] = set()
    for start in range(0, len(keys), BULK_CHUNK * 10):
        chunk = list(keys[start : start + BULK_CHUNK * 10])
        rows = await session.execute(
            sa.select(OUTBOX.c.dedupe_key).where(OUTBOX.c.dedupe_key.in_(chunk))
        )
        found.update(rows.scalars().all())
    return found


async def drop_planned(
    session: AsyncSession, *, application_id: int, key_prefix: str, now: dt.datetime, why: str
) -> int:
    """Give up the unsent rows about a declaration whose key starts with ``key_prefix``
    (its deadline reminders, once it is submitted): they would say what is no longer so."""
    result = await session.execute(
        sa.update(OUTBOX)
        .where(
            _pending(),
            OUTBOX.c.application_id == application_id,
            OUTBOX.c.dedupe_key.startswith(key_prefix, autoescape=True),
            OUTBOX.c.sending_at.is_(None),
        )
        .values(given_up_at=now, last_error=why[:ERROR_CHARS])
    )
    return int(getattr(result, "rowcount", 0))


def _messages(rows: Iterable[Any]) -> list[OutboxMessage]:
    """Rows returned by an UPDATE … RETURNING as (detached) models, in sending order."""
    found = [OutboxMessage(**dict(row._mapping)) for row in rows]
    return sorted(found, key=lambda m: (m.priority, m.id or 0))


def _claimable(now: dt.datetime) -> sa.ColumnElement[bool]:
    """Pending, due, not being sent, and held by nobody (or by a lease that ran out)."""
    return sa.and_(
        _pending(),
        OUTBOX.c.sending_at.is_(None),
        OUTBOX.c.not_before <= now,
        sa.or_(OUTBOX.c.claimed_until.is_(None), OUTBOX.c.claimed_until <= now),
        sa.or_(OUTBOX.c.expires_at.is_(None), OUTBOX.c.expires_at > now),
    )


def _next_ids(
    session: AsyncSession, where: sa.ColumnElement[bool], limit: int, per_chat: int | None = None
) -> Any:
    """The ids of the next rows by priority, then age; rows another PostgreSQL
    transaction is taking are skipped, not waited for.  With ``per_chat``, at most
    that many rows of one chat (picked among the next ``2 × limit``)."""
    candidates = (
        sa.select(OUTBOX.c.id, OUTBOX.c.priority, OUTBOX.c.external_id)
        .where(where)
        .order_by(OUTBOX.c.priority, OUTBOX.c.id)
        .limit(limit if per_chat is None else 2 * limit)
    )
    if _dialect(session) == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    if per_chat is None:
        return sa.select(candidates.subquery().c.id).scalar_subquery()
    found = candidates.subquery()
    rank = sa.func.row_number().over(
        partition_by=found.c.external_id, order_by=(found.c.priority, found.c.id)
    )
    ranked = sa.select(found.c.id, found.c.priority, rank.label("rank")).subquery()
    return (
        sa.select(ranked.c.id)
        .where(ranked.c.rank <= per_chat)
        .order_by(ranked.c.priority, ranked.c.id)
        .limit(limit)
        .scalar_subquery()
    )


async def count_due(session: AsyncSession, *, channel: str, now: dt.datetime) -> int:
    """Rows of ``channel`` still to send at ``now``, held by a sender or not, being sent
    or not (0: drained); a row whose time has not come, or expired, is not counted."""
    result = await session.execute(
        sa.select(sa.func.count())
        .select_from(OUTBOX)
        .where(
            OUTBOX.c.channel == channel,
            _pending(),
            OUTBOX.c.not_before <= now,
            sa.or_(OUTBOX.c.expires_at.is_(None), OUTBOX.c.expires_at > now),
        )
    )
    return int(result.scalar_one())


async def claim_due(
    session: AsyncSession,
    *,
    channel: str,
    now: dt.datetime,
    limit: int,
    lease: dt.timedelta,
    token: str,
    per_chat: int | None = None,
    busy: Collection[str] = (),
    priority_up_to: int | None = None,
) -> list[OutboxMessage]:
    """Hold the next ``limit`` due rows of ``channel`` for the sender ``token`` until
    ``now + lease``, by priority then age; the rows, in that order.

    A chat takes one message a second, so a sender gains nothing by holding many
    rows of one chat while others wait: ``per_chat`` caps the rows of a chat
    in one claim, and rows to the ``busy`` chats (those it holds rows of
    already) are left to later claims, unless they are ``PERSONAL``, which go
    before whatever the sender holds.  A row held by a sender that died is
    handed out again once its lease ran out (unless it was being sent: see
    :func:`give_up_interrupted`).  ``priority_up_to`` takes only rows at least that
    urgent (a sender with enough bulk in hand still looks for new personal rows).
    """
    where = sa.and_(OUTBOX.c.channel == channel, _claimable(now))
    if priority_up_to is not None:
        where = sa.and_(where, OUTBOX.c.priority <= priority_up_to)
    if busy:
        where = sa.and_(
            where,
            sa.or_(
                OUTBOX.c.priority <= OutboxPriority.PERSONAL,
                OUTBOX.c.external_id.not_in(list(busy)),
            ),
        )
    stmt = (
        sa.update(OUTBOX)
        .where(OUTBOX.c.id.in_(_next_ids(session, where, limit, per_chat)))
        .values(claim_token=token, claimed_until=now + lease)
        .returning(*OUTBOX.c)
    )
    return _messages(await session.execute(stmt))


async def renew(
    session: AsyncSession,
    *,
    ids: Collection[int],
    token: str,
    now: dt.datetime,
    lease: dt.timedelta,
) -> int:
    """Extend the lease of rows ``token`` still holds (waiting their turn for a busy
    chat, say), so no other sender takes them meanwhile; how many."""
    if not ids:
        return 0
    stmt = (
        sa.update(OUTBOX)
        .where(OUTBOX.c.id.in_(list(ids)), OUTBOX.c.claim_token == token, _pending())
        .values(claimed_until=now + lease)
    )
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0))


EXPIRED = "expired: its date passed before it could be sent"


async def give_up_expired(
    session: AsyncSession, *, channel: str, now: dt.datetime
) -> list[OutboxMessage]:
    """Give up the rows of ``channel`` still unsent when they expired (a reminder whose
    date passed while no sender ran); returned for the log.  A row being sent is
    left to :func:`give_up_interrupted`."""
    stmt = (
        sa.update(OUTBOX)
        .where(
            OUTBOX.c.channel == channel,
            _pending(),
            OUTBOX.c.sending_at.is_(None),
            OUTBOX.c.expires_at <= now,
            sa.or_(OUTBOX.c.claimed_until.is_(None), OUTBOX.c.claimed_until <= now),
        )
        .values(given_up_at=now, last_error=EXPIRED, claim_token=None, claimed_until=None)
        .returning(*OUTBOX.c)
    )
    return _messages(await session.execute(stmt))


async def defer_unsent(
    session: AsyncSession, *, now: dt.datetime, until: dt.datetime, key_prefix: str
) -> int:
    """Hold back the rows whose key starts with ``key_prefix`` (reminders) still unsent
    at ``now`` until ``until`` (the next morning, when the day's sending window
    closed with a backlog), except those that would have expired by then: they go
    now or never.  Rows a sender holds or is sending are left alone."""
    stmt = (
        sa.update(OUTBOX)
        .where(
            _pending(),
            OUTBOX.c.dedupe_key.startswith(key_prefix, autoescape=True),
            OUTBOX.c.sending_at.is_(None),
            OUTBOX.c.not_before <= now,
            sa.or_(OUTBOX.c.claimed_until.is_(None), OUTBOX.c.claimed_until <= now),
            sa.or_(OUTBOX.c.expires_at.is_(None), OUTBOX.c.expires_at > until),
        )
        .values(not_before=until)
    )
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0))


async def give_up_interrupted(
    session: AsyncSession, *, channel: str, now: dt.datetime
) -> list[OutboxMessage]:
    """Give up the rows of ``channel`` whose sender died while sending them (marked
    sending, lease over); they are returned for the log.  They may have been
    delivered: sending them again could show the person a message twice."""
    stmt = (
        sa.update(OUTBOX)
        .where(
            OUTBOX.c.channel == channel,
            _pending(),
            OUTBOX.c.sending_at.is_not(None),
            OUTBOX.c.claimed_until <= now,
        )
        .values(given_up_at=now, last_error=INTERRUPTED, claim_token=None, claimed_until=None)
        .returning(*OUTBOX.c)
    )
    return _messages(await session.execute(stmt))


async def mark_sending(
    session: AsyncSession,
    *,
    ids: Collection[int],
    token: str,
    now: dt.datetime,
    lease: dt.timedelta,
) -> set[int]:
    """Record that the rows are about to go to the channel (commit before calling
    it); the ids still held by ``token``, which alone may be sent.

    The first mark counts an attempt and sets ``sending_at``; marking again (the
    next part of a long text) only renews the lease.
    """
    if not ids:
        return set()
    first = OUTBOX.c.sending_at.is_(None)
    stmt = (
        sa.update(OUTBOX)
        .where(OUTBOX.c.id.in_(list(ids)), OUTBOX.c.claim_token == token, _pending())
        .values(
            sending_at=sa.case((first, now), else_=OUTBOX.c.sending_at),
            attempts=sa.case((first, OUTBOX.c.attempts + 1), else_=OUTBOX.c.attempts),
            claimed_until=now + lease,
        )
        .returning(OUTBOX.c.id)
    )
    return {int(row[0]) for row in await session.execute(stmt)}


async def mark_sent(
    session: AsyncSession, *, ids: Collection[int], now: dt.datetime, parts: int | None = None
) -> int:
    """Record that the rows reached the channel; how many were pending.

    Whoever holds the row, this is the truth and is written: even a row given
    up as interrupted (its sender was thought dead) becomes sent.
    """
    if not ids:
        return 0
    values: dict[str, Any] = {
        "sent_at": now,
        "given_up_at": None,
        "claim_token": None,
        "claimed_until": None,
    }
    if parts is not None:
        values["parts_sent"] = parts
    stmt = (
        sa.update(OUTBOX)
        .where(OUTBOX.c.id.in_(list(ids)), OUTBOX.c.sent_at.is_(None))
        .values(**values)
    )
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0))


async def mark_failed(
    session: AsyncSession,
    *,
    message_id: int,
    token: str,
    now: dt.datetime,
    error: str,
    retry_at: dt.datetime | None,
    parts_sent: int | None = None,
) -> bool:
    """Record a failed attempt: try again from ``retry_at``, or give the row up for
    good (``retry_at=None``); the error is kept in ``last_error``.  Only the
    holder of the row (``token``) may; False when it no longer holds it.
    ``parts_sent`` remembers the parts of a long text that went already."""
    values: dict[str, Any] = {
        "last_error": error[:ERROR_CHARS],
        "claim_token": None,
        "claimed_until": None,
        "sending_at": None,
    }
    if retry_at is None:
        values["given_up_at"] = now
    else:
        values["not_before"] = retry_at
    if parts_sent is not None:
        values["parts_sent"] = parts_sent
    stmt = (
        sa.update(OUTBOX)
        .where(OUTBOX.c.id == message_id, OUTBOX.c.claim_token == token, _pending())
        .values(**values)
    )
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0))


async def release(session: AsyncSession, *, ids: Collection[int], token: str) -> int:
    """Give back rows held by ``token`` that it has not begun to send (a sender
    stopping, or pausing longer than its lease), so another sender takes them at once."""
    if not ids:
        return 0
    stmt = (
        sa.update(OUTBOX)
        .where(
            OUTBOX.c.id.in_(list(ids)),
            OUTBOX.c.claim_token == token,
            OUTBOX.c.sending_at.is_(None),
            _pending(),
        )
        .values(claim_token=None, claimed_until=None)
    )
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0))


async def mark_unreachable(
    session: AsyncSession, *, channel: str, external_id: str, now: dt.datetime
) -> ChannelIdentity | None:
    """Mark a channel identity as refusing messages (it blocked the bot); the identity
    when this marked it, None when it was marked already (or is unknown), so that
    whoever is told about it is told once however many messages bounce."""
    stmt = (
        sa.update(IDENTITIES)
        .where(
            IDENTITIES.c.channel == channel,
            IDENTITIES.c.external_id == external_id,
            IDENTITIES.c.unreachable_at.is_(None),
        )
        .values(unreachable_at=now)
        .returning(*IDENTITIES.c)
    )
    row = (await session.execute(stmt)).first()
    return ChannelIdentity(**dict(row._mapping)) if row is not None else None


async def mark_reachable(
    session: AsyncSession, *, channel: str, external_ids: Collection[str]
) -> int:
    """Clear the unreachable mark of identities a message reached again (the person
    unblocked the bot); how many were marked."""
    if not external_ids:
        return 0
    stmt = (
        sa.update(IDENTITIES)
        .where(
            IDENTITIES.c.channel == channel,
            IDENTITIES.c.external_id.in_(list(external_ids)),
            IDENTITIES.c.unreachable_at.is_not(None),
        )
        .values(unreachable_at=None)
    )
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0))


async def administrators_of(session: AsyncSession, *, person_id: int) -> list[Person]:
    """The administrators of every organisation where the person holds a current role
    (the person excepted), by id; empty for a person without a role or whose
    organisations have no administrator."""
    mine = sa.alias(Membership.__table__, "mine")  # type: ignore[attr-defined]
    theirs = sa.alias(Membership.__table__, "theirs")  # type: ignore[attr-defined]
    admins = (
        sa.select(theirs.c.person_id)
        .join(mine, mine.c.organisation_id == theirs.c.organisation_id)
        .where(
            mine.c.person_id == person_id,
            mine.c.revoked_at.is_(None),
            theirs.c.role == StaffRole.ADMIN.value,
            theirs.c.revoked_at.is_(None),
            theirs.c.person_id != person_id,
        )
    )
    result = await session.execute(
        select(Person).where(col(Person.id).in_(admins)).order_by(col(Person.id))
    )
    return list(result.scalars().all())


async def take_due(
    session: AsyncSession,
    *,
    channel: str,
    external_id: str,
    now: dt.datetime,
    limit: int = 100,
) -> list[OutboxMessage]:
    """Take the due rows addressed to one identity and mark them sent at once, for a
    channel that shows them in the same breath (the terminal): by priority, then age."""
    where = sa.and_(
        OUTBOX.c.channel == channel, OUTBOX.c.external_id == external_id, _claimable(now)
    )
    stmt = (
        sa.update(OUTBOX)
        .where(OUTBOX.c.id.in_(_next_ids(session, where, limit)))
        .values(sent_at=now, attempts=OUTBOX.c.attempts + 1)
        .returning(*OUTBOX.c)
    )
    return _messages(await session.execute(stmt))


def stored_rows(message: OutboxMessage) -> Sequence[Sequence[StoredButton]]:
    """A row's buttons as stored (rows of :class:`StoredButton`)."""
    return [
        [
            StoredButton(
                label=str(b["label"]),
                action=int(b["action"]),
                arg=int(b.get("arg", 0)),
                key=str(b.get("key", "")),
            )
            for b in row
        ]
        for row in message.buttons or []
    ]
