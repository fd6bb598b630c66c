"""case bindings: the conversations that may act on a case (the one that opened it, and those that
proved ownership with the last four digits), with the channel user (WeChat openid)

Existing cases opened from a conversation are bound to it (`opened`).

Revision ID: 0011
Revises: 0009
Create Date: 2026-11-29 09:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_bindings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.String(length=128), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('external_user_id', sa.String(length=128), nullable=True),
    sa.Column('how', sa.String(length=8), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'conversation_id', name='uq_case_bindings_case_conversation')
    )
    op.create_index(op.f('ix_case_bindings_case_id'), 'case_bindings', ['case_id'])
    op.create_index(op.f('ix_case_bindings_conversation_id'), 'case_bindings', ['conversation_id'])
    op.create_index('ix_case_bindings_channel_user', 'case_bindings', ['channel', 'external_user_id'])
    op.execute("""
        INSERT INTO case_bindings (case_id, conversation_id, channel, external_user_id, how, at)
        SELECT c.id, c.conversation_id, COALESCE(v.channel, c.channel), v.external_user_id, 'opened', c.created_at
        FROM cases c LEFT JOIN conversations v ON v.id = c.conversation_id
        WHERE c.conversation_id IS NOT NULL
    """)


def downgrade() -> None:
    op.drop_index('ix_case_bindings_channel_user', table_name='case_bindings')
    op.drop_index(op.f('ix_case_bindings_conversation_id'), table_name='case_bindings')
    op.drop_index(op.f('ix_case_bindings_case_id'), table_name='case_bindings')
    op.drop_table('case_bindings')
