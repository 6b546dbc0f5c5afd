"""review: cases, matches, decisions, preferences

Revision ID: 0003_review
Revises: 0001_core
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_review'
down_revision = '0001_core'
branch_labels = ('review',)
depends_on = None


def upgrade() -> None:
    
    op.create_table('review_cases',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('item', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('submission_id', sa.String(length=300), nullable=True),
    sa.Column('source', sa.String(length=300), nullable=True),
    sa.Column('severity', sa.Integer(), nullable=False),
    sa.Column('strength', sa.Float(), nullable=False),
    sa.Column('bank', sa.String(length=200), nullable=False),
    sa.Column('bank_labels', sa.String(length=500), nullable=False),
    sa.Column('language', sa.String(length=20), nullable=True),
    sa.Column('signals', sa.JSON(), nullable=False),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('media_path', sa.Text(), nullable=True),
    sa.Column('media_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claimed_by', sa.String(length=200), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('review_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_cases_bank'), ['bank'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_cases_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_cases_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_cases_submission_id'), ['submission_id'], unique=False)

    op.create_table('review_preferences',
    sa.Column('username', sa.String(length=200), nullable=False),
    sa.Column('reveal_media', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('username')
    )
    op.create_table('review_case_matches',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('bank', sa.String(length=200), nullable=False),
    sa.Column('bank_kind', sa.String(length=10), nullable=False),
    sa.Column('bank_item_id', sa.Integer(), nullable=False),
    sa.Column('bank_item', sa.String(length=500), nullable=False),
    sa.Column('item_labels', sa.JSON(), nullable=False),
    sa.Column('signal_type', sa.String(length=40), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('distance', sa.Float(), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('strength', sa.Float(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['review_cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('review_case_matches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_case_matches_bank_item_id'), ['bank_item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_case_matches_case_id'), ['case_id'], unique=False)

    op.create_table('review_decisions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('decision', sa.String(length=12), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('allow_bank', sa.String(length=200), nullable=True),
    sa.Column('action_ids', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['review_cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('review_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_decisions_case_id'), ['case_id'], unique=False)




def downgrade() -> None:
    
    with op.batch_alter_table('review_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_decisions_case_id'))

    op.drop_table('review_decisions')
    with op.batch_alter_table('review_case_matches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_case_matches_case_id'))
        batch_op.drop_index(batch_op.f('ix_review_case_matches_bank_item_id'))

    op.drop_table('review_case_matches')
    op.drop_table('review_preferences')
    with op.batch_alter_table('review_cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_cases_submission_id'))
        batch_op.drop_index(batch_op.f('ix_review_cases_status'))
        batch_op.drop_index(batch_op.f('ix_review_cases_created_at'))
        batch_op.drop_index(batch_op.f('ix_review_cases_bank'))

    op.drop_table('review_cases')

