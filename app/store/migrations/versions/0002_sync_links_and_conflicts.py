"""sync links (ID cross-reference with snapshots) and the conflict queue

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('synclink',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('env', sa.String(length=40), nullable=False),
    sa.Column('entity', sa.String(length=64), nullable=False),
    sa.Column('a_system', sa.String(length=64), nullable=False),
    sa.Column('a_id', sa.String(length=200), nullable=False),
    sa.Column('b_system', sa.String(length=64), nullable=False),
    sa.Column('b_id', sa.String(length=200), nullable=False),
    sa.Column('a_snapshot', sa.JSON(), nullable=True),
    sa.Column('b_snapshot', sa.JSON(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('env', 'entity', 'a_system', 'a_id', 'b_system'),
    sa.UniqueConstraint('env', 'entity', 'b_system', 'b_id', 'a_system')
    )
    op.create_table('conflict',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('env', sa.String(length=40), nullable=False),
    sa.Column('flow_id', sa.String(length=100), nullable=False),
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('entity', sa.String(length=64), nullable=False),
    sa.Column('field', sa.String(length=100), nullable=False),
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_id', sa.String(length=200), nullable=False),
    sa.Column('source_value', sa.JSON(), nullable=True),
    sa.Column('target_system', sa.String(length=64), nullable=False),
    sa.Column('target_id', sa.String(length=200), nullable=False),
    sa.Column('target_value', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_by', sa.Text(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('conflict', schema=None) as batch_op:
        batch_op.create_index('ix_conflict_status', ['env', 'status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('conflict', schema=None) as batch_op:
        batch_op.drop_index('ix_conflict_status')
    op.drop_table('conflict')
    op.drop_table('synclink')
