"""outlets: posts as signals + metadata, announced accounts and outlets, candidate bank items;
submissions carry a structured source record

Revision ID: 0013_outlets
Revises: 0005_submission_lease
"""
from alembic import op
import sqlalchemy as sa


revision = '0013_outlets'
down_revision = '0005_submission_lease'
branch_labels = ('outlets',)
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('outlet_posts',
    sa.Column('id', BigId, nullable=False),
    sa.Column('post_key', sa.String(length=400), nullable=False),
    sa.Column('submission_id', sa.BigInteger(), nullable=True),
    sa.Column('platform', sa.String(length=40), nullable=True),
    sa.Column('account', sa.String(length=40), nullable=True),
    sa.Column('handle', sa.String(length=300), nullable=True),
    sa.Column('post_id', sa.String(length=300), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('parent', sa.String(length=300), nullable=True),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('language', sa.String(length=20), nullable=True),
    sa.Column('links', sa.JSON(), nullable=False),
    sa.Column('matches', sa.JSON(), nullable=False),
    sa.Column('unbanked', sa.JSON(), nullable=False),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('post_key')
    )
    op.create_index('ix_outlet_posts_account', 'outlet_posts', ['account'], unique=False)
    op.create_index('ix_outlet_posts_expires_at', 'outlet_posts', ['expires_at'], unique=False)
    op.create_table('outlet_accounts',
    sa.Column('account', sa.String(length=40), nullable=False),
    sa.Column('platform', sa.String(length=40), nullable=True),
    sa.Column('handle', sa.String(length=300), nullable=True),
    sa.Column('flagged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('flag_reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('account')
    )
    op.create_table('outlets',
    sa.Column('id', BigId, nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('members', sa.JSON(), nullable=False),
    sa.Column('detected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('outlet_candidates',
    sa.Column('id', BigId, nullable=False),
    sa.Column('cluster_key', sa.String(length=300), nullable=False),
    sa.Column('signal_type', sa.String(length=40), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('accounts', sa.JSON(), nullable=False),
    sa.Column('posts', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('bank', sa.String(length=200), nullable=True),
    sa.Column('bank_item', sa.String(length=300), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cluster_key')
    )
    op.create_index('ix_outlet_candidates_status', 'outlet_candidates', ['status'], unique=False)
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_record', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_column('source_record')
    op.drop_index('ix_outlet_candidates_status', table_name='outlet_candidates')
    op.drop_table('outlet_candidates')
    op.drop_table('outlets')
    op.drop_table('outlet_accounts')
    op.drop_index('ix_outlet_posts_expires_at', table_name='outlet_posts')
    op.drop_index('ix_outlet_posts_account', table_name='outlet_posts')
    op.drop_table('outlet_posts')
