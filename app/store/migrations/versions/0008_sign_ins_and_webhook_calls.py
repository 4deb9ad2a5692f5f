"""sign-ins made anew at each sign-in (no session fixation); signed webhook calls seen (no replays)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('signin',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_name', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('token_hash')
    )
    with op.batch_alter_table('signin', schema=None) as batch_op:
        batch_op.create_index('ix_signin_user_name', ['user_name'], unique=False)
    op.create_table('webhookcall',
    sa.Column('signature_hash', sa.String(length=64), nullable=False),
    sa.Column('flow_id', sa.String(length=100), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('signature_hash')
    )
    with op.batch_alter_table('webhookcall', schema=None) as batch_op:
        batch_op.create_index('ix_webhookcall_seen_at', ['seen_at'], unique=False)


def downgrade() -> None:
    op.drop_table('webhookcall')
    op.drop_table('signin')
