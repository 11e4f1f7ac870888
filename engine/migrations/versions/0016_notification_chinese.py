"""Notifications in both languages: the Chinese subject and body (notification.subject_zh,
body_zh), shown to a user who reads Chinese; empty where a notification has none (those made
before), which then shows in English.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 12:40:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("notification") as batch_op:
        batch_op.add_column(sa.Column("subject_zh", sa.String(length=200), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("body_zh", sa.Text(), nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("notification") as batch_op:
        batch_op.drop_column("body_zh")
        batch_op.drop_column("subject_zh")
