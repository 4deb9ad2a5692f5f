"""the durable outcome of each record a write sends to a target that cannot roll back (an API);
a run's process (to tell an interrupted run from a running one) and the document it ran from a file

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('writeoutcome',
    sa.Column('env', sa.String(length=20), nullable=False),
    sa.Column('flow_id', sa.String(length=100), nullable=False),
    sa.Column('node_id', sa.String(length=64), nullable=False),
    sa.Column('record_key', sa.String(length=255), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('target_id', sa.String(length=255), nullable=True),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('env', 'flow_id', 'node_id', 'record_key')
    )
    with op.batch_alter_table('writeoutcome', schema=None) as batch_op:
        batch_op.create_index('ix_writeoutcome_run', ['run_id'], unique=False)
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('process', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('document', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.drop_column('document')
        batch_op.drop_column('process')
    op.drop_table('writeoutcome')
