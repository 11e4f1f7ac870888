"""Temperature records of storage locations and of inbound or outbound shipments, imported from
a logger's CSV file; readings outside a permitted range are flagged as excursions.

Permitted ranges: the location's own range, and the storage range of every product that was at
the location during the readings, or that travelled in the shipment (movements carrying the
shipment's document number). Sensors feeding readings directly come later, through a plugin
that calls `record_readings`.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, case, func, or_, select

from engine import audit
from engine.db import db
from engine.errors import Bilingual, Conflict, InvalidInput
from engine.identity import roles
from engine.identity import service as identity
from engine.identity.models import User
from engine.ledger.models import (
    StockMovement,
    TemperatureExcursion,
    TemperatureImport,
    TemperatureReading,
)
from engine.masterdata.models import Location, Product

TIME_COLUMNS = ("recorded_at", "timestamp", "time", "datetime", "date_time")
CELSIUS_COLUMNS = ("celsius", "temperature", "temp_c", "temperature_c", "temp")
MAX_ERRORS = 10


@dataclass(frozen=True)
class Reading:
    recorded_at: datetime
    celsius: Decimal
    sensor: str = ""


def parse_csv(content: str, zone: ZoneInfo | None) -> list[Reading]:
    """Readings of a logger CSV (a header row naming a time and a temperature column).
    Times without an offset are read in `zone`; without a zone they are refused."""
    if "\x00" in content:  # a binary file: no text column could hold it
        raise InvalidInput("The file holds NUL characters: it is not a CSV text file. Export "
                           "the logger data as CSV.", zh="文件含有 NUL 字符，不是 CSV 文本文件。"
                           "请将记录仪数据导出为 CSV。", fields={"file": "Not a CSV text file."})
    reader = csv.DictReader(io.StringIO(content.lstrip("\ufeff")))
    header = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
    time_col = next((header[c] for c in TIME_COLUMNS if c in header), None)
    temp_col = next((header[c] for c in CELSIUS_COLUMNS if c in header), None)
    if time_col is None or temp_col is None:
        raise InvalidInput("The CSV needs a header with a time column (recorded_at) and a "
                           "temperature column (celsius).", fields={"file": "Missing columns."})
    sensor_col = header.get("sensor")
    readings: list[Reading] = []
    problems: dict[str, str] = {}
    for number, row in enumerate(reader, start=2):
        raw_time, raw_temp = (row.get(time_col) or "").strip(), (row.get(temp_col) or "").strip()
        if not raw_time and not raw_temp:
            continue
        try:
            at = datetime.fromisoformat(raw_time.replace("Z", "+00:00"))
            if at.tzinfo is None:
                if zone is None:
                    raise ValueError("the time has no UTC offset and no time zone was given")
                at = at.replace(tzinfo=zone)
            celsius = Decimal(raw_temp)
            if not celsius.is_finite() or abs(celsius) >= 1000:
                raise InvalidOperation
        except ValueError as exc:
            problems[f"line {number}"] = f"Unreadable time {raw_time!r}: {exc}."
        except InvalidOperation:
            problems[f"line {number}"] = f"Unreadable temperature {raw_temp!r}."
        else:
            readings.append(Reading(at, celsius.quantize(Decimal("0.01")),
                                    (row.get(sensor_col) or "").strip() if sensor_col else ""))
        if len(problems) >= MAX_ERRORS:
            break
    if problems:
        raise InvalidInput("The CSV has unreadable lines; nothing was imported.", fields=problems)
    if not readings:
        raise InvalidInput("The CSV has no readings.", fields={"file": "Empty."})
    return readings


def import_csv(actor: User | audit.Actor, content: str, *, source: str,
               location: Location | None = None, shipment: str = "", direction: str = "",
               timezone: str | None = None) -> TemperatureImport:
    """Import a logger file for a location, or for a shipment (`direction` inbound/outbound).
    Naive times are read in `timezone`, by default the location's site zone."""
    if isinstance(actor, User):
        identity.require(actor, "temperature.import")
    zone_name = timezone or (location.site.timezone if location is not None else None)
    try:
        zone = ZoneInfo(zone_name) if zone_name else None
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"Unknown time zone {zone_name!r}.", zh=f"未知时区 {zone_name!r}。",
                           fields={"timezone": "Use an IANA zone."}) from None
    readings = parse_csv(content, zone)
    return record_readings(actor, readings, source=source, location=location,
                           shipment=shipment, direction=direction,
                           digest=hashlib.sha256(content.encode("utf-8")).hexdigest())


def record_readings(actor: User | audit.Actor, readings: Sequence[Reading], *, source: str,
                    location: Location | None = None, shipment: str = "", direction: str = "",
                    digest: str) -> TemperatureImport:
    """Store readings for one subject and flag excursions; the same file (digest) is stored
    once per subject, so importing it twice is refused rather than doubled."""
    shipment = shipment.strip()
    if (location is None) == (not shipment):
        raise InvalidInput("Readings belong to a location or to a shipment (one of them).")
    if shipment and direction not in ("inbound", "outbound"):
        raise InvalidInput("Say whether the shipment is inbound or outbound.",
                           fields={"direction": "inbound or outbound"})
    if location is not None:
        direction = ""
    subject = (f"location:{location.id}" if location is not None
               else f"shipment:{direction}:{shipment}")
    known = select(TemperatureImport.id).where(TemperatureImport.subject == subject,
                                               TemperatureImport.sha256 == digest)
    if db.session.scalar(known) is not None:
        raise Conflict(f"This file was already imported for {subject}.",
                       zh=f"此文件已为 {subject} 导入过。")
    who = actor if isinstance(actor, audit.Actor) else audit.Actor(actor.id, actor.full_name)
    ordered = sorted(readings, key=lambda r: r.recorded_at)
    record = TemperatureImport(
        subject=subject, location_id=location.id if location else None, shipment=shipment,
        direction=direction, source=source.strip()[:200] or "upload", sha256=digest,
        readings=len(ordered), first_at=ordered[0].recorded_at, last_at=ordered[-1].recorded_at,
        imported_by=who.id, imported_by_name=who.name)
    db.session.add(record)
    db.session.flush()
    db.session.execute(TemperatureReading.__table__.insert(), [
        {"import_id": record.id, "recorded_at": r.recorded_at, "celsius": r.celsius,
         "sensor": r.sensor} for r in ordered])
    found = _excursions(record, ordered, location, shipment)
    for excursion in found:
        db.session.add(excursion)
    record.excursions = len(found)
    db.session.flush()
    audit.record(who, "temperature.import", "temperature_import", record.id,
                 after={"subject": subject, "source": record.source, "readings": len(ordered),
                        "sha256": digest, "excursions": len(found)})
    if found:
        _notify(record, found, location)
    return record


