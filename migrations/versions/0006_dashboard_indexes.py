"""dashboard indexes: cases by opening date (covering the dashboard's columns), by town and date,
completion events by date, conversations by start

The county dashboard aggregates the cases opened in a date range; with 100,000 cases, sequential
scans of the wide cases table (encrypted identity columns), of every case event and of every
conversation cost most of a request. On PostgreSQL the case indexes carry the columns the
dashboard reads (INCLUDE), so it never touches the table rows; SQLite gets the plain indexes.
The town + date index also serves staff case lists (`GET /api/v1/cases?town=…`, newest first).

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-27 04:00:00
"""
from __future__ import annotations

from alembic import op

revision = '0006'
down_revision = '0004'
branch_labels = None
depends_on = None

DASHBOARD_COLUMNS = ['id', 'service_code', 'stage', 'visits', 'expected_completion_date', 'conversation_id']


def upgrade() -> None:
    op.create_index('ix_cases_created_at', 'cases', ['created_at'],
                    postgresql_include=['hukou_town_code', *DASHBOARD_COLUMNS])
    op.create_index('ix_cases_town_created', 'cases', ['hukou_town_code', 'created_at'],
                    postgresql_include=DASHBOARD_COLUMNS)
    op.create_index('ix_case_events_to_stage_at', 'case_events', ['to_stage', 'at', 'case_id'])
    op.create_index('ix_conversations_created_at', 'conversations', ['created_at', 'id'])


def downgrade() -> None:
    op.drop_index('ix_conversations_created_at', table_name='conversations')
    op.drop_index('ix_case_events_to_stage_at', table_name='case_events')
    op.drop_index('ix_cases_town_created', table_name='cases')
    op.drop_index('ix_cases_created_at', table_name='cases')
