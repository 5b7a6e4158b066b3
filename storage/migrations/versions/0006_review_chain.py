"""the review chain: submissions, review tasks, panel opinions

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 19:10:00

A submitted declaration keeps every version it was submitted as
(``submissions``, with a content hash); each organisation's turn to decide at
a level is a ``review_tasks`` row, and a panel's members' opinions are
``panel_opinions``.  An application learns its organisation, the number of its
latest submission and the name its studio was approved under; a person keeps
what their next typed message is for outside a declaration (``pending``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending', _json(), server_default='{}', nullable=False))
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('organisation_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('submission_no', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('named_as', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch_op.create_index('ix_applications_organisation_id', ['organisation_id'], unique=False)
        batch_op.create_foreign_key(
            'fk_applications_organisation_id_organisations', 'organisations', ['organisation_id'], ['id']
        )
    op.create_table(
        'submissions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('application_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('answers', _json(), nullable=False),
        sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name='fk_submissions_application_id_applications'),
        sa.PrimaryKeyConstraint('id', name='pk_submissions'),
        sa.UniqueConstraint('application_id', 'number', name='uq_submissions_application_number'),
    )
    op.create_index('ix_submissions_application_id', 'submissions', ['application_id'], unique=False)
    op.create_table(
        'review_tasks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('application_id', sa.Integer(), nullable=False),
        sa.Column('submission_no', sa.Integer(), nullable=False),
        sa.Column('level', sa.Integer(), nullable=False),
        sa.Column('level_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('seat', sa.Integer(), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_by', sa.Integer(), nullable=True),
        sa.Column('decided_role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column('opinion', sa.Text(), nullable=True),
        sa.Column('approved_name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name='fk_review_tasks_application_id_applications'),
        sa.ForeignKeyConstraint(['decided_by'], ['persons.id'], name='fk_review_tasks_decided_by_persons'),
        sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name='fk_review_tasks_organisation_id_organisations'),
        sa.PrimaryKeyConstraint('id', name='pk_review_tasks'),
    )
    op.create_index('ix_review_tasks_application_id', 'review_tasks', ['application_id'], unique=False)
    op.create_index(
        'ix_review_tasks_org_state_opened', 'review_tasks', ['organisation_id', 'state', 'opened_at'], unique=False
    )
    op.create_table(
        'panel_opinions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('agree', sa.Boolean(), nullable=False),
        sa.Column('opinion', sa.Text(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name='fk_panel_opinions_person_id_persons'),
        sa.ForeignKeyConstraint(['task_id'], ['review_tasks.id'], name='fk_panel_opinions_task_id_review_tasks'),
        sa.PrimaryKeyConstraint('id', name='pk_panel_opinions'),
        sa.UniqueConstraint('task_id', 'person_id', name='uq_panel_opinions_task_person'),
    )
    op.create_index('ix_panel_opinions_task_id', 'panel_opinions', ['task_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_panel_opinions_task_id', table_name='panel_opinions')
    op.drop_table('panel_opinions')
    op.drop_index('ix_review_tasks_org_state_opened', table_name='review_tasks')
    op.drop_index('ix_review_tasks_application_id', table_name='review_tasks')
    op.drop_table('review_tasks')
    op.drop_index('ix_submissions_application_id', table_name='submissions')
    op.drop_table('submissions')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_constraint('fk_applications_organisation_id_organisations', type_='foreignkey')
        batch_op.drop_index('ix_applications_organisation_id')
        batch_op.drop_column('named_as')
        batch_op.drop_column('submission_no')
        batch_op.drop_column('organisation_id')
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_column('pending')
