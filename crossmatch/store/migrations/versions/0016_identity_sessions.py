"""identity: unique API token names, server-side web sessions (revocable at sign-out)

Revision ID: 0016_identity_sessions
Revises: 0002_service
"""
from alembic import op
import sqlalchemy as sa


revision = '0016_identity_sessions'
down_revision = '0002_service'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Tokens that share a name today keep working: every one but the oldest gets "-<id>" appended.
    tokens = sa.table('api_tokens', sa.column('id', sa.BigInteger), sa.column('name', sa.String))
    conn = op.get_bind()
    rows = conn.execute(sa.select(tokens.c.id, tokens.c.name).order_by(tokens.c.id)).all()
    taken = {name for _, name in rows}
    seen: set[str] = set()
    for token_id, name in rows:
        if name in seen:
            new = f"{name[:180]}-{token_id}"
            while new in taken:
                new += "x"
            conn.execute(tokens.update().where(tokens.c.id == token_id).values(name=new))
            taken.add(new)
        seen.add(name)
    op.create_index('uq_api_tokens_name', 'api_tokens', ['name'], unique=True)
    op.create_table('web_sessions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sid_hash', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=200), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sid_hash')
    )
    op.create_index('ix_web_sessions_username', 'web_sessions', ['username'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_web_sessions_username', table_name='web_sessions')
    op.drop_table('web_sessions')
    op.drop_index('uq_api_tokens_name', table_name='api_tokens')
