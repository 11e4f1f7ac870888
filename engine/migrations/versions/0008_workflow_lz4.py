"""Saved workflows compressed with LZ4 on PostgreSQL: every completed task rewrites its
instance's workflow (tens of kilobytes of JSON), and LZ4 compresses it about twice as fast as
PostgreSQL's default pglz. A server built without LZ4 keeps pglz; SQLite is unchanged.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 23:45:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def _compression(method: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "DO $$ BEGIN "
        f"ALTER TABLE process_instance ALTER COLUMN serialized SET COMPRESSION {method}; "
        "EXCEPTION WHEN feature_not_supported THEN "
        "RAISE NOTICE 'this PostgreSQL has no LZ4: saved workflows keep pglz'; "
        "END $$")


def upgrade():
    _compression("lz4")


def downgrade():
    _compression("pglz")
