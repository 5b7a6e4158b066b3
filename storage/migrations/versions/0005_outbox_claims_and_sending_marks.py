"""outbox claims and sending marks

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 14:54:10.725728

What the outbox's senders need to share one queue safely: the lease of the
sender holding a row (``claim_token``, ``claimed_until``), the mark committed
just before a row goes to the channel (``sending_at``: a row found with it
after its lease ran out was cut off mid-send and is given up rather than sent
twice), and how many parts of a long text were delivered (``parts_sent``, so a
retry sends only the rest).  The index of the queue covers only rows still to
send, in the order they go (channel, priority, age).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = "sent_at IS NULL AND given_up_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claim_token', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sending_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('parts_sent', sa.Integer(), server_default='0', nullable=False))
        batch_op.drop_index('ix_outbox_due')
        batch_op.create_index(
            'ix_outbox_pending',
            ['channel', 'priority', 'id'],
            unique=False,
            sqlite_where=sa.text(PENDING),
            postgresql_where=sa.text(PENDING),
        )


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_pending')
        batch_op.create_index('ix_outbox_due', ['sent_at', 'given_up_at', 'priority', 'id'], unique=False)
        batch_op.drop_column('parts_sent')
        batch_op.drop_column('sending_at')
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claim_token')
