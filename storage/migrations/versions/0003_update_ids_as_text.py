"""update ids as text

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 15:30:00

``processed_updates.update_id`` was a BigInteger: Telegram numbers its
updates, but DingTalk and Feishu name their events with strings.  The key is
now text (up to 128 characters); the markers already stored become their
decimal digits (``123`` -> ``'123'``), which is how the transport writes
Telegram's ids from now on, so a redelivered update is still recognised
across the upgrade.

Batch mode: SQLite copies the table with ``CAST(update_id AS VARCHAR)``;
PostgreSQL alters the column ``USING update_id::text``.  The downgrade
forgets markers that are not integers (markers are only remembered for two
days anyway) and converts the rest back.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT_KEY = sqlmodel.sql.sqltypes.AutoString(length=128)


def upgrade() -> None:
    with op.batch_alter_table("processed_updates") as batch:
        batch.alter_column(
            "update_id",
            existing_type=sa.BigInteger(),
            type_=TEXT_KEY,
            existing_nullable=False,
            postgresql_using="update_id::text",
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DELETE FROM processed_updates WHERE update_id !~ '^-?[0-9]{1,18}$'")
    else:
        # Only a canonical integer survives the round trip through INTEGER.
        op.execute(
            "DELETE FROM processed_updates"
            " WHERE CAST(CAST(update_id AS INTEGER) AS TEXT) != update_id"
        )
    with op.batch_alter_table("processed_updates") as batch:
        batch.alter_column(
            "update_id",
            existing_type=TEXT_KEY,
            type_=sa.BigInteger(),
            existing_nullable=False,
            postgresql_using="update_id::bigint",
        )
