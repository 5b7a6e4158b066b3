"""reminders: each person's hour and mutes, the draft's unanswered count, the naming
date, and the outbox rows that expire

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 19:20:00

A reminder tells a leader how many questions are left (kept on the draft at each
event, ``unanswered``), reaches each person at their own hour unless muted
(``remind_hour``, ``mutes``), counts a studio's duties from its naming
(``named_at``), and is given up unsent once its date has passed
(``outbox.expires_at``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = '0007'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('remind_hour', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('mutes', _json(), server_default='[]', nullable=False))
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('named_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('unanswered', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_column('unanswered')
        batch_op.drop_column('named_at')
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_column('mutes')
        batch_op.drop_column('remind_hour')
