"""Tables of studiobot.

Dialog state lives here, not in process memory: an application row holds the
answers, the cursor of the conversation and a revision counter that makes
buttons of old messages recognisable; every accepted answer is also appended
to ``answer_events``.  A ``Person`` owns applications and is reached through
one or more ``ChannelIdentity`` rows (a Telegram account today, DingTalk or
Feishu later), so a channel is a way in, not who someone is.  The review
chain and reminders of later work hang off ``Application`` (status,
``review_level``) and ``Person``.
"""

from __future__ import annotations

import datetime as dt
from enum import IntEnum, StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import declared_attr
from sqlmodel import Field, SQLModel

# Deterministic constraint names: Alembic can only alter or drop a constraint it
# can name, and SQLite batch migrations recreate tables from these names.  Set
# before any table is declared, since names are fixed at declaration.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: dt.datetime | None, dialect: sa.Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; pass an aware one")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: sa.Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def _json() -> sa.types.TypeEngine[Any]:
    """JSON that is JSONB on PostgreSQL and JSON text elsewhere."""
    return sa.JSON().with_variant(JSONB(), "postgresql")


class ApplicationStatus(StrEnum):
    """Where a declaration stands."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    RETURNED = "returned"
    APPROVED = "approved"  # named: the last level approved
    REJECTED = "rejected"
    DISCARDED = "discarded"  # a draft the applicant gave up: kept for the record, never shown

    @property
    def editable(self) -> bool:
        """Whether the applicant may change answers (a draft, or returned for revision)."""
        return self in (ApplicationStatus.DRAFT, ApplicationStatus.RETURNED)


LOCALE_CHARS = 35
"""Longest language tag kept (BCP 47 recommends supporting 35 characters)."""


class Person(SQLModel, table=True):
    """Someone using the product, whichever channels they come through."""

    __tablename__ = "persons"

    id: int | None = Field(default=None, primary_key=True)
    display_name: str = Field(default="", max_length=255)
    locale: str = Field(default="zh-CN", max_length=LOCALE_CHARS)
    """The person's language: as their channel reported it on first contact (a tag
    such as ``en`` or ``zh-hans``), else the product's default."""
    active_application_id: int | None = Field(default=None)
    pending: dict[str, Any] = Field(
        default_factory=dict, sa_type=_json(), sa_column_kwargs={"server_default": "{}"}
    )
    """What the person's next typed message is for, outside a declaration: an opinion
    being written on a review task (``{"task": id, "act": "approve", "no": n}``), or a
    search for the organisation an administrator places a declaration under."""
    remind_hour: int | None = Field(default=None)
    """The hour (0-23, local) the person wants reminders at; None: the product's."""
    mutes: list[str] = Field(
        default_factory=list, sa_type=_json(), sa_column_kwargs={"server_default": "[]"}
    )
    """Kinds of reminder the person muted (``deadline``, ``digest``, ``nudge``, ``duty``)."""
    created_at: dt.datetime = Field(sa_type=UTCDateTime())
    updated_at: dt.datetime = Field(sa_type=UTCDateTime())


class ChannelIdentity(SQLModel, table=True):
    """How a person is known on one channel: ``("telegram", "123456789")`` → person."""

    __tablename__ = "channel_identities"
    __table_args__ = (
        sa.UniqueConstraint(
            "channel", "external_id", name="uq_channel_identities_channel_external_id"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=64)
    person_id: int = Field(foreign_key="persons.id", index=True)
    created_at: dt.datetime = Field(sa_type=UTCDateTime())
    unreachable_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime())
    """When the channel refused to deliver to this identity (blocked the bot)."""


