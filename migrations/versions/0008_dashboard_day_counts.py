"""dashboard summary: counts of the cases opened each China date and each month per town, item and
stage, conversations per day, and the marks of days that changed since (erma/dashboard/summary.py)

Existing cases are marked stale here, so the first dashboard request after the upgrade computes
their summary.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 07:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

COUNT_COLUMNS = ['cases', 'completed', 'completed_on_time', 'visits', 'visits_le1', 'deferrals',
                 'deferrals_supplied', 'supplied_on_time', 'rating_1', 'rating_2', 'rating_3', 'rating_4',
                 'rating_5', 'chat_cases', 'handed_off']


def _counts_table(name: str, key: str) -> None:
    op.create_table(name,
    sa.Column(key, sa.Date(), nullable=False),
    sa.Column('town_code', sa.String(length=16), nullable=False),
    sa.Column('service_code', sa.String(length=16), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    *[sa.Column(column, sa.Integer(), nullable=False) for column in COUNT_COLUMNS],
    sa.PrimaryKeyConstraint(key, 'town_code', 'service_code', 'stage')
    )


def upgrade() -> None:
    _counts_table('dashboard_day_counts', 'day')
    op.create_index('ix_dashboard_day_counts_town_day', 'dashboard_day_counts', ['town_code', 'day'])
    _counts_table('dashboard_month_counts', 'month')
    op.create_table('dashboard_conversation_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('conversations', sa.Integer(), nullable=False),
    sa.Column('handed_off', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day')
    )
    op.create_table('dashboard_stale_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_dashboard_stale_days_day'), 'dashboard_stale_days', ['day'])
    # China dates of the cases and conversations already stored (UTC+8; China keeps no daylight
    # saving time).
    if op.get_bind().dialect.name == 'postgresql':
        day = "CAST(timezone('UTC', created_at) + INTERVAL '480 minutes' AS DATE)"
    else:
        day = "date(created_at, '+480 minutes')"
    op.execute(f"INSERT INTO dashboard_stale_days (day) SELECT DISTINCT {day} FROM cases "
               f"UNION SELECT DISTINCT {day} FROM conversations")


def downgrade() -> None:
    op.drop_index(op.f('ix_dashboard_stale_days_day'), table_name='dashboard_stale_days')
    op.drop_table('dashboard_stale_days')
    op.drop_table('dashboard_conversation_days')
    op.drop_table('dashboard_month_counts')
    op.drop_index('ix_dashboard_day_counts_town_day', table_name='dashboard_day_counts')
    op.drop_table('dashboard_day_counts')
