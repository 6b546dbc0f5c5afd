"""signals: index (type, id) instead of (type, value)

Nothing looks signals up by value (indices are built by type, in id order),
and a b-tree entry holding the value cannot take a keypoints signal (about
12 KB): PostgreSQL refuses index rows over 8 KB.

Revision ID: 0010_signals_type_id_index
Revises: 0001_core
"""
from alembic import op


revision = '0010_signals_type_id_index'
down_revision = '0001_core'
branch_labels = ('signal_indexes',)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('signals', schema=None) as batch_op:
        batch_op.drop_index('ix_signals_type_value')
        batch_op.create_index('ix_signals_type_id', ['type', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('signals', schema=None) as batch_op:
        batch_op.drop_index('ix_signals_type_id')
        batch_op.create_index('ix_signals_type_value', ['type', 'value'], unique=False)
