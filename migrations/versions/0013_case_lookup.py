"""case lookup: cases.id_last6_hash, a keyed hash of the last six characters of the applicant's ID
number, so a resident who lost the case number finds their cases (erma/status/service.py find_cases)

Existing cases are filled in here by decrypting their ID numbers with the platform's key
(ERMA_PII_KEY, read through erma.settings as the platform reads it): run the upgrade with the same
key the platform uses. A number that does not decrypt stops the upgrade rather than leaving cases
that no lookup could find.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 09:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptography.fernet import InvalidToken

from erma import pii

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

BATCH = 500
cases = sa.table('cases', sa.column('id', sa.Integer()), sa.column('id_number_enc', sa.Text()),
                 sa.column('id_last6_hash', sa.String(64)))


def _last6_hash(id_number: str) -> str:
    # A frozen copy of erma.status.keys.id_last6_hash: the value the platform computes at intake and lookup.
    return pii.keyed_hash("last6:" + id_number.strip()[-6:].upper())


def upgrade() -> None:
    op.add_column('cases', sa.Column('id_last6_hash', sa.String(length=64), nullable=True))
    op.create_index(op.f('ix_cases_id_last6_hash'), 'cases', ['id_last6_hash'], unique=False)

    conn = op.get_bind()
    after = 0
    while True:
        rows = conn.execute(sa.select(cases.c.id, cases.c.id_number_enc)
                            .where(cases.c.id > after, cases.c.id_last6_hash.is_(None))
                            .order_by(cases.c.id).limit(BATCH)).all()
        if not rows:
            break
        values = []
        for case_id, token in rows:
            try:
                values.append({"case_id": case_id, "hash": _last6_hash(pii.decrypt(token))})
            except InvalidToken:
                raise RuntimeError(f"case id {case_id}: the ID number does not decrypt with this ERMA_PII_KEY; "
                                   "run the upgrade with the platform's key") from None
        conn.execute(cases.update().where(cases.c.id == sa.bindparam('case_id'))
                     .values(id_last6_hash=sa.bindparam('hash')), values)
        after = rows[-1][0]


def downgrade() -> None:
    # Not in batch mode: on SQLite that copies `cases` into a new table and drops the old one, which
    # the foreign keys of its events and bindings refuse. SQLite (3.35+) drops an unindexed column.
    op.drop_index(op.f('ix_cases_id_last6_hash'), table_name='cases')
    op.drop_column('cases', 'id_last6_hash')
