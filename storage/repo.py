"""Data access: keyword-only functions that take a session and return models.

None of them commits: the caller owns the transaction, so that an answer, its
history row and the processed-update marker land together or not at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import col, select

from storage.models import (
    LOCALE_CHARS,
    AnswerEvent,
    Application,
    ApplicationStatus,
    Attachment,
    ChannelIdentity,
    Person,
    ProcessedUpdate,
)

LANGUAGE_TAG_RE = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")


def language_tag(language: str | None) -> str | None:
    """A language tag as a channel reports it (``en``, ``zh-hans``, ``pt_BR``), cleaned;
    None for nothing or for anything that is not shaped like a tag."""
    if not language:
        return None
    tag = language.strip().replace("_", "-")
    return tag if len(tag) <= LOCALE_CHARS and LANGUAGE_TAG_RE.match(tag) else None


def _insert(session: AsyncSession) -> Any:
    """The dialect's INSERT, which knows ``ON CONFLICT``."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def get_or_create_user(
    session: AsyncSession,
    *,
    channel: str,
    external_id: str,
    display_name: str,
    now: dt.datetime,
    locale: str | None = None,
) -> Person:
    """The person behind a channel identity, created with the identity on first contact.

    ``locale`` is the language the channel reports for the user (Telegram's
    ``language_code``); it becomes a new person's locale when it looks like a
    language tag, else the default stays.  An existing person keeps theirs.

    Creating is idempotent across processes: the person's lock is taken first
    (:func:`lock_user`), and the identity is inserted with ``ON CONFLICT DO
    NOTHING`` and then read, so two first messages of a new user handled at
    once by two processes both find the same person instead of one failing
    on the unique constraint (a person made in vain by a writer that skipped
    the lock is removed again).
    """
    await lock_user(session, channel=channel, external_id=external_id)
    person, _ = await load_user(session, channel=channel, external_id=external_id, lock=False)
    if person is None:
        await _create_person(
            session,
            channel=channel,
            external_id=external_id,
            display_name=display_name,
            locale=language_tag(locale),
            now=now,
        )
        person, _ = await load_user(session, channel=channel, external_id=external_id, lock=False)
        assert person is not None  # inserted, or found inserted by another writer
    rename_user(person, display_name=display_name, now=now)
    return person


async def _create_person(
    session: AsyncSession,
    *,
    channel: str,
    external_id: str,
    display_name: str,
    locale: str | None,
    now: dt.datetime,
) -> None:
    person = Person(display_name=display_name[:255], created_at=now, updated_at=now)
    if locale is not None:
        person.locale = locale
    session.add(person)
    await session.flush()
    table = ChannelIdentity.__table__  # type: ignore[attr-defined]
    inserted = await session.execute(
        _insert(session)(table)
        .values(channel=channel, external_id=external_id, person_id=person.id, created_at=now)
        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
    )
    if not getattr(inserted, "rowcount", 0):
        await session.delete(person)
        await session.flush()


def rename_user(user: Person, *, display_name: str, now: dt.datetime) -> Person:
    """Keep the name the channel shows for the person current (an empty name changes nothing)."""
    if display_name and user.display_name != display_name[:255]:
        user.display_name = display_name[:255]
        user.updated_at = now
    return user


# The statements run on every event are built once, on first use: building a
# statement and its cache key costs more than SQLite takes to run it.


