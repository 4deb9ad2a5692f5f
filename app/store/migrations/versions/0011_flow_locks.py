"""one run of a flow in an environment at a time, across processes: the flow lock

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'flowlock',
        sa.Column('flow_id', sa.String(length=100), nullable=False),
        sa.Column('env', sa.String(length=40), nullable=False),
        sa.Column('run_id', sa.String(length=40), nullable=False),
        sa.Column('process', sa.String(length=100), nullable=False),
        sa.Column('since', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('flow_id', 'env'),
    )


def downgrade() -> None:
    op.drop_table('flowlock')
