"""wechat nonces: the nonces of signed WeChat callbacks seen within the ±5-minute timestamp window,
so a captured request cannot be replayed

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-06 01:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('wechat_nonces',
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('nonce')
    )
    op.create_index(op.f('ix_wechat_nonces_seen_at'), 'wechat_nonces', ['seen_at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_wechat_nonces_seen_at'), table_name='wechat_nonces')
    op.drop_table('wechat_nonces')
