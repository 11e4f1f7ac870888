"""Single-use two-factor codes: the time step of the last TOTP code accepted for a user
(user_account.totp_last_step), so the same code cannot be replayed within its window. Users
enrolled before have none; their next accepted code sets it.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 13:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user_account") as batch_op:
        batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("user_account") as batch_op:
        batch_op.drop_column("totp_last_step")
