"""review console: decision reasons, allow-list proposals, reviewer exposure counters

Revision ID: 0012_review_console
Revises: 0003_review
"""
from alembic import op
import sqlalchemy as sa


revision = '0012_review_console'
down_revision = '0003_review'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_review_cases_status_created', 'review_cases', ['status', 'created_at', 'id'], unique=False)
    with op.batch_alter_table('review_decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=60), nullable=True))
        batch_op.create_index(batch_op.f('ix_review_decisions_reason'), ['reason'], unique=False)
    op.create_table('review_allow_proposals',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('bank', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('proposed_by', sa.String(length=200), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['review_cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_review_allow_proposals_case_id'), 'review_allow_proposals', ['case_id'], unique=False)
    op.create_index(op.f('ix_review_allow_proposals_status'), 'review_allow_proposals', ['status'], unique=False)
    op.create_table('review_exposure',
    sa.Column('username', sa.String(length=200), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('cases', sa.Integer(), nullable=False),
    sa.Column('reveals', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('username', 'day')
    )


def downgrade() -> None:
    op.drop_index('ix_review_cases_status_created', table_name='review_cases')
    op.drop_table('review_exposure')
    op.drop_index(op.f('ix_review_allow_proposals_status'), table_name='review_allow_proposals')
    op.drop_index(op.f('ix_review_allow_proposals_case_id'), table_name='review_allow_proposals')
    op.drop_table('review_allow_proposals')
    with op.batch_alter_table('review_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_decisions_reason'))
        batch_op.drop_column('reason')
