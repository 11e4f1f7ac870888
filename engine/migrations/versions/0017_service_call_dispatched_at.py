"""When a service call was last sent to a worker (service_call.dispatched_at), so the beat can
send again a call whose message was lost (the broker was down at commit, a worker died): a call
still pending long after it was sent. Calls made before have none and are sent on the next sweep.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 23:10:00.000000
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("service_call") as batch_op:
        batch_op.add_column(sa.Column("dispatched_at", engine.db.UTCDateTime(timezone=True),
                                      nullable=True))


def downgrade():
    with op.batch_alter_table("service_call") as batch_op:
        batch_op.drop_column("dispatched_at")
