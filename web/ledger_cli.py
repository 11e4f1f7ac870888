"""`gxpflow trace`, `gxpflow ledger check`, `gxpflow ledger scan` and
`gxpflow ledger import-temperatures`: the ledger from an operator's shell."""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import click
from flask.cli import AppGroup, with_appcontext

from engine import audit
from engine.db import db
from engine.ledger import expiry, integrity, temperature
from engine.ledger.trace import Trace, TraceRow, trace
from engine.masterdata import service as masterdata

ledger_cli = AppGroup("ledger", help="The inventory ledger.")
CLI_ACTOR = audit.Actor(None, "cli")


def _width(value: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in value)


def _pad(value: str, width: int) -> str:
    return value + " " * (width - _width(value))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as aligned text columns (Chinese characters count double)."""
    widths = [max([_width(h)] + [_width(r[i]) for r in rows]) for i, h in enumerate(headers)]
    lines = ["  ".join(_pad(h, w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(_pad(c, w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in rows]
    return lines


def _row(row: TraceRow) -> list[str]:
    status = f"{row.from_status or '-'}→{row.to_status or '-'}"
    party = f"{row.party_code} {row.party_name}" if row.party_code else ""
    link = "/".join(x for x in (row.instance_id, row.task_id) if x)
    note = f"reversed by #{row.reversed_by}" if row.reversed_by else ""
    return [row.at.strftime("%Y-%m-%dT%H:%M:%SZ"), row.kind, str(row.quantity),
            row.serial or "", f"{row.site}/{row.location}", status, party, row.document,
            row.actor, link, note]


HEADERS = ("time (UTC)", "kind", "qty", "serial", "site/location", "status", "party",
           "document", "by", "instance/task", "note")


def render(result: Trace) -> list[str]:
    product, lot = result.product, result.lot
    title = f"Trace of {product.code} {product.name_en} / {product.name_zh}"
    if product.gtin:
        title += f" (GTIN {product.gtin})"
    lines = [title]
    if lot is not None:
        supplier = f"{lot.supplier.code} {lot.supplier.name}" if lot.supplier else "unknown"
        lines.append(f"Lot {lot.lot_no}: expiry {lot.expiry_date or '-'}, produced "
                     f"{lot.production_date or '-'}, supplier {supplier}"
                     + (f", LOCKED: {lot.lock_reason}" if lot.locked else ""))
    if result.serial:
        lines.append(f"Serial {result.serial}")
    lines += ["", "Backward (where it came from: receipts, suppliers, inspection decisions)"]
    lines += (table(HEADERS, [_row(r) for r in result.backward]) if result.backward
              else ["  (no receipts)"])
    lines += ["", "Forward (where it went: shipments, returns, customers)"]
    lines += (table(HEADERS, [_row(r) for r in result.forward]) if result.forward
              else ["  (nothing shipped)"])
    lines += ["", f"Suppliers: {', '.join(result.suppliers) or '-'}",
              f"Customers: {', '.join(result.customers) or '-'}",
              f"Net quantity at customers: {result.net_shipped}"]
    return lines


@click.command("trace")
@click.option("--product", "product_key", required=True, help="Product code or GTIN.")
@click.option("--lot", "lot_no", default="", help="Lot number.")
@click.option("--serial", default="", help="Serial number (instead of or with the lot).")
@with_appcontext
def trace_command(product_key: str, lot_no: str, serial: str) -> None:
    """Trace a lot or serial backward (receipts, suppliers) and forward (shipments, customers)."""
    product = masterdata.get_product(product_key)
    for line in render(trace(product, lot_no=lot_no, serial=serial)):
        click.echo(line)


@ledger_cli.command("check")
def check_command() -> None:
    """Verify that every balance equals the sum of its movements and serials are consistent."""
    result = integrity.verify_balances()
    click.echo(result.summary())
    for problem in result.mismatches:
        click.echo("  " + problem)
    if not result.ok:
        sys.exit(1)


@ledger_cli.command("scan")
@click.option("--today", default=None, help="Scan as of this date (YYYY-MM-DD); default: now.")
def scan_command(today: str | None) -> None:
    """Run the scheduled scans now: near expiry, expired stock, licence validity."""
    day = date.fromisoformat(today) if today else None
    near = expiry.scan_near_expiry(day)
    expired = expiry.scan_expired(day)
    flags = expiry.scan_licences(day)
    db.session.commit()
    click.echo(f"near expiry: {len(near.near_expiry)} lot(s) newly flagged")
    for line in near.near_expiry:
        click.echo("  " + line)
    click.echo(f"expired: {len(expired.expired_lots)} lot(s) locked, "
               f"{len(expired.moved)} balance(s) moved to nonconforming")
    for line in expired.moved + expired.problems:
        click.echo("  " + line)
    click.echo(f"licences: {len(flags.parties)} party flag(s), "
               f"{len(flags.products)} product flag(s) changed")
    for code, old, new in flags.parties + flags.products:
        click.echo(f"  {code}: {old} → {new}")


@ledger_cli.command("import-temperatures")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--location", "location_key", default="", help="SITE/LOCATION, e.g. SH/COLD-01.")
@click.option("--shipment", default="", help="Shipment or receipt number.")
@click.option("--direction", type=click.Choice(["inbound", "outbound"]), default=None)
@click.option("--timezone", default=None, help="Zone of times without an offset.")
def import_temperatures_command(csv_file: Path, location_key: str, shipment: str,
                                direction: str | None, timezone: str | None) -> None:
    """Import a temperature logger's CSV for a location or a shipment; flag excursions."""
    location = None
    if location_key:
        site_code, _, code = location_key.partition("/")
        location = masterdata.get_location(site_code, code)
    record = temperature.import_csv(CLI_ACTOR, csv_file.read_text(encoding="utf-8-sig"),
                                    source=csv_file.name, location=location,
                                    shipment=shipment, direction=direction or "",
                                    timezone=timezone)
    db.session.commit()
    click.echo(f"imported {record.readings} readings "
               f"({record.first_at:%Y-%m-%dT%H:%MZ} to {record.last_at:%Y-%m-%dT%H:%MZ}); "
               f"{record.excursions} excursion(s) flagged")
    for excursion in temperature.excursions(location=location,
                                            shipment=shipment or None,
                                            direction=direction):
        if excursion.import_id == record.id:
            what = excursion.product.code if excursion.product else "location range"
            click.echo(f"  {what}: {excursion.readings_out} reading(s) outside "
                       f"{excursion.allowed_min}..{excursion.allowed_max} °C "
                       f"(min {excursion.lowest}, max {excursion.highest})")
