"""FDA device tracking (21 CFR 821) inside the processes at the Chicago site (FDA pack): a
tracked device's receipt tells the quality managers what to send its manufacturer at once;
selling one to a user facility makes us the final distributor, so the shipment needs the
patient tracking data, which the gate demands by name, and the manufacturer is told."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from engine import audit
from engine.db import db
from engine.identity.models import Notification
from engine.masterdata import service as md
from tests.integration.processes import stockworld as sw
from tests.integration.processes import test_receiving as rc
from tests.integration.processes.test_outbound import CHECK_OK, SHIP, order, pick, text

world = sw.world
receiving_world = rc.world


def _checked_sale(world: sw.World, subject: str) -> int:
    """A sale of 45 thermometers, picked, checked and reviewed: waiting to ship."""
    instance = sw.start(world, "oper", "outbound", subject)
    sw.step(world, "oper", instance, "outbound.order", order(45))
    sw.step(world, "oper", instance, "outbound.pick", pick("T-EARLY", "T-LATE"))
    sw.step(world, "insp1", instance, "outbound.check",
            {**CHECK_OK, "udi_scans": "\n".join(sw.label(sw.THERMO, lot, sw.expiry_of(lot))
                                                for lot in ("T-EARLY", "T-LATE"))})
    sw.step(world, "insp2", instance, "review.dual", {"review_decision": "confirmed"})
    return instance


def _notices(app: Any) -> list[str]:
    with app.app_context():
        return [f"{subject}\n{body}" for subject, body in db.session.execute(
            select(Notification.subject, Notification.body).order_by(Notification.id))]


@pytest.mark.parametrize("receiving_world", ["CHI"], indirect=True)
def test_a_tracked_receipt_tells_qa_what_to_send_the_manufacturer(
    receiving_world: rc.World,
) -> None:
    w = receiving_world
    with w.app.app_context():
        md.update_product(audit.SYSTEM, md.get_product("THERMO"), "21 CFR 821 order",
                          fda_tracked=True)
        db.session.commit()
    instance = rc.start(w, "CHI", "PO-US-TRACK thermometers")
    rc.step_task(w, "clerk", instance, "receiving.arrival",
                 rc.arrival("THERMO", [rc.label(rc.THERMO, "TR1") + " x 5"], 5))
    [decision] = rc.decisions(w.app, instance)
    assert "fda-821-notify-manufacturer" in rc.rule_ids(decision)
    assert "fda-821-tracking-data" not in rc.rule_ids(decision)  # lot, date, source recorded
    [notice] = [n for n in _notices(w.app) if "notify manufacturer" in n]
    assert "Tracked device THERMO" in notice and "lot TR1 x 5" in notice and "SUP" in notice
    rc.audit_ok(w.app)


@pytest.mark.parametrize("world", ["CHI"], indirect=True)
def test_a_tracked_device_sold_to_a_user_facility_needs_the_patient_data(
    world: sw.World,
) -> None:
    with world.app.app_context():
        md.update_product(audit.SYSTEM, md.get_product("THERMO"), "21 CFR 821 order",
                          fda_tracked=True)
        md.update_party(audit.SYSTEM, md.get_party("CUS"), "A hospital", user_facility=True)
        db.session.commit()
    instance = _checked_sale(world, "SO-US-TRACK")
    ship = sw.open_task(world, "oper", instance, "outbound.ship")
    refused = sw.complete(world, "oper", ship, SHIP, expect=422)
    assert "fda-821-patient-data" in text(refused) and "patient_data" in text(refused)
    assert not [m for m in sw.movements_of(world.app, instance) if m["kind"] == "ship"]
    sw.complete(world, "oper", ship, {**SHIP, "patient_data": "Patient 4711, Dr. Reyes, "
                                                              "provided 2026-11-30"})
    assert sw.instance_status(world.app, instance) == "completed"
    notices = [n for n in _notices(world.app) if "notify manufacturer" in n]
    assert len(notices) == 2  # one for each quality manager
    assert all("Tracked device THERMO" in n and "Patient 4711" in n for n in notices)
    sw.audit_ok(world.app)


@pytest.mark.parametrize("world", ["CHI"], indirect=True)
def test_an_untracked_sale_or_a_sale_to_another_distributor_needs_no_patient_data(
    world: sw.World,
) -> None:
    with world.app.app_context():
        md.update_product(audit.SYSTEM, md.get_product("THERMO"), "21 CFR 821 order",
                          fda_tracked=True)  # CUS stays a distributor, not a user facility
        db.session.commit()
    instance = _checked_sale(world, "SO-US-DIST")
    sw.step(world, "oper", instance, "outbound.ship", SHIP)
    assert sw.instance_status(world.app, instance) == "completed"
    assert not [n for n in _notices(world.app) if "notify manufacturer" in n]
