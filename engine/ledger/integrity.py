"""Ledger verification: every balance equals the sum of its movements, and every serial unit
is exactly where its balance says (what `gxpflow ledger check` and the benchmark run)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text

from engine.db import db
from engine.ledger.models import STATUSES

_ON_HAND = "(" + ", ".join(f"'{s}'" for s in STATUSES) + ")"

BALANCE_SQL = """
WITH flow AS (
    SELECT to_location_id AS location_id, product_id, lot_id, serial, to_status AS status,
           quantity AS q
      FROM stock_movement WHERE to_location_id IS NOT NULL
    UNION ALL
    SELECT from_location_id, product_id, lot_id, serial, from_status, -quantity
      FROM stock_movement WHERE from_location_id IS NOT NULL
), sums AS (
    SELECT location_id, product_id, lot_id, serial, status, SUM(q) AS total
      FROM flow GROUP BY location_id, product_id, lot_id, serial, status
)
SELECT s.location_id, s.product_id, s.lot_id, s.serial, s.status, s.total,
       COALESCE(b.quantity, 0) AS quantity
  FROM sums s LEFT JOIN stock_balance b
    ON b.location_id = s.location_id AND b.product_id = s.product_id
   AND b.lot_id = s.lot_id AND b.serial = s.serial AND b.status = s.status
 WHERE COALESCE(b.quantity, 0) <> s.total
UNION ALL
SELECT b.location_id, b.product_id, b.lot_id, b.serial, b.status, 0, b.quantity
  FROM stock_balance b
 WHERE b.quantity <> 0 AND NOT EXISTS (
       SELECT 1 FROM sums s
        WHERE b.location_id = s.location_id AND b.product_id = s.product_id
          AND b.lot_id = s.lot_id AND b.serial = s.serial AND b.status = s.status)
"""

SERIAL_SQL = f"""
SELECT u.product_id, u.serial, u.location_id, u.status, b.location_id, b.status
  FROM serial_unit u LEFT JOIN stock_balance b
    ON b.product_id = u.product_id AND b.serial = u.serial AND b.quantity > 0
 WHERE (u.status IN {_ON_HAND} AND (b.id IS NULL OR b.location_id <> u.location_id
                                    OR b.status <> u.status))
    OR ((u.status IS NULL OR u.status NOT IN {_ON_HAND}) AND b.id IS NOT NULL)
UNION ALL
SELECT b.product_id, b.serial, NULL, NULL, b.location_id, b.status
  FROM stock_balance b
 WHERE b.serial <> '' AND b.quantity > 0 AND NOT EXISTS (
       SELECT 1 FROM serial_unit u WHERE u.product_id = b.product_id AND u.serial = b.serial)
"""  # noqa: S608 - the only interpolation is the constant status list

MAX_REPORTED = 50


@dataclass
class BalanceCheck:
    balances: int
    movements: int
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def summary(self) -> str:
        if self.ok:
            return (f"OK: {self.balances} balances equal the sum of {self.movements} movements; "
                    "every serial is in one place")
        return f"MISMATCH: {len(self.mismatches)} problem(s) found"


def verify_balances() -> BalanceCheck:
    """Recompute every balance from the movements and compare; check every serial unit."""
    session = db.session
    check = BalanceCheck(
        balances=session.execute(text("SELECT COUNT(*) FROM stock_balance")).scalar_one(),
        movements=session.execute(text("SELECT COUNT(*) FROM stock_movement")).scalar_one(),
    )
    for row in session.execute(text(BALANCE_SQL + f" LIMIT {MAX_REPORTED}")):
        check.mismatches.append(
            f"balance location={row[0]} product={row[1]} lot={row[2]} serial={row[3]!r} "
            f"status={row[4]}: movements sum to {row[5]}, balance says {row[6]}")
    for row in session.execute(text(SERIAL_SQL + f" LIMIT {MAX_REPORTED}")):
        check.mismatches.append(
            f"serial product={row[0]} {row[1]!r}: unit says location={row[2]} status={row[3]}, "
            f"balance says location={row[4]} status={row[5]}")
    return check
