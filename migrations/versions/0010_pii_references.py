"""pii references: ID numbers and phones residents type are kept encrypted per conversation and
named in transcripts and Rasa's trackers by a reference (〔身份证#…〕 / 〔手机#…〕)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 09:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pii_references',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('value_enc', sa.Text(), nullable=False),
    sa.Column('value_hash', sa.String(length=64), nullable=False),
    sa.Column('masked', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('conversation_id', 'code', name='uq_pii_references_code'),
    sa.UniqueConstraint('conversation_id', 'kind', 'value_hash', name='uq_pii_references_value')
    )
    op.create_index(op.f('ix_pii_references_conversation_id'), 'pii_references', ['conversation_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_pii_references_conversation_id'), table_name='pii_references')
    op.drop_table('pii_references')
