"""Temperature records from logger CSV files; readings outside a product's range are flagged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from engine.db import db, utcnow
from engine.errors import Conflict, InvalidInput, PermissionDenied
from engine.identity.models import Notification
from engine.ledger import service as ledger
from engine.ledger import temperature
from engine.ledger.models import TemperatureReading
from tests.integration.ledger.world import World


def csv_rows(start: datetime, values: list[float], *, naive: bool = False) -> str:
    lines = ["recorded_at,celsius,sensor"]
    for i, value in enumerate(values):
        at = start + timedelta(minutes=15 * i)
        stamp = at.replace(tzinfo=None).isoformat() if naive else at.isoformat()
        lines.append(f"{stamp},{value},LOG-7")
    return "\n".join(lines) + "\n"


def test_a_cold_room_excursion_is_flagged_for_the_products_in_it(world: World, make_user) -> None:  # type: ignore[no-untyped-def]
    world.receive_available("HA1", product=world.implant, location=world.cold,
                            serials=("S1",))
    world.receive_available("T1", 5, location=world.cold)  # thermometer: -20..55 °C
    db.session.commit()
    start = utcnow() + timedelta(minutes=1)
    record = temperature.import_csv(world.operator, csv_rows(start, [4.0, 5.1, 9.6, 11.2, 6.0]),
                                    source="cold-room-1.csv", location=world.cold)
    db.session.commit()
    assert record.readings == 5 and record.excursions == 2
    found = temperature.excursions(location=world.cold)
    assert [(e.product.code if e.product else None, e.readings_out, str(e.highest))
            for e in found] == [(None, 2, "11.20"), ("HA-GEL", 2, "11.20")]
    assert found[0].first_at == start + timedelta(minutes=30)
    note = db.session.scalar(select(Notification).where(Notification.user_id == world.qm.id))
    assert note is not None and "Temperature excursion at SH/A-C" in note.subject
    with pytest.raises(Conflict, match="already imported"):
        temperature.import_csv(world.operator, csv_rows(start, [4.0, 5.1, 9.6, 11.2, 6.0]),
                               source="again.csv", location=world.cold)


def test_an_inbound_shipment_log_is_checked_against_what_it_carried(world: World) -> None:
    ledger.receive(world.clerk, world.cold_quarantine, world.implant, "HA2",
                   supplier=world.supplier, document="GR-COLD-1", expiry=None, serials=["S9"])
    db.session.commit()
    content = csv_rows(datetime(2026, 3, 1, 8, 0), [3.0, 7.9, 8.4], naive=True)
    record = temperature.import_csv(world.clerk, content, source="transit.csv",
                                    shipment="GR-COLD-1", direction="inbound",
                                    timezone="Asia/Shanghai")
    db.session.commit()
    [excursion] = temperature.excursions(shipment="GR-COLD-1", direction="inbound")
    assert excursion.product_id == world.implant.id and excursion.readings_out == 1
    assert record.first_at == datetime(2026, 3, 1, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    assert temperature.shipment_has_records("GR-COLD-1", "inbound")
    assert not temperature.shipment_has_records("GR-COLD-1", "outbound")


def test_bad_files_are_refused_whole(world: World) -> None:
    bad = "recorded_at,celsius\n2026-03-01T08:00:00+08:00,4.0\nyesterday,5\n" \
          "2026-03-01T08:30:00+08:00,cold\n"
    with pytest.raises(InvalidInput) as refused:
        temperature.import_csv(world.operator, bad, source="x.csv", location=world.cold)
    assert set(refused.value.fields) == {"line 3", "line 4"}
    with pytest.raises(InvalidInput, match="header"):
        temperature.import_csv(world.operator, "when,degrees\n1,2\n", source="x.csv",
                               location=world.cold)
    with pytest.raises(InvalidInput) as refused:
        temperature.import_csv(world.operator, "recorded_at,celsius\n2026-03-01T08:00,4\n",
                               source="x.csv", shipment="SO-1", direction="outbound")
    assert "no UTC offset" in refused.value.fields["line 2"]
    with pytest.raises(PermissionDenied):
        temperature.import_csv(world.inspector, "recorded_at,celsius\n", source="x.csv",
                               location=world.cold)
    assert db.session.scalar(select(TemperatureReading.id)) is None


def test_readings_are_append_only_on_postgresql(world: World, stack) -> None:  # type: ignore[no-untyped-def]
    if stack.backend != "production":
        pytest.skip("the append-only trigger is a PostgreSQL feature")
    temperature.import_csv(world.operator, csv_rows(utcnow(), [4.0]), source="a.csv",
                           location=world.cold)
    db.session.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text("UPDATE temperature_reading SET celsius = 5"))
    db.session.rollback()
