"""Picked status and return-to-supplier kind: stock picked for an order waits in the dispatch
area as "picked" (reserved: FEFO never allocates it to another order), and a return to the
supplier is posted as its own movement kind "return_supplier" instead of "ship".

Only CHECK constraints change: ck_stock_balance_status, ck_stock_movement_from_status,
ck_stock_movement_to_status and ck_stock_movement_kind. Existing rows stay as they are:
returns to suppliers already posted as "ship" to a supplier party are left as posted (movements
are evidence and never updated), and goods picked before this revision stay "available" in the
dispatch area (an outbound in flight ships them from there).

SQLite rebuilds both tables (batch mode, recreate="always"); PostgreSQL drops and re-adds the
named constraints. ALTER TABLE is not blocked by stock_movement's append-only triggers, which
fire on UPDATE, DELETE and TRUNCATE only.

Downgrade refuses while any row uses the picked status or the return_supplier kind.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

OLD_STATUSES = ("quarantine", "available", "nonconforming", "recalled")
NEW_STATUSES = ("quarantine", "available", "picked", "nonconforming", "recalled")
OLD_KINDS = ("receive", "putaway", "move", "status_change", "pick", "ship", "return",
             "count_adjust", "scrap", "recall_hold", "recall_release", "reversal")
NEW_KINDS = ("receive", "putaway", "move", "status_change", "pick", "ship", "return",
             "return_supplier", "count_adjust", "scrap", "recall_hold", "recall_release",
             "reversal")


def _in(column, values):
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _constraints(statuses, kinds):
    """(table, constraint name without its ck_<table>_ prefix, condition)."""
    return [
        ("stock_balance", "status", _in("status", statuses)),
        ("stock_movement", "kind", _in("kind", kinds)),
        ("stock_movement", "from_status",
         "from_location_id IS NULL OR " + _in("from_status", statuses)),
        ("stock_movement", "to_status", "to_location_id IS NULL OR " + _in("to_status", statuses)),
    ]


def _replace(statuses, kinds):
    constraints = _constraints(statuses, kinds)
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot alter a CHECK constraint: rebuild each table with the new ones.
        for table in ("stock_balance", "stock_movement"):
            with op.batch_alter_table(table, recreate="always") as batch_op:
                for owner, name, condition in constraints:
                    if owner == table:
                        batch_op.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
                        batch_op.create_check_constraint(op.f(f"ck_{table}_{name}"), condition)
        return
    for table, name, condition in constraints:
        op.drop_constraint(op.f(f"ck_{table}_{name}"), table, type_="check")
        op.create_check_constraint(op.f(f"ck_{table}_{name}"), table, condition)


def upgrade():
    _replace(NEW_STATUSES, NEW_KINDS)


def downgrade():
    bind = op.get_bind()
    in_use = {
        "stock balance rows in status picked": bind.execute(sa.text(
            "SELECT COUNT(*) FROM stock_balance WHERE status = 'picked'")).scalar_one(),
        "movements from or to status picked": bind.execute(sa.text(
            "SELECT COUNT(*) FROM stock_movement "
            "WHERE from_status = 'picked' OR to_status = 'picked'")).scalar_one(),
        "return_supplier movements": bind.execute(sa.text(
            "SELECT COUNT(*) FROM stock_movement WHERE kind = 'return_supplier'")).scalar_one(),
        "serial units in status picked": bind.execute(sa.text(
            "SELECT COUNT(*) FROM serial_unit WHERE status = 'picked'")).scalar_one(),
    }
    used = [f"{what}: {count}" for what, count in in_use.items() if count]
    if used:
        raise RuntimeError(
            "Cannot downgrade below 0010, the ledger uses what it added ("
            + "; ".join(used) + "). Movements are evidence and are never rewritten.")
    _replace(OLD_STATUSES, OLD_KINDS)
