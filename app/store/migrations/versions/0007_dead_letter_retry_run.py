"""a retried dead letter names the run that retried it; an acknowledged alert who and when; a replay its run

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('replay_of', sa.String(length=40), nullable=True))
    with op.batch_alter_table('deadletter', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retried_in', sa.String(length=40), nullable=True))
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acknowledged_by', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.drop_column('replay_of')
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.drop_column('acknowledged_at')
        batch_op.drop_column('acknowledged_by')
    with op.batch_alter_table('deadletter', schema=None) as batch_op:
        batch_op.drop_column('retried_in')