class Application(SQLModel, table=True):
    """One declaration of one person for one program: answers plus dialog cursor.

    ``user_id`` names the owning person (``persons.id``); the column kept the
    name it had before persons and channel identities were split.
    """

    __tablename__ = "applications"
    __table_args__ = (
        sa.Index("ix_applications_user_program", "user_id", "program_id"),
        sa.Index("ix_applications_status", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="persons.id")
    program_id: str = Field(max_length=32)
    program_version: int = 1
    status: str = Field(default=ApplicationStatus.DRAFT.value, max_length=16)
    answers: dict[str, Any] = Field(default_factory=dict, sa_type=_json())
    cursor: dict[str, Any] = Field(default_factory=dict, sa_type=_json())
    revision: int = 0
    review_level: int = 0
    """The level of the review chain the declaration is at (or returned from)."""
    organisation_id: int | None = Field(default=None, foreign_key="organisations.id", index=True)
    """The applicant's organisation once known (picked, or placed by an administrator):
    every level of the chain is worked out from it."""
    submission_no: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    """The number of the latest submitted version (0: never submitted)."""
    named_as: str | None = Field(default=None, max_length=255)
    """The studio's name as the final level approved it (审定的工作室名称)."""
    named_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime())
    """When the studio was named: the studio's duties (every three years…) count from it."""
    unanswered: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    """Questions of the draft still without an answer, as of its last event (what a
    deadline reminder says, without walking every draft again)."""
    created_at: dt.datetime = Field(sa_type=UTCDateTime())
    updated_at: dt.datetime = Field(sa_type=UTCDateTime())
    submitted_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime())

    @declared_attr  # type: ignore[arg-type]
    def __mapper_args__(cls) -> dict[str, Any]:
        # Every UPDATE says ``WHERE revision = <the revision read>``: a write
        # based on a stale read matches no row and raises StaleDataError
        # instead of silently overwriting newer answers.  The code bumps the
        # revision itself (buttons carry it), hence no generator.
        return {
            "version_id_col": cls.__table__.c.revision,  # type: ignore[attr-defined]
            "version_id_generator": False,
        }


class AnswerEvent(SQLModel, table=True):
    """Append-only history of accepted answers: an overwritten answer is never gone."""

    __tablename__ = "answer_events"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="applications.id", index=True)
    path: str = Field(max_length=128)
    value: Any = Field(default=None, sa_type=_json())
    created_at: dt.datetime = Field(sa_type=UTCDateTime())


class Attachment(SQLModel, table=True):
    """A photo or file uploaded for a question; the bytes live in the file store."""

    __tablename__ = "attachments"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="applications.id", index=True)
    question_id: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    file_name: str = Field(default="", max_length=255)
    mime_type: str = Field(default="", max_length=128)
    size: int = 0
    sha256: str = Field(max_length=64)
    storage_path: str = Field(max_length=512)
    source_ref: str = Field(default="", max_length=255)
    created_at: dt.datetime = Field(sa_type=UTCDateTime())


UPDATE_ID_CHARS = 128
"""Longest event id a channel may use (Telegram's are numbers, written in digits)."""


class ProcessedUpdate(SQLModel, table=True):
    """Transport updates already handled, so a redelivered update is ignored.

    ``source`` names the channel (and bot) and ``update_id`` the event there, as
    text: Telegram numbers its updates, DingTalk and Feishu name their events.
    """

    __tablename__ = "processed_updates"

    source: str = Field(primary_key=True, max_length=32)
    update_id: str = Field(primary_key=True, max_length=UPDATE_ID_CHARS)
    processed_at: dt.datetime = Field(sa_type=UTCDateTime())


# --------------------------------------------------------------------------- unions and staff


class OrganisationKind(StrEnum):
    """What an organisation is, as the seeds' chains name them."""

    CITY = "city"  # 市总工会
    DISTRICT = "district"  # 区/县/市总工会
    INDUSTRY = "industry"  # 产业工会
    ZONE = "zone"  # 开放先导区等功能区工会
    FEDERATION = "federation"  # e.g. 中国交建工会联合会
    GRASSROOTS = "grassroots"  # 基层工会
    UNIT = "unit"  # 单位
    DEPARTMENT = "department"  # a body of a unit that signs: 技术部门, 党委, 党政
    COMMISSION = "commission"  # e.g. 市科委


