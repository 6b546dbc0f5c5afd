"""scale: finished backfill partitions, and leases on shared work (index snapshot builds)

Revision ID: 0015_scale
Revises: 0001_core
"""
from alembic import op
import sqlalchemy as sa


revision = '0015_scale'
down_revision = '0001_core'
branch_labels = ('scale',)
depends_on = None


def upgrade() -> None:
    op.create_table(
        'backfill_partitions',
        sa.Column('run', sa.String(length=200), nullable=False),
        sa.Column('partition', sa.Integer(), nullable=False),
        sa.Column('items', sa.Integer(), nullable=False),
        sa.Column('matched', sa.Integer(), nullable=False),
        sa.Column('errors', sa.Integer(), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('run', 'partition'),
    )
    op.create_table(
        'leases',
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('holder', sa.String(length=200), nullable=False),
        sa.Column('until', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('leases')
    op.drop_table('backfill_partitions')
