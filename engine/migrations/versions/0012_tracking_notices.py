"""FDA device tracking reports (21 CFR 821): what a tracked device's receipt or final sale tells
its manufacturer (tracking_notice) and each attempt to deliver it (tracking_delivery); both
append-only on PostgreSQL, a report's state is computed from its deliveries.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 02:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

import engine.db


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('tracking_notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('event', sa.String(length=10), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('lot', sa.String(length=40), nullable=False),
    sa.Column('serials', sa.Text(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('party_id', sa.Integer(), nullable=False),
    sa.Column('manufacturer_id', sa.Integer(), nullable=True),
    sa.Column('site_code', sa.String(length=40), nullable=False),
    sa.Column('event_date', sa.Date(), nullable=False),
    sa.Column('document', sa.String(length=80), nullable=False),
    sa.Column('patient_data', sa.Text(), nullable=False),
    sa.Column('due_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('rule_id', sa.String(length=80), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('step', sa.String(length=60), nullable=False),
    sa.CheckConstraint("event IN ('received', 'shipped')", name=op.f('ck_tracking_notice_event')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_tracking_notice_quantity')),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_tracking_notice_instance_id_process_instance')),
    sa.ForeignKeyConstraint(['manufacturer_id'], ['party.id'], name=op.f('fk_tracking_notice_manufacturer_id_party')),
    sa.ForeignKeyConstraint(['party_id'], ['party.id'], name=op.f('fk_tracking_notice_party_id_party')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_tracking_notice_product_id_product')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tracking_notice'))
    )
    with op.batch_alter_table('tracking_notice', schema=None) as batch_op:
        batch_op.create_index('ix_tracking_notice_due_at', ['due_at'], unique=False)
        batch_op.create_index('ix_tracking_notice_product_lot', ['product_id', 'lot'], unique=False)

    op.create_table('tracking_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('target', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.CheckConstraint("channel IN ('email', 'webhook', 'none')", name=op.f('ck_tracking_delivery_channel')),
    sa.CheckConstraint("status IN ('sent', 'failed', 'no_channel')", name=op.f('ck_tracking_delivery_status')),
    sa.ForeignKeyConstraint(['notice_id'], ['tracking_notice.id'], name=op.f('fk_tracking_delivery_notice_id_tracking_notice')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tracking_delivery'))
    )
    with op.batch_alter_table('tracking_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tracking_delivery_notice_id'), ['notice_id'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        for table in ("tracking_notice", "tracking_delivery"):
            for statement in engine.db.append_only_sql(table):
                op.execute(statement)


def downgrade():
    with op.batch_alter_table('tracking_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tracking_delivery_notice_id'))

    op.drop_table('tracking_delivery')
    with op.batch_alter_table('tracking_notice', schema=None) as batch_op:
        batch_op.drop_index('ix_tracking_notice_product_lot')
        batch_op.drop_index('ix_tracking_notice_due_at')

    op.drop_table('tracking_notice')