class Organisation(SQLModel, table=True):
    """A union, a unit or a body that signs, in one tree (``parent_id``).

    ``code`` is the organisation's stable name in import files and commands;
    the display ``name`` may change on re-import.
    """

    __tablename__ = "organisations"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=255)
    kind: str = Field(max_length=16)
    parent_id: int | None = Field(default=None, foreign_key="organisations.id", index=True)
    created_at: dt.datetime = Field(sa_type=UTCDateTime())
    updated_at: dt.datetime = Field(sa_type=UTCDateTime())


class StaffRole(StrEnum):
    """What a person does for an organisation."""

    REVIEWER = "reviewer"  # decides on declarations at the organisation's level
    ADMIN = "admin"  # also invites and removes colleagues, places unplaced applicants


class Membership(SQLModel, table=True):
    """A person's role in an organisation; removing it keeps the row (``revoked_at``)."""

    __tablename__ = "memberships"
    __table_args__ = (
        sa.UniqueConstraint(
            "person_id", "organisation_id", "role", name="uq_memberships_person_org_role"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="persons.id", index=True)
    organisation_id: int = Field(foreign_key="organisations.id", index=True)
    role: str = Field(max_length=16)
    granted_at: dt.datetime = Field(sa_type=UTCDateTime())
    granted_by: int | None = Field(default=None, foreign_key="persons.id")
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime())


class Invitation(SQLModel, table=True):
    """A one-time link that makes whoever opens it a reviewer or administrator.

    Only the SHA-256 of the token is kept: the database never holds a usable link.
    """

    __tablename__ = "invitations"

    id: int | None = Field(default=None, primary_key=True)
    token_sha256: str = Field(max_length=64, unique=True)
    organisation_id: int = Field(foreign_key="organisations.id", index=True)
    role: str = Field(max_length=16)
    created_at: dt.datetime = Field(sa_type=UTCDateTime())
    created_by: int | None = Field(default=None, foreign_key="persons.id")
    expires_at: dt.datetime = Field(sa_type=UTCDateTime())
    used_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime())
    used_by: int | None = Field(default=None, foreign_key="persons.id")
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime())


class AuditEntry(SQLModel, table=True):
    """Append-only record of every act of the review side: who, as what, when, on what."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(sa_type=UTCDateTime())
    person_id: int | None = Field(default=None, foreign_key="persons.id", index=True)
    organisation_id: int | None = Field(default=None, foreign_key="organisations.id")
    role: str | None = Field(default=None, max_length=16)
    act: str = Field(max_length=32)
    application_id: int | None = Field(default=None, foreign_key="applications.id", index=True)
    opinion: str | None = Field(default=None, sa_type=sa.Text())
    version_sha256: str | None = Field(default=None, max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=_json())


# --------------------------------------------------------------------------- messages that leave


class OutboxPriority(IntEnum):
    """Lower goes first: a decision's notice never waits behind a broadcast."""

    PERSONAL = 0  # caused by someone's own act, or a reviewer's new item
    ROUTINE = 5
    BULK = 10  # reminders, announcements


class OutboxMessage(SQLModel, table=True):
    """A message to send outside a direct reply, written in the same transaction as
    the change that causes it and delivered by the sender, at most once per
    ``dedupe_key`` (a crash after the commit loses none, a retry doubles none)."""

    __tablename__ = "outbox"
    __table_args__ = (
        # Only rows still to send, in the order they go: a sender's look at the queue
        # reads the head of this index however many rows were sent before.
        sa.Index(
            "ix_outbox_pending",
            "channel",
            "priority",
            "id",
            sqlite_where=sa.text("sent_at IS NULL AND given_up_at IS NULL"),
            postgresql_where=sa.text("sent_at IS NULL AND given_up_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=128, unique=True)
    person_id: int = Field(foreign_key="persons.id", index=True)
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=64)
    priority: int = OutboxPriority.ROUTINE
    text: str = Field(sa_type=sa.Text())
    buttons: list[Any] = Field(default_factory=list, sa_type=_json())
    application_id: int | None = Field(default=None, foreign_key="applications.id")
    revision: int = 0
    created_at: dt.datetime = Field(sa_type=UTCDateTime())
    not_before: dt.datetime = Field(sa_type=UTCDateTime())
    attempts: int = 0
    sent_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime())
    given_up_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime())
    last_error: str = Field(default="", max_length=255)
    claim_token: str | None = Field(default=None, max_length=32)
    """The sender holding the row (a random token per sender), until ``claimed_until``."""
    claimed_until: dt.datetime | None = Field(default=None, sa_type=UTCDateTime())
    """End of the holder's lease: a row held by a sender that died is taken up again
    after it (or given up, if it was being sent, see ``sending_at``)."""
    sending_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime())
    """Set, and committed, just before the channel is called; a row found with it set
    and its lease run out was cut off mid-send and is given up, never sent twice."""
    expires_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime())
    """After this the message is pointless (the date it reminds of has passed): a
    row still unsent then is given up and logged, never delivered late."""
    parts_sent: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    """Parts of a long text already delivered, so a retry sends only the rest."""


