"""The scans the scheduler runs: near-expiry warnings, expired stock moved to nonconforming and
locked (GSP 51(6), 76), and licences and registrations near expiry or expired (GSP 51(4)(5)).

Expiry is judged by the calendar date at the site holding the stock. Each scan changes only what
has not been flagged yet, so running it twice changes nothing the second time. They flush;
the Celery task (or CLI) commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select

from engine import audit
from engine.db import db, utcnow
from engine.errors import Bilingual
from engine.identity import roles
from engine.identity import service as identity
from engine.ledger import service as ledger
from engine.ledger.models import STATUSES, CountSheet, Lot, StockBalance
from engine.masterdata import service as masterdata
from engine.masterdata.models import Location, Product, Site


@dataclass
class ExpiryScan:
    near_expiry: list[str] = field(default_factory=list)
    expired_lots: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {"near_expiry": self.near_expiry, "expired_lots": self.expired_lots,
                "moved": self.moved, "problems": self.problems}


def _today(site: Site, today: date | None) -> date:
    return today or ledger.site_today(site)


def _on_hand(horizon: date, statuses: tuple[str, ...]) -> list[tuple[StockBalance, Lot, Site]]:
    return [(balance, lot, site) for balance, lot, site in db.session.execute(
        select(StockBalance, Lot, Site)
        .join(Lot, StockBalance.lot_id == Lot.id)
        .join(Location, StockBalance.location_id == Location.id)
        .join(Site, Location.site_id == Site.id)
        .where(StockBalance.quantity > 0, StockBalance.status.in_(statuses),
               Lot.expiry_date.is_not(None), Lot.expiry_date <= horizon)
        .order_by(Lot.expiry_date, Lot.id, StockBalance.id)
    )]


def _flag(lot: Lot, flag: str) -> None:
    audit.record(audit.SYSTEM, "lot.expiry_flag", "lot", lot.id,
                 before={"expiry_flag": lot.expiry_flag}, after={"expiry_flag": flag})
    lot.expiry_flag = flag


def scan_near_expiry(today: date | None = None) -> ExpiryScan:
    """Flag lots on hand whose expiry is within their product's threshold, and tell QA once."""
    result = ExpiryScan()
    longest = db.session.scalar(select(func.max(Product.near_expiry_days))) or 0
    horizon = (today or utcnow().date()) + timedelta(days=longest + 1)
    for _balance, lot, site in _on_hand(horizon, ("quarantine", "available", "picked")):
        if lot.expiry_flag != "ok" or lot.expiry_date is None:
            continue
        day = _today(site, today)
        if day <= lot.expiry_date <= day + timedelta(days=lot.product.near_expiry_days):
            _flag(lot, "near_expiry")
            result.near_expiry.append(f"{lot.product.code} lot {lot.lot_no} expires "
                                      f"{lot.expiry_date} ({(lot.expiry_date - day).days} days)")
    db.session.flush()
    if result.near_expiry:
        listed = "\n- " + "\n- ".join(result.near_expiry)
        identity.notify_role(
            roles.QUALITY_MANAGER,
            Bilingual(f"{len(result.near_expiry)} lot(s) near expiry",
                      f"{len(result.near_expiry)} 个批次临近效期"),
            Bilingual("Lots on hand within their near-expiry threshold:" + listed,
                      "以下在库批次已进入近效期：" + listed))
    return result


def _nonconforming_location(site: Site) -> Location | None:
    return db.session.scalar(
        select(Location).where(Location.site_id == site.id, Location.zone == "nonconforming",
                               Location.active.is_(True)).order_by(Location.code).limit(1))


def _counting(location_id: int) -> bool:
    return db.session.scalar(select(CountSheet.id).where(
        CountSheet.location_id == location_id, CountSheet.status == "open")) is not None