def user_lock_key(channel: str, external_id: str) -> int:
    """A signed 64-bit number naming the lock of the person behind a channel identity
    (PostgreSQL advisory locks take one)."""
    digest = hashlib.blake2b(f"user\x1f{channel}\x1f{external_id}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


async def lock_user(session: AsyncSession, *, channel: str, external_id: str) -> None:
    """Hold one person's lock until the transaction ends, across every process.

    On PostgreSQL this is a transaction-scoped advisory lock taken before
    anything of the person is read: the statements that follow see what the
    previous holder committed.  (Locking the person's row in the same
    statement that reads the draft is not enough: after waiting for the row
    lock, PostgreSQL re-reads only the locked row and hands back a stale
    draft.)  It is named by the channel identity, so it also covers a person
    who does not exist yet.  Events of one person arriving through two
    channels at once take two locks; they are still ordered by the person's
    row lock (:func:`load_user`) and the draft's revision check.  SQLite
    needs nothing: every transaction starts with ``BEGIN IMMEDIATE``, which
    already holds the database's one write lock before the first read.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_ADVISORY_LOCK, {"key": user_lock_key(channel, external_id)})


@cache
def _load_user_statement(lock: bool) -> Any:
    stmt = (
        select(Person, Application)
        .select_from(ChannelIdentity)
        .join(Person, col(Person.id) == col(ChannelIdentity.person_id))
        .outerjoin(Application, col(Application.id) == col(Person.active_application_id))
        .where(
            ChannelIdentity.channel == bindparam("channel"),
            ChannelIdentity.external_id == bindparam("external_id"),
        )
    )
    # FOR NO KEY UPDATE, not FOR UPDATE: it orders one person's events just the same,
    # but lets other transactions insert rows pointing at the person (an outbox
    # notice to an applicant, written while the applicant's own event holds the row),
    # which FOR UPDATE would make wait — and deadlock when that event then waits for
    # the declaration the other transaction holds.
    return stmt.with_for_update(of=Person, key_share=True) if lock else stmt


@cache
def _mark_update_statement(dialect: str) -> Any:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    # On the table, not the ORM class: with parameters passed separately the ORM
    # would take it for a bulk insert and report no row count.
    table = ProcessedUpdate.__table__  # type: ignore[attr-defined]
    return (
        insert(table)
        .values(
            source=bindparam("source"),
            update_id=bindparam("update_id"),
            processed_at=bindparam("now"),
        )
        .on_conflict_do_update(
            index_elements=["source", "update_id"],
            set_={"processed_at": bindparam("now")},
            where=table.c.processed_at < bindparam("cutoff"),
        )
    )


async def load_user(
    session: AsyncSession, *, channel: str, external_id: str, lock: bool = True
) -> tuple[Person | None, Application | None]:
    """The person behind a channel identity and their active application, in one query;
    ``(None, None)`` for an identity never seen.

    ``lock`` first takes the person's lock (:func:`lock_user`) and the person's
    row for the transaction: every change to a user's dialog goes through it,
    so one user's events are applied one after another even across
    processes.  Writes of the application are checked against its revision
    besides (see ``Application``), so a writer that skipped the lock fails
    instead of overwriting newer answers.
    """
    if lock:
        await lock_user(session, channel=channel, external_id=external_id)
    stmt = _load_user_statement(lock)
    params = {"channel": channel, "external_id": external_id}
    row = (await session.execute(stmt, params)).first()
    if row is None:
        return None, None
    return row[0], row[1]


async def get_application(
    session: AsyncSession, *, application_id: int, for_update: bool = False, fresh: bool = False
) -> Application | None:
    """One application by id; ``for_update`` locks its row on PostgreSQL; ``fresh``
    overwrites a copy the session read earlier with what is stored now."""
    stmt = select(Application).where(Application.id == application_id)
    if for_update:
        stmt = stmt.with_for_update()
    if fresh:
        stmt = stmt.execution_options(populate_existing=True)
    result = await session.execute(stmt)
    return result.scalar_one_or_none()


async def find_open_application(
    session: AsyncSession, *, user_id: int, program_id: str
) -> Application | None:
    """The person's latest application for a program, whatever its status: a draft to
    resume, or one submitted already (the caller decides); None if they never began one
    (or discarded the one they began).
    ``user_id`` is the person's id."""
    result = await session.execute(
        select(Application)
        .where(
            Application.user_id == user_id,
            Application.program_id == program_id,
            Application.status != ApplicationStatus.DISCARDED.value,
        )
        .order_by(col(Application.id).desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


async def list_applications(session: AsyncSession, *, user_id: int) -> list[Application]:
    """All applications of a person (``user_id``), most recently touched first; a
    discarded draft is not among them (its row stays, for the record)."""
    result = await session.execute(
        select(Application)
        .where(
            Application.user_id == user_id,
            Application.status != ApplicationStatus.DISCARDED.value,
        )
        .order_by(col(Application.updated_at).desc(), col(Application.id).desc())
    )
    return list(result.scalars().all())


async def create_application(
    session: AsyncSession,
    *,
    user_id: int,
    program_id: str,
    program_version: int,
    cursor: dict[str, Any],
    now: dt.datetime,
) -> Application:
    """A new draft, positioned at ``cursor``."""
    app = Application(
        user_id=user_id,
        program_id=program_id,
        program_version=program_version,
        status=ApplicationStatus.DRAFT.value,
        answers={},
        cursor=cursor,
        created_at=now,
        updated_at=now,
    )
    session.add(app)
    await session.flush()
    return app


def touch_application(
    app: Application, *, answers: dict[str, Any], cursor: dict[str, Any], now: dt.datetime
) -> Application:
    """Replace answers and cursor and bump the revision (stale buttons compare it).

    JSON columns are not change-tracked in depth: a dict mutated in place and
    assigned back compares equal to the "old" value and would silently not be
    written.  Flagging both columns makes the UPDATE unconditional.
    """
    app.answers = answers
    app.cursor = cursor
    flag_modified(app, "answers")
    flag_modified(app, "cursor")
    app.revision += 1
    app.updated_at = now
    return app


def carry_application(
    app: Application,
    *,
    answers: dict[str, Any],
    cursor: dict[str, Any],
    program_version: int,
    now: dt.datetime,
) -> Application:
    """Move a draft to a new version of its program, keeping its revision."""
    app.answers = answers
    app.cursor = cursor
    flag_modified(app, "answers")
    flag_modified(app, "cursor")
    app.program_version = program_version
    app.updated_at = now
    return app


async def record_answer(
    session: AsyncSession, *, application_id: int, path: str, value: Any, now: dt.datetime
) -> AnswerEvent:
    """Append one accepted answer to the history."""
    event = AnswerEvent(application_id=application_id, path=path, value=value, created_at=now)
    session.add(event)
    return event


async def add_attachment(
    session: AsyncSession,
    *,
    application_id: int,
    question_id: str,
    kind: str,
    file_name: str,
    mime_type: str,
    size: int,
    sha256: str,
    storage_path: str,
    source_ref: str,
    now: dt.datetime,
) -> Attachment:
    """Record an uploaded file: its bytes are in the file store, or, with an empty
    ``storage_path``, still only with the messenger under ``source_ref``."""
    att = Attachment(
        application_id=application_id,
        question_id=question_id,
        kind=kind,
        file_name=file_name[:255],
        mime_type=mime_type[:128],
        size=size,
        sha256=sha256,
        storage_path=storage_path,
        source_ref=source_ref[:255],
        created_at=now,
    )
    session.add(att)
    await session.flush()
    return att


async def get_attachments(session: AsyncSession, *, ids: list[int]) -> list[Attachment]:
    """Attachments by id, in the order asked."""
    if not ids:
        return []
    result = await session.execute(select(Attachment).where(col(Attachment.id).in_(ids)))
    found = {a.id: a for a in result.scalars().all()}
    return [found[i] for i in ids if i in found]


UPDATE_MEMORY = dt.timedelta(days=2)
"""How long a handled update id is remembered.  Telegram redelivers only recent
updates, and after a quiet week it may number updates anew, so an older marker
must not swallow a new update that reuses its id."""


async def mark_update(
    session: AsyncSession,
    *,
    source: str,
    update_id: str,
    now: dt.datetime,
    memory: dt.timedelta = UPDATE_MEMORY,
) -> bool:
    """Mark a transport update as handled; False if it was handled within ``memory``.

    ``update_id`` is the channel's id of the event, as text (Telegram's numbers
    in decimal digits, DingTalk's and Feishu's event ids as they are)."""
    stmt = _mark_update_statement(session.get_bind().dialect.name)
    params = {"source": source, "update_id": update_id, "now": now, "cutoff": now - memory}
    result = await session.execute(stmt, params)
    return bool(getattr(result, "rowcount", 0))


async def update_seen(
    session: AsyncSession,
    *,
    source: str,
    update_id: str,
    now: dt.datetime,
    memory: dt.timedelta = UPDATE_MEMORY,
) -> bool:
    """Whether an update was handled within ``memory`` (without marking it)."""
    result = await session.execute(
        select(ProcessedUpdate.update_id).where(
            ProcessedUpdate.source == source,
            ProcessedUpdate.update_id == update_id,
            col(ProcessedUpdate.processed_at) >= now - memory,
        )
    )
    return result.first() is not None


async def prune_updates(session: AsyncSession, *, before: dt.datetime) -> int:
    """Forget update markers older than ``before``; returns how many went."""
    result = await session.execute(
        delete(ProcessedUpdate).where(col(ProcessedUpdate.processed_at) < before)
    )
    return int(getattr(result, "rowcount", 0) or 0)
