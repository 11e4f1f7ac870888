"""Inbox indexes: unclaimed open tasks in created order (the role checked in the index), and
per role in due order, so a tab's first page reads a few dozen index entries however many
tasks are open.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 20:22:41.483971

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

UNCLAIMED = "status = 'open' AND assignee_id IS NULL"


def upgrade():
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.create_index('ix_human_task_unclaimed_created', ['created_at', 'role'],
                              unique=False, postgresql_where=sa.text(UNCLAIMED),
                              sqlite_where=sa.text(UNCLAIMED))
        batch_op.create_index('ix_human_task_unclaimed_due', ['role', 'due_at'], unique=False,
                              postgresql_where=sa.text(UNCLAIMED),
                              sqlite_where=sa.text(UNCLAIMED))


def downgrade():
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_unclaimed_due')
        batch_op.drop_index('ix_human_task_unclaimed_created')
