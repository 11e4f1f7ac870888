"""FDA device tracking (21 CFR 821): which products are tracked devices, and which customers
are user facilities (selling them a tracked device makes us the final distributor). Existing
rows are neither.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 00:11:48.839815

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('party', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_facility', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))

    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fda_tracked', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.drop_column('fda_tracked')

    with op.batch_alter_table('party', schema=None) as batch_op:
        batch_op.drop_column('user_facility')
