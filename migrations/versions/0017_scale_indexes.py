"""scale indexes: an agent's cases by stage (the least-loaded agent at intake counts only open cases),
open follow-up tasks by due date (the paged follow-up list), cases by stage and promised date (overdue)

Choosing the least-loaded agent counted an agent's open cases through the index on `cases.agent_id`
alone, which reads every case the agent ever had (115,000 rows for 5,000 open ones at a million
cases). On (agent_id, stage) the count reads only the open stages' entries. It replaces the
single-column index (the leading column still serves the foreign key and "my cases").
The follow-up list pages open tasks earliest due first: (status, due_date, id) reads one page.
Cases past their promised date (the duty lead's list, the dashboard) are found on (stage,
expected_completion_date) without reading the rows of the 40,000 open cases a million-case county
carries; it replaces the single-column index on stage (its leading column).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-11 09:00:00
"""
from __future__ import annotations

from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_cases_agent_stage', 'cases', ['agent_id', 'stage'])
    op.drop_index('ix_cases_agent_id', table_name='cases')
    op.create_index('ix_followup_tasks_status_due', 'followup_tasks', ['status', 'due_date', 'id'])
    op.create_index('ix_cases_stage_expected', 'cases', ['stage', 'expected_completion_date'])
    op.drop_index('ix_cases_stage', table_name='cases')


def downgrade() -> None:
    op.create_index('ix_cases_stage', 'cases', ['stage'])
    op.drop_index('ix_cases_stage_expected', table_name='cases')
    op.drop_index('ix_followup_tasks_status_due', table_name='followup_tasks')
    op.create_index('ix_cases_agent_id', 'cases', ['agent_id'])
    op.drop_index('ix_cases_agent_stage', table_name='cases')
