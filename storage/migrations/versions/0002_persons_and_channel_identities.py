"""persons and channel identities

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 15:00:00

``users`` held one row per channel account.  It is split into ``persons``
(name, locale, active application: who someone is) and ``channel_identities``
(channel + external id -> person: how they reach the bot), so one person can
come through Telegram, DingTalk or Feishu.  Every user becomes a person with
the same id, so ``applications.user_id`` keeps pointing at its owner (its
foreign key now names ``persons``), and their channel account becomes their
one identity.  Nothing is lost.

Written by hand: the rows move with INSERT ... SELECT that runs on SQLite and
PostgreSQL alike; the foreign key of ``applications`` is changed in batch mode
(SQLite copies the table; PostgreSQL alters it in place).  Ids are copied, so
PostgreSQL's sequence of ``persons`` is moved past them.

The downgrade keeps each person's oldest identity: identities a person gained
on further channels are lost, as ``users`` cannot hold them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _advance_sequence(table: str) -> None:
    """After rows were copied with their ids, hand out ids past the largest (PostgreSQL)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
            f" COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
        )


def _owner_of_applications(old: str, new: str) -> None:
    with op.batch_alter_table("applications") as batch:
        batch.drop_constraint(f"fk_applications_user_id_{old}", type_="foreignkey")
        batch.create_foreign_key(f"fk_applications_user_id_{new}", new, ["user_id"], ["id"])


def upgrade() -> None:
    op.create_table(
        "persons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("display_name", _string(255), nullable=False),
        sa.Column("locale", _string(35), nullable=False),
        sa.Column("active_application_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
    )
    op.create_table(
        "channel_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", _string(16), nullable=False),
        sa.Column("external_id", _string(64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_channel_identities_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_identities")),
        sa.UniqueConstraint(
            "channel", "external_id", name="uq_channel_identities_channel_external_id"
        ),
    )
    op.create_index(
        op.f("ix_channel_identities_person_id"), "channel_identities", ["person_id"], unique=False
    )
    op.execute(
        "INSERT INTO persons"
        " (id, display_name, locale, active_application_id, created_at, updated_at)"
        " SELECT id, display_name, locale, active_application_id, created_at, updated_at"
        " FROM users"
    )
    _advance_sequence("persons")
    op.execute(
        "INSERT INTO channel_identities (channel, external_id, person_id, created_at)"
        " SELECT channel, external_id, id, created_at FROM users ORDER BY id"
    )
    _owner_of_applications("users", "persons")
    op.drop_table("users")


def downgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", _string(16), nullable=False),
        sa.Column("external_id", _string(64), nullable=False),
        sa.Column("display_name", _string(255), nullable=False),
        sa.Column("locale", _string(8), nullable=False),
        sa.Column("active_application_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("channel", "external_id", name="uq_users_channel_ext"),
    )
    op.execute(
        "INSERT INTO users (id, channel, external_id, display_name, locale,"
        " active_application_id, created_at, updated_at)"
        " SELECT p.id, i.channel, i.external_id, p.display_name, SUBSTR(p.locale, 1, 8),"
        " p.active_application_id, p.created_at, p.updated_at"
        " FROM persons p JOIN channel_identities i ON i.person_id = p.id"
        " WHERE i.id = (SELECT MIN(j.id) FROM channel_identities j WHERE j.person_id = p.id)"
    )
    _advance_sequence("users")
    _owner_of_applications("persons", "users")
    op.drop_index(op.f("ix_channel_identities_person_id"), table_name="channel_identities")
    op.drop_table("channel_identities")
    op.drop_table("persons")
