"""rating comments: the dashboard summary also counts the ratings that came with the resident's words
(rating_comments) and the 差评 among them (poor_rating_comments), per day and per month
(erma/dashboard/summary.py)

Existing rows get 0; the days of the cases whose rating has words are marked stale here (as 0008
marked every day), so the first dashboard request after the upgrade recomputes them and their months.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 09:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

TABLES = ('dashboard_day_counts', 'dashboard_month_counts')
COLUMNS = ('rating_comments', 'poor_rating_comments')


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in COLUMNS:
                batch_op.add_column(sa.Column(column, sa.Integer(), server_default='0', nullable=False))
    # China dates (UTC+8; China keeps no daylight saving time) of the cases rated with words.
    if op.get_bind().dialect.name == 'postgresql':
        day = "CAST(timezone('UTC', cases.created_at) + INTERVAL '480 minutes' AS DATE)"
    else:
        day = "date(cases.created_at, '+480 minutes')"
    op.execute(f"INSERT INTO dashboard_stale_days (day) SELECT DISTINCT {day} FROM cases "
               f"JOIN ratings ON ratings.case_id = cases.id "
               f"WHERE ratings.comment IS NOT NULL AND trim(ratings.comment) <> ''")


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in reversed(COLUMNS):
                batch_op.drop_column(column)
