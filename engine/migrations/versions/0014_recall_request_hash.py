"""Recall idempotency: the hash of the request that came with an idempotency key
(recall.request_hash), so the same key sent with a different request is refused instead of
silently answered with the first recall. Recalls started before have none and replay as before.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 10:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("recall") as batch_op:
        batch_op.add_column(sa.Column("request_hash", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("recall") as batch_op:
        batch_op.drop_column("request_hash")
