"""several servers may schedule: each tick of a flow is taken by one of them

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'scheduletick',
        sa.Column('flow_id', sa.String(length=100), nullable=False),
        sa.Column('env', sa.String(length=40), nullable=False),
        sa.Column('tick_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('run_id', sa.String(length=40), nullable=False),
        sa.Column('process', sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint('flow_id', 'env', 'tick_at'),
    )


def downgrade() -> None:
    op.drop_table('scheduletick')