def _ranges(record: TemperatureImport, location: Location | None,
            shipment: str) -> list[tuple[Product | None, Decimal | None, Decimal | None]]:
    ranges: list[tuple[Product | None, Decimal | None, Decimal | None]] = []
    if location is not None:
        if location.temp_min is not None or location.temp_max is not None:
            ranges.append((None, location.temp_min, location.temp_max))
        m = StockMovement
        here = or_(m.from_location_id == location.id, m.to_location_id == location.id)
        net = (func.sum(case((m.to_location_id == location.id, m.quantity), else_=0))
               - func.sum(case((m.from_location_id == location.id, m.quantity), else_=0)))
        # Products that were there: on hand when the readings start, or moved in or out
        # while they were taken.
        held = (select(m.product_id).where(here, m.at < record.first_at)
                .group_by(m.product_id).having(net > 0))
        during = select(m.product_id).where(here, m.at >= record.first_at,
                                            m.at <= record.last_at)
        product_ids = set(db.session.scalars(held)) | set(db.session.scalars(during))
    else:
        product_ids = set(db.session.scalars(
            select(StockMovement.product_id).where(StockMovement.document == shipment)))
    products: list[Product] = list(db.session.scalars(
        select(Product).where(Product.id.in_(product_ids),
                              or_(Product.storage_temp_min.is_not(None),
                                  Product.storage_temp_max.is_not(None)))
        .order_by(Product.code))) if product_ids else []
    ranges.extend((p, p.storage_temp_min, p.storage_temp_max) for p in products)
    return ranges


def _excursions(record: TemperatureImport, readings: Sequence[Reading],
                location: Location | None, shipment: str) -> list[TemperatureExcursion]:
    found = []
    for product, low, high in _ranges(record, location, shipment):
        out = [r for r in readings
               if (low is not None and r.celsius < low) or (high is not None and r.celsius > high)]
        if out:
            found.append(TemperatureExcursion(
                import_id=record.id, product_id=product.id if product else None,
                allowed_min=low, allowed_max=high,
                lowest=min(r.celsius for r in out), highest=max(r.celsius for r in out),
                first_at=out[0].recorded_at, last_at=out[-1].recorded_at,
                readings_out=len(out)))
    return found


def _notify(record: TemperatureImport, found: list[TemperatureExcursion],
            location: Location | None) -> None:
    where = location.label if location is not None else (
        f"{record.direction} shipment {record.shipment}")
    lines = []
    for e in found:
        what = e.product.code if e.product is not None else "the location's own range"
        lines.append(f"- {what}: {e.readings_out} reading(s) outside {e.allowed_min}..."
                     f"{e.allowed_max} °C, from {e.lowest} to {e.highest} °C, "
                     f"{e.first_at:%Y-%m-%d %H:%M}Z to {e.last_at:%Y-%m-%d %H:%M}Z")
    for e in found:
        audit.record(audit.SYSTEM, "temperature.excursion", "temperature_import", record.id,
                     after={"product": e.product_id, "readings_out": e.readings_out,
                            "lowest": str(e.lowest), "highest": str(e.highest)})
    identity.notify_role(
        roles.QUALITY_MANAGER,
        Bilingual(f"Temperature excursion at {where}", f"{where} 温度超限"),
        Bilingual("Readings outside the permitted range were imported from "
                  f"{record.source}:\n" + "\n".join(lines),
                  f"从 {record.source} 导入的温度读数超出允许范围：\n" + "\n".join(lines)))


def excursions(*, location: Location | None = None, shipment: str | None = None,
               direction: str | None = None) -> list[TemperatureExcursion]:
    """Flagged excursions of a location, or of a shipment (what cold-chain acceptance checks)."""
    query = select(TemperatureExcursion).join(TemperatureImport)
    if location is not None:
        query = query.where(TemperatureImport.location_id == location.id)
    if shipment is not None:
        query = query.where(TemperatureImport.shipment == shipment)
        if direction:
            query = query.where(TemperatureImport.direction == direction)
    return list(db.session.scalars(query.order_by(TemperatureExcursion.first_at)))


def shipment_has_records(shipment: str, direction: str) -> bool:
    return db.session.scalar(select(TemperatureImport.id).where(and_(
        TemperatureImport.shipment == shipment, TemperatureImport.direction == direction))
    ) is not None


def readings(temperature_import: TemperatureImport) -> list[TemperatureReading]:
    return list(db.session.scalars(
        select(TemperatureReading).where(TemperatureReading.import_id == temperature_import.id)
        .order_by(TemperatureReading.recorded_at)))
