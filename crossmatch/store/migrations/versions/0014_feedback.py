"""exchange feedback: reviewer verdicts pushed upstream, one row per (exchange, case, bank item)

Revision ID: 0014_feedback
Revises: 0004_exchange
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_feedback'
down_revision = '0004_exchange'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'exchange_feedback',
        sa.Column('id', BigId, nullable=False),
        sa.Column('exchange_id', BigId, nullable=False),
        sa.Column('case_id', BigId, nullable=False),
        sa.Column('bank_item', sa.String(length=500), nullable=False),
        sa.Column('opinion', sa.String(length=20), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['exchange_id'], ['exchanges.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('exchange_id', 'case_id', 'bank_item', name='uq_exchange_feedback'),
    )
    op.create_index('ix_exchange_feedback_exchange_id', 'exchange_feedback', ['exchange_id'])


def downgrade() -> None:
    op.drop_index('ix_exchange_feedback_exchange_id', table_name='exchange_feedback')
    op.drop_table('exchange_feedback')
