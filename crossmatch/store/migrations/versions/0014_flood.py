"""flood quarantine: per-signal match hits and quarantines

Revision ID: 0014_flood
Revises: 0001_core
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_flood'
down_revision = '0001_core'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'flood_hits',
        sa.Column('id', BigId, nullable=False),
        sa.Column('bank_item_id', BigId, nullable=False),
        sa.Column('signal_type', sa.String(length=40), nullable=False),
        sa.Column('upload', sa.String(length=200), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('bank_item_id', 'signal_type', 'upload', name='uq_flood_hit_upload'),
    )
    op.create_index('ix_flood_hits_signal_at', 'flood_hits', ['bank_item_id', 'signal_type', 'at'])
    op.create_table(
        'flood_quarantines',
        sa.Column('id', BigId, nullable=False),
        sa.Column('bank_item_id', BigId, nullable=False),
        sa.Column('signal_type', sa.String(length=40), nullable=False),
        sa.Column('bank', sa.String(length=200), nullable=False),
        sa.Column('bank_item', sa.String(length=500), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('case_id', BigId, nullable=True),
        sa.Column('held', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_by', sa.String(length=200), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('bank_item_id', 'signal_type', name='uq_flood_quarantine_signal'),
    )


def downgrade() -> None:
    op.drop_table('flood_quarantines')
    op.drop_index('ix_flood_hits_signal_at', table_name='flood_hits')
    op.drop_table('flood_hits')
