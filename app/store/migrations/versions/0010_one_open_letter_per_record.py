"""one open dead letter per flow, environment, node and record (count, last seen); the system's answer kept as
details; a test case's expected failures

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deadletter', schema=None) as batch_op:
        batch_op.add_column(sa.Column('record_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('count', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('details', sa.Text(), nullable=True))
        batch_op.create_index('ix_deadletter_record_key', ['record_key'], unique=False)
    with op.batch_alter_table('testcase', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expected_failed', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('testcase', schema=None) as batch_op:
        batch_op.drop_column('expected_failed')
    with op.batch_alter_table('deadletter', schema=None) as batch_op:
        batch_op.drop_index('ix_deadletter_record_key')
        batch_op.drop_column('details')
        batch_op.drop_column('last_seen_at')
        batch_op.drop_column('count')
        batch_op.drop_column('record_key')
