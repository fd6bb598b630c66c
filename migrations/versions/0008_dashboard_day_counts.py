"""dashboard daily summary: counts of the cases opened each China date per town, item and stage,
and the marks of days whose cases changed since (erma/dashboard/summary.py)

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


def upgrade() -> None:
    op.create_table('dashboard_day_counts',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('town_code', sa.String(length=16), nullable=False),
    sa.Column('service_code', sa.String(length=16), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    *[sa.Column(name, sa.Integer(), nullable=False) for name in COUNT_COLUMNS],
    sa.PrimaryKeyConstraint('day', 'town_code', 'service_code', 'stage')
    )
    op.create_index('ix_dashboard_day_counts_town_day', 'dashboard_day_counts', ['town_code', 'day'])
    op.create_table('dashboard_stale_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_dashboard_stale_days_day'), 'dashboard_stale_days', ['day'])
    # China dates of the cases already stored (UTC+8; China keeps no daylight saving time).
    if op.get_bind().dialect.name == 'postgresql':
        day = "CAST(timezone('UTC', created_at) + INTERVAL '480 minutes' AS DATE)"
    else:
        day = "date(created_at, '+480 minutes')"
    op.execute(f"INSERT INTO dashboard_stale_days (day) SELECT DISTINCT {day} FROM cases")


def downgrade() -> None:
    op.drop_index(op.f('ix_dashboard_stale_days_day'), table_name='dashboard_stale_days')
    op.drop_table('dashboard_stale_days')
    op.drop_index('ix_dashboard_day_counts_town_day', table_name='dashboard_day_counts')
    op.drop_table('dashboard_day_counts')
