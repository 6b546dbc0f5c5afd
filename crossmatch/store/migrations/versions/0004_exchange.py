"""exchange tables: exchanges (config + checkpoint) and per-item source mapping

Revision ID: 0004_exchange
Revises: 0001_core
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_exchange'
down_revision = '0001_core'
branch_labels = ('exchange',)
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('exchanges',
    sa.Column('id', BigId, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('bank_name', sa.String(length=200), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('interval_seconds', sa.Integer(), nullable=False),
    sa.Column('checkpoint', sa.JSON(), nullable=True),
    sa.Column('run', sa.Integer(), nullable=False),
    sa.Column('last_sync_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('exchange_items',
    sa.Column('id', BigId, nullable=False),
    sa.Column('exchange_id', BigId, nullable=False),
    sa.Column('source_key', sa.String(length=500), nullable=False),
    sa.Column('external_id', sa.String(length=500), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('last_seen_run', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['exchange_id'], ['exchanges.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('exchange_id', 'source_key', name='uq_exchange_item_key')
    )
    with op.batch_alter_table('exchange_items', schema=None) as batch_op:
        batch_op.create_index('ix_exchange_items_exchange_id', ['exchange_id'], unique=False)
        batch_op.create_index('ix_exchange_items_external_id', ['external_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('exchange_items', schema=None) as batch_op:
        batch_op.drop_index('ix_exchange_items_external_id')
        batch_op.drop_index('ix_exchange_items_exchange_id')
    op.drop_table('exchange_items')
    op.drop_table('exchanges')
