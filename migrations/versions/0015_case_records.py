"""case records: materials received (material_receipts), trips (case_visits), counter clerks'
intake points (staff.intake_point_code), 同意容缺 decisions (review_opinions.deferred_materials),
admin-edited holiday overrides (calendar_overrides, calendar_years) and the dashboard's count of cases with a
recorded trip (visits_recorded)

Existing cases: what the resident said they had becomes `declared` receipts at the case's intake point
(nothing was ever recorded as seen); each recorded visit event becomes a trip without a place. Every
summary day is marked stale so the first dashboard request recomputes the trip figures.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-09 09:00:00
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

SUMMARY_TABLES = ('dashboard_day_counts', 'dashboard_month_counts')


def upgrade() -> None:
    op.create_table(
        'material_receipts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('material', sa.String(length=200), nullable=False),
        sa.Column('form', sa.String(length=12), nullable=False),
        sa.Column('occasion', sa.String(length=20), nullable=False),
        sa.Column('intake_point_code', sa.String(length=64), nullable=True),
        sa.Column('staff_id', sa.Integer(), nullable=True),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.ForeignKeyConstraint(['intake_point_code'], ['intake_points.code']),
        sa.ForeignKeyConstraint(['staff_id'], ['staff.id']),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_material_receipts_case_at', 'material_receipts', ['case_id', 'at'], unique=False)
    op.create_table(
        'case_visits',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(length=20), nullable=False),
        sa.Column('intake_point_code', sa.String(length=64), nullable=True),
        sa.Column('staff_id', sa.Integer(), nullable=True),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.ForeignKeyConstraint(['intake_point_code'], ['intake_points.code']),
        sa.ForeignKeyConstraint(['staff_id'], ['staff.id']),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_case_visits_case_at', 'case_visits', ['case_id', 'at'], unique=False)
    op.create_table(
        'calendar_overrides',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('note', sa.String(length=200), nullable=False),
        sa.Column('updated_by', sa.String(length=64), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('day'))
    op.create_table(
        'calendar_years',
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('source', sa.String(length=200), nullable=False),
        sa.Column('updated_by', sa.String(length=64), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('year'))
    # A plain ADD COLUMN: a batch rebuild of `staff` would fail on SQLite while rows point at it.
    op.add_column('staff', sa.Column('intake_point_code', sa.String(length=64), nullable=True))
    op.add_column('review_opinions', sa.Column('deferred_materials', sa.JSON(), nullable=True))
    for table in SUMMARY_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('visits_recorded', sa.Integer(), server_default='0', nullable=False))
    _backfill()


def _backfill() -> None:
    conn = op.get_bind()
    receipts = sa.table('material_receipts', *(sa.column(c) for c in (
        'case_id', 'material', 'form', 'occasion', 'intake_point_code', 'actor', 'at')))
    rows = conn.execute(sa.text("SELECT id, materials_have, intake_point_code, created_at FROM cases")).all()
    batch = []
    for case_id, have, point, created in rows:
        names = json.loads(have) if isinstance(have, str) else (have or [])
        batch += [{'case_id': case_id, 'material': name, 'form': 'declared', 'occasion': 'intake',
                   'intake_point_code': point, 'actor': 'system', 'at': created} for name in names]
        if len(batch) >= 1000:
            conn.execute(receipts.insert(), batch)
            batch = []
    if batch:
        conn.execute(receipts.insert(), batch)
    op.execute("INSERT INTO case_visits (case_id, purpose, intake_point_code, staff_id, actor, note, at) "
               "SELECT case_id, 'hand_in', NULL, NULL, actor, note, at FROM case_events WHERE kind = 'visit'")
    op.execute("UPDATE cases SET visits = (SELECT count(*) FROM case_visits WHERE case_visits.case_id = cases.id)")
    op.execute("INSERT INTO dashboard_stale_days (day) SELECT DISTINCT day FROM dashboard_day_counts")


def downgrade() -> None:
    for table in reversed(SUMMARY_TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('visits_recorded')
    op.execute('ALTER TABLE review_opinions DROP COLUMN deferred_materials')
    op.execute('ALTER TABLE staff DROP COLUMN intake_point_code')  # SQLite ≥ 3.35 and PostgreSQL alike
    op.drop_table('calendar_years')
    op.drop_table('calendar_overrides')
    op.drop_index('ix_case_visits_case_at', table_name='case_visits')
    op.drop_table('case_visits')
    op.drop_index('ix_material_receipts_case_at', table_name='material_receipts')
    op.drop_table('material_receipts')
