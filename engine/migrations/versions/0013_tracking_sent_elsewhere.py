"""Tracking reports sent by other means: a quality manager records that a report went to the
manufacturer by phone, letter, fax or portal (a `manual` delivery, sent), so a report without a
channel is closed with evidence instead of staying "no channel". Only the CHECK constraint
ck_tracking_delivery_channel changes (ALTER TABLE is not blocked by the append-only triggers).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 03:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

NAME = "ck_tracking_delivery_channel"


def _replace(channels):
    condition = "channel IN (" + ", ".join(f"'{c}'" for c in channels) + ")"
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot alter a CHECK constraint: rebuild the table with the new one.
        with op.batch_alter_table("tracking_delivery", recreate="always") as batch_op:
            batch_op.drop_constraint(op.f(NAME), type_="check")
            batch_op.create_check_constraint(op.f(NAME), condition)
        return
    op.drop_constraint(op.f(NAME), "tracking_delivery", type_="check")
    op.create_check_constraint(op.f(NAME), "tracking_delivery", condition)


def upgrade():
    _replace(("email", "webhook", "none", "manual"))


def downgrade():
    used = op.get_bind().execute(sa.text(
        "SELECT COUNT(*) FROM tracking_delivery WHERE channel = 'manual'")).scalar_one()
    if used:
        raise RuntimeError(f"{used} tracking deliveries were recorded as sent by other means; "
                           "they are evidence and cannot be dropped by a downgrade.")
    _replace(("email", "webhook", "none"))
