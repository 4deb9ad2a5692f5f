"""live runs: what a running run has done so far, and a request to stop it

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('run') as batch:
        batch.add_column(sa.Column('progress', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('stop_requested_by', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('stop_requested_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('run') as batch:
        batch.drop_column('stop_requested_at')
        batch.drop_column('stop_requested_by')
        batch.drop_column('progress')
