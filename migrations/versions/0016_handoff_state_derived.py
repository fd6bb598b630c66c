"""handoff requests: no stored state. Whether a request is open, taken or closed is read from its
conversation (erma/conversations/handoff.py: the conversation's latest request is open while the
conversation is queued or with an agent), so it can no longer disagree with the conversation's owner.

Walking down writes the state back the same way: the latest request of a queued conversation is
`queued`, of a conversation with an agent `taken`, and every other request `closed`.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-10 09:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('handoff_requests', schema=None) as batch_op:
        batch_op.drop_column('state')


def downgrade() -> None:
    with op.batch_alter_table('handoff_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.String(length=16), nullable=False, server_default='closed'))
    op.execute("UPDATE handoff_requests SET state = CASE (SELECT c.state FROM conversations c "
               "WHERE c.id = handoff_requests.conversation_id) WHEN 'queued' THEN 'queued' WHEN 'agent' THEN 'taken' "
               "ELSE 'closed' END "
               "WHERE id IN (SELECT max(h.id) FROM handoff_requests h GROUP BY h.conversation_id)")
    with op.batch_alter_table('handoff_requests', schema=None) as batch_op:
        batch_op.alter_column('state', server_default=None)
