"""dashboard spans: the summary rolled up into days, dekads, months, quarters and years per town and
item with the stages as columns (replaces the month rows per stage); the deferrals still owed per
day; the (stage, promised date) index carrying what the open cases' live ages read, and a partial
index of the unsupplied deferrals (the dashboard's live counts)

A year's county view summed ~10^5 day and month rows per stage at a million cases; a range is now
read as the fewest whole spans that tile it, each at most towns × items rows (erma/dashboard/summary.py).
The open cases' ages were read from an index over every case's opening time; the (stage, promised
date) index of 0017 now carries the opening time, town and item, so they are an index-only scan of
the open stages' entries. (A partial index of the open cases by opening time did the same, but made
PostgreSQL answer the duty lead's overdue list with a bitmap AND of it and another index: 0.5 s.)
Overdue 容缺 were counted live, every one of them, and they pile up over the years; the summary now
keeps the deferrals still owed (erma/deferral/overdue.py deferral_owed) and the dashboard counts live
only the owed ones still inside their deadline, on a partial index of the unsupplied deferrals.

Every stored day is marked stale, so the spans are computed by the next refresh (the worker's, the
dashboard's first look, or `python -m erma dashboard-rebuild`).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 18:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

COUNT_COLUMNS = ['cases', 'completed', 'completed_on_time', 'visits', 'visits_le1', 'deferrals',
                 'deferrals_supplied', 'supplied_on_time', 'rating_1', 'rating_2', 'rating_3', 'rating_4',
                 'rating_5', 'chat_cases', 'handed_off']
LATER_COLUMNS = ['rating_comments', 'poor_rating_comments', 'visits_recorded']  # 0014, 0015: server default 0
OWED = 'deferrals_owed'  # new here, server default 0 as well
STAGES = ['received', 'town_review', 'returned_for_correction', 'rejected', 'approved', 'deferral_accepted',
          'at_department', 'completed', 'delivered', 'rated', 'followed_up', 'withdrawn', 'terminated']
UNSUPPLIED = "supplied_at IS NULL"


def _day(dialect: str) -> str:
    # China dates (UTC+8 all year), as migration 0008 computes them.
    if dialect == 'postgresql':
        return "CAST(timezone('UTC', created_at) + INTERVAL '480 minutes' AS DATE)"
    return "date(created_at, '+480 minutes')"


def upgrade() -> None:
    op.create_table('dashboard_span_counts',
    sa.Column('span', sa.String(length=8), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('town_code', sa.String(length=16), nullable=False),
    sa.Column('service_code', sa.String(length=16), nullable=False),
    *[sa.Column(f'stage_{stage}', sa.Integer(), nullable=False) for stage in STAGES],
    *[sa.Column(column, sa.Integer(), nullable=False) for column in COUNT_COLUMNS],
    *[sa.Column(column, sa.Integer(), server_default='0', nullable=False) for column in [*LATER_COLUMNS, OWED]],
    sa.PrimaryKeyConstraint('span', 'first_day', 'town_code', 'service_code')
    )
    op.drop_table('dashboard_month_counts')
    op.add_column('dashboard_day_counts', sa.Column(OWED, sa.Integer(), server_default='0', nullable=False))
    op.drop_index('ix_cases_stage_expected', table_name='cases')
    op.create_index('ix_cases_stage_expected', 'cases', ['stage', 'expected_completion_date'],
                    postgresql_include=['created_at', 'hukou_town_code', 'service_code'])
    op.create_index('ix_deferrals_unsupplied_deadline', 'deferrals', ['deadline'], postgresql_include=['case_id'],
                    postgresql_where=sa.text(UNSUPPLIED), sqlite_where=sa.text(UNSUPPLIED))
    day = _day(op.get_bind().dialect.name)
    op.execute(f"INSERT INTO dashboard_stale_days (day) SELECT DISTINCT {day} FROM cases "
               f"UNION SELECT DISTINCT {day} FROM conversations")


def downgrade() -> None:
    op.drop_index('ix_deferrals_unsupplied_deadline', table_name='deferrals')
    op.drop_index('ix_cases_stage_expected', table_name='cases')
    op.create_index('ix_cases_stage_expected', 'cases', ['stage', 'expected_completion_date'])
    with op.batch_alter_table('dashboard_day_counts') as batch:  # SQLite drops a column by copying the table
        batch.drop_column(OWED)
    op.create_table('dashboard_month_counts',
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('town_code', sa.String(length=16), nullable=False),
    sa.Column('service_code', sa.String(length=16), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    *[sa.Column(column, sa.Integer(), nullable=False) for column in COUNT_COLUMNS],
    *[sa.Column(column, sa.Integer(), server_default='0', nullable=False) for column in LATER_COLUMNS],
    sa.PrimaryKeyConstraint('month', 'town_code', 'service_code', 'stage')
    )
    op.drop_table('dashboard_span_counts')
    # The month rows are computed again from the day rows by the next refresh.
    op.execute("INSERT INTO dashboard_stale_days (day) SELECT DISTINCT day FROM dashboard_day_counts")

