"""identity: sign-in failures in the store, so the throttle holds across server processes

Revision ID: 0017_signin_failures
Revises: 0016_identity_sessions
"""
from alembic import op
import sqlalchemy as sa


revision = '0017_signin_failures'
down_revision = '0016_identity_sessions'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('signin_failures',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_signin_failures_key_at', 'signin_failures', ['key_hash', 'at'], unique=False)
    op.create_index('ix_signin_failures_at', 'signin_failures', ['at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_signin_failures_at', table_name='signin_failures')
    op.drop_index('ix_signin_failures_key_at', table_name='signin_failures')
    op.drop_table('signin_failures')