# --------------------------------------------------------------------------- the review chain


class Submission(SQLModel, table=True):
    """One submitted version of a declaration, never changed: what the reviewers read
    and decided on.  ``sha256`` hashes the answers (and the attached files' hashes),
    so an opinion is tied to exactly the text it judged."""

    __tablename__ = "submissions"
    __table_args__ = (
        sa.UniqueConstraint("application_id", "number", name="uq_submissions_application_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="applications.id", index=True)
    number: int
    sha256: str = Field(max_length=64)
    answers: dict[str, Any] = Field(default_factory=dict, sa_type=_json())
    submitted_at: dt.datetime = Field(sa_type=UTCDateTime())


class TaskState(StrEnum):
    """Where one organisation's part of one level stands."""

    OPEN = "open"
    APPROVED = "approved"
    RETURNED = "returned"
    REJECTED = "rejected"
    CLOSED = "closed"  # ended without a decision of its own (withdrawn, another seat decided)


class ReviewTask(SQLModel, table=True):
    """One organisation's turn to decide at one level on one submitted version.

    A joint level opens one task per organisation (``seat`` 0, 1, ...); the level
    passes when every seat approved.  A decision writes ``state`` from ``open``
    in one conditional update, so of two reviewers pressing at once exactly one
    decides."""

    __tablename__ = "review_tasks"
    __table_args__ = (
        sa.Index("ix_review_tasks_org_state_opened", "organisation_id", "state", "opened_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="applications.id", index=True)
    submission_no: int
    level: int
    level_id: str = Field(max_length=64)
    seat: int = 0
    organisation_id: int = Field(foreign_key="organisations.id")
    state: str = Field(default=TaskState.OPEN.value, max_length=16)
    opened_at: dt.datetime = Field(sa_type=UTCDateTime())
    decided_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime())
    decided_by: int | None = Field(default=None, foreign_key="persons.id")
    decided_role: str | None = Field(default=None, max_length=16)
    opinion: str | None = Field(default=None, sa_type=sa.Text())
    approved_name: str | None = Field(default=None, max_length=255)


class PanelOpinion(SQLModel, table=True):
    """A panel member's opinion on a task of a panel level (one per member and task;
    a member may change it until the convener closes the level)."""

    __tablename__ = "panel_opinions"
    __table_args__ = (
        sa.UniqueConstraint("task_id", "person_id", name="uq_panel_opinions_task_person"),
    )

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="review_tasks.id", index=True)
    person_id: int = Field(foreign_key="persons.id")
    agree: bool
    opinion: str = Field(sa_type=sa.Text())
    at: dt.datetime = Field(sa_type=UTCDateTime())


class LinkCode(SQLModel, table=True):
    """A one-time code joining a person's channels: asked for with ``/link`` in one
    channel, typed as ``/link CODE`` in another, it makes whoever types it the person
    who asked (their drafts and roles follow them).  Only the SHA-256 is kept."""

    __tablename__ = "link_codes"

    id: int | None = Field(default=None, primary_key=True)
    code_sha256: str = Field(max_length=64, unique=True)
    person_id: int = Field(foreign_key="persons.id", index=True)
    created_at: dt.datetime = Field(sa_type=UTCDateTime())
    expires_at: dt.datetime = Field(sa_type=UTCDateTime())
    used_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime())
