"""submissions: a lease token, so only the worker holding the lease can record a scan

Revision ID: 0005_submission_lease
Revises: 0002_service
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_submission_lease'
down_revision = '0002_service'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_token', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_column('lease_token')
