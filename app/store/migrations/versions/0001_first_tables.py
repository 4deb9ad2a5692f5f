"""first tables

Revision ID: 0001
Revises: 
Create Date: 2026-11-29

The store's first tables. Types are plain SQLAlchemy ones so this file never changes meaning.
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('connection',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('env', sa.String(length=40), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('secret_settings', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', 'env')
    )
    op.create_table('cursor',
    sa.Column('flow_id', sa.String(length=100), nullable=False),
    sa.Column('node_id', sa.String(length=64), nullable=False),
    sa.Column('env', sa.String(length=40), nullable=False),
    sa.Column('position', sa.JSON(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('flow_id', 'node_id', 'env')
    )
    op.create_table('flow',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('run',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('flow_id', sa.String(length=100), nullable=False),
    sa.Column('flow_version', sa.Integer(), nullable=True),
    sa.Column('env', sa.String(length=40), nullable=False),
    sa.Column('trigger', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('totals', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_flow_id'), ['flow_id'], unique=False)
        batch_op.create_index('ix_run_flow_started', ['flow_id', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_run_status'), ['status'], unique=False)

    op.create_table('deadletter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('flow_id', sa.String(length=100), nullable=False),
    sa.Column('env', sa.String(length=40), nullable=False),
    sa.Column('node_id', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('record', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_by', sa.Text(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['run.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('deadletter', schema=None) as batch_op:
        batch_op.create_index('ix_deadletter_flow_status', ['flow_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_deadletter_run_id'), ['run_id'], unique=False)

    op.create_table('flowversion',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('flow_id', sa.String(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('author', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['flow_id'], ['flow.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('flow_id', 'version')
    )
    with op.batch_alter_table('flowversion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flowversion_flow_id'), ['flow_id'], unique=False)

    op.create_table('nodeledger',
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('node_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['run.id'], ),
    sa.PrimaryKeyConstraint('run_id', 'node_id')
    )


def downgrade() -> None:
    op.drop_table('nodeledger')
    with op.batch_alter_table('flowversion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flowversion_flow_id'))

    op.drop_table('flowversion')
    with op.batch_alter_table('deadletter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deadletter_run_id'))
        batch_op.drop_index('ix_deadletter_flow_status')

    op.drop_table('deadletter')
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_status'))
        batch_op.drop_index('ix_run_flow_started')
        batch_op.drop_index(batch_op.f('ix_run_flow_id'))

    op.drop_table('run')
    op.drop_table('flow')
    op.drop_table('cursor')
    op.drop_table('connection')