def scan_expired(today: date | None = None) -> ExpiryScan:
    """Lock expired lots and move their stock to a nonconforming location of the same site.
    Recalled stock stays under its recall hold (only its lot is locked)."""
    result = ExpiryScan()
    horizon = (today or utcnow().date()) + timedelta(days=1)
    statuses = STATUSES  # every status stock on hand can have, picked for an order included
    for balance, lot, site in _on_hand(horizon, statuses):
        day = _today(site, today)
        if not lot.expired_on(day):
            continue
        label = f"{lot.product.code} lot {lot.lot_no}"
        if not lot.locked or lot.expiry_flag != "expired":
            ledger.lock_lot(audit.SYSTEM, lot, f"Expired on {lot.expiry_date} (GSP 76).")
            if lot.expiry_flag != "expired":
                _flag(lot, "expired")
            result.expired_lots.append(f"{label} expired {lot.expiry_date}")
        location = balance.location
        if balance.status == "recalled" or location.zone == "nonconforming":
            continue
        target = _nonconforming_location(site)
        if target is None:
            result.problems.append(f"{label} at {location.label}: site {site.code} has no "
                                   "nonconforming location to move it to")
            continue
        if _counting(location.id) or _counting(target.id):
            result.problems.append(f"{label} at {location.label}: a count is open, moved on "
                                   "the next scan")
            continue
        quantity, serial, status = balance.quantity, balance.serial, balance.status
        ledger.transfer(audit.SYSTEM, "status_change", lot, quantity, serial=serial,
                        source=ledger.Place(location, status),
                        target=ledger.Place(target, "nonconforming"),
                        reason=f"Expired on {lot.expiry_date}: moved to nonconforming and "
                               "locked (GSP 76).")
        result.moved.append(f"{quantity} × {label}{' serial ' + serial if serial else ''} "
                            f"{location.label} → {target.label}")
    db.session.flush()
    if result.expired_lots or result.moved or result.problems:
        identity.notify_role(
            roles.QUALITY_MANAGER,
            Bilingual("Expired stock moved to nonconforming", "过期库存已移至不合格品区"),
            Bilingual("\n".join(["Lots expired and locked:", *result.expired_lots,
                                 "Moved:", *result.moved,
                                 *(["Needs attention:", *result.problems]
                                   if result.problems else [])]),
                      "\n".join(["已过期并锁定的批次：", *result.expired_lots,
                                 "已移库：", *result.moved,
                                 *(["需要处理：", *result.problems]
                                   if result.problems else [])])))
    return result


def scan_licences(today: date | None = None) -> masterdata.FlagChanges:
    """Flag parties whose licences and products whose registrations are near expiry or
    expired; tell compliance and QA about every change."""
    changes = masterdata.refresh_flags(today)
    lines = [f"party {code}: licences {old} → {new}" for code, old, new in changes.parties]
    lines += [f"product {code}: registration {old} → {new}"
              for code, old, new in changes.products]
    if lines:
        listed = "\n- " + "\n- ".join(lines)
        subject = Bilingual(f"{len(lines)} licence/registration flag(s) changed",
                            f"{len(lines)} 项许可证/注册证效期状态变化")
        body = Bilingual("Validity changed (GSP 51):" + listed,
                         "效期状态变化（GSP 51）：" + listed)
        for role in (roles.COMPLIANCE_OFFICER, roles.QUALITY_MANAGER):
            identity.notify_role(role, subject, body)
    return changes


@dataclass(frozen=True)
class BoardRow:
    """One lot on hand at one site, expired or within its product's near-expiry threshold."""

    lot: Lot
    site: Site
    quantity: int
    statuses: tuple[str, ...]
    days_left: int

    @property
    def state(self) -> str:
        return "expired" if self.days_left < 0 else "near_expiry"


def expiry_board(today: date | None = None) -> list[BoardRow]:
    """Lots on hand (any status) that are expired or near expiry, per site, judged by the
    calendar date at the site and each product's own threshold; soonest first."""
    longest = db.session.scalar(select(func.max(Product.near_expiry_days))) or 0
    horizon = (today or utcnow().date()) + timedelta(days=longest + 1)
    totals: dict[tuple[int, int], tuple[Lot, Site, int, set[str]]] = {}
    statuses = STATUSES  # every status stock on hand can have, picked for an order included
    for balance, lot, site in _on_hand(horizon, statuses):
        key = (lot.id, site.id)
        _, _, quantity, seen = totals.get(key, (lot, site, 0, set()))
        totals[key] = (lot, site, quantity + balance.quantity, seen | {balance.status})
    board = []
    for lot, site, quantity, seen in totals.values():
        assert lot.expiry_date is not None
        days_left = (lot.expiry_date - _today(site, today)).days
        if days_left <= lot.product.near_expiry_days:
            board.append(BoardRow(lot, site, quantity, tuple(s for s in statuses if s in seen),
                                  days_left))
    return sorted(board, key=lambda row: (row.days_left, row.lot.product.code, row.site.code))
