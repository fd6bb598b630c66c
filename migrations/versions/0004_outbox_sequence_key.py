"""outbox sequence key: messages sharing one (e.g. all WeChat sends to one resident) go out in order

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sequence_key', sa.String(length=160), nullable=True))
        batch_op.create_index('ix_outbox_sequence_status', ['sequence_key', 'status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_sequence_status')
        batch_op.drop_column('sequence_key')
