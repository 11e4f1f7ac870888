"""A small world for the release and outbound tests: three sites (one per region, its pack
active for the region under test), locations with a dispatch area, a reviewed customer and one
whose licence scope is class I only, products, and stock in every status; plus helpers to drive
the pages as staff do."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import audit
from engine.db import db
from engine.identity import service as identity
from engine.identity.models import Signature, User
from engine.ledger import gs1
from engine.ledger import service as ledger
from engine.ledger.models import Lot, StockMovement
from engine.masterdata import service as md
from engine.rules import store as packs
from engine.workflow import store
from engine.workflow.models import HumanTask, ProcessInstance
from engine.workflow.runtime import current_runtime
from tests.support.factories import PASSWORD
from tests.support.web import login, started_instance, submit

ROOT = Path(__file__).resolve().parents[3]
CLI = audit.Actor(None, "cli")
SITES = {"SH": ("CN", "Asia/Shanghai", "nmpa"), "CHI": ("US", "America/Chicago", "fda"),
         "RTM": ("EU", "Europe/Amsterdam", "mdr")}
LOCATIONS = (("Q-01", "quarantine", None), ("A-01", "available", (10, 30)),
             ("A-COLD", "available", (2, 8)), ("NC-01", "nonconforming", None),
             ("SHP-01", "shipping", None))
USERS = (("oper", "warehouse_operator"), ("insp1", "inspector"), ("insp2", "inspector"),
         ("qm", "quality_manager"), ("qm2", "quality_manager"))
TODAY = date.today()


def gtin(data: str) -> str:
    return data + str(gs1.gtin_check_digit(data))


THERMO, GEL, NOUDI = gtin("0690123400002"), gtin("0690123400001"), ""
#: lot -> (expiry offset in days, quantity, status at A-01 or elsewhere)
THERMO_LOTS = {"T-RECALL": 150, "T-EARLY": 300, "T-LATE": 700}


def label(code: str, lot: str, expiry: date, serial: str = "") -> str:
    return f"(01){code}(17){expiry:%y%m%d}(10){lot}" + (f"(21){serial}" if serial else "")


def expiry_of(lot: str) -> date:
    return TODAY + timedelta(days=THERMO_LOTS[lot])


def make_world(site_code: str) -> None:
    for code, (region, zone, _pack) in SITES.items():
        site = md.create_site(audit.SYSTEM, code, f"GxP Distribution {code} 物流中心", region,
                              zone, address=f"{code} Logistics Park 1")
        for loc, kind, band in LOCATIONS:
            md.create_location(audit.SYSTEM, site, loc, kind, loc, *(band or (None, None)))
    supplier = md.create_party(audit.SYSTEM, "SUP", "Supplier Co 供应商", kinds={"supplier"})
    md.add_licence(audit.SYSTEM, supplier, "operating_licence", "OL-1",
                   expires_on=TODAY + timedelta(days=800), scope_classes="I,II,III")
    maker = md.create_party(audit.SYSTEM, "MFG", "深圳安测医疗电子有限公司",
                            name_en="Shenzhen Ance Medical", kinds={"manufacturer"})
    qm = identity.find_user("qm")
    assert qm is not None
    for code, scope in (("CUS", "I,II,III"), ("NARROW", "I")):
        customer = md.create_party(audit.SYSTEM, code, f"{code} 医院", name_en=f"{code} Hospital",
                                   kinds={"customer"}, address=f"{code} Road 8",
                                   contact="Dr. Li 138-0000-0000")
        md.add_licence(audit.SYSTEM, customer, "other", f"{code}-H-1",
                       expires_on=TODAY + timedelta(days=900), scope_classes=scope)
        md.review_party(qm, customer, "approved", "Licence and scope checked",
                        password=PASSWORD, username="qm")
    common = {"manufacturer_id": maker.id, "registration_expiry": TODAY + timedelta(days=900)}
    md.create_product(audit.SYSTEM, "THERMO", name_zh="医用电子体温计",
                      name_en="Electronic thermometer", model="MT-201", specification="0.1 °C",
                      gtin=THERMO, registration_no="粤械注准20222070123", device_class="II",
                      storage_temp_min=-20, storage_temp_max=55, **common)
    md.create_product(audit.SYSTEM, "GEL", name_zh="透明质酸钠凝胶", name_en="Hyaluronate gel",
                      model="HA20", gtin=GEL, registration_no="国械注准20233130456",
                      device_class="III", implantable=True, cold_chain=True, storage_temp_min=2,
                      storage_temp_max=8, serialised=True, **common)
    md.create_product(audit.SYSTEM, "NOUDI", name_zh="无UDI器械", name_en="Device without UDI",
                      model="X1", registration_no="CE-0001", device_class="III", **common)
    seed_stock(site_code, supplier)
    for name in ("dual_review.bpmn", "release.bpmn", "outbound.bpmn"):
        store.deploy(CLI, (ROOT / "processes/bpmn" / name).read_bytes(), name)
    pack = SITES[site_code][2]
    packs.import_folder(CLI, pack)
    row = packs.latest_version(pack)
    assert row is not None
    assert packs.activate_for_demo(row, site_code) is not None
    db.session.commit()


def seed_stock(site_code: str, supplier: Any) -> None:
    place, loc = ledger.Place, md.get_location
    thermo = md.get_product("THERMO")
    for lot_no in THERMO_LOTS:
        ledger.receive(audit.SYSTEM, loc(site_code, "Q-01"), thermo, lot_no, 50,
                       supplier=supplier, document=f"GR-{lot_no}", expiry=expiry_of(lot_no))
        ledger.transfer(audit.SYSTEM, "status_change", ledger.get_lot(thermo, lot_no), 40,
                        source=place(loc(site_code, "Q-01"), "quarantine"),
                        target=place(loc(site_code, "A-01"), "available"),
                        reason="Inspection passed")
    ledger.hold_lot(audit.SYSTEM, ledger.get_lot(thermo, "T-RECALL"), "Recall FSN-1",
                    document="RC-1")
    # Stock of a lot that failed inspection, and a receipt nobody has inspected yet.
    ledger.transfer(audit.SYSTEM, "status_change", ledger.get_lot(thermo, "T-LATE"), 10,
                    source=place(loc(site_code, "Q-01"), "quarantine"),
                    target=place(loc(site_code, "NC-01"), "nonconforming"),
                    reason="Inspection failed: cracked housings")
    ledger.receive(audit.SYSTEM, loc(site_code, "Q-01"), thermo, "T-NEW", 20,
                   supplier=supplier, document="GR-T-NEW", expiry=TODAY + timedelta(days=800))
    noudi = md.get_product("NOUDI")
    ledger.receive(audit.SYSTEM, loc(site_code, "Q-01"), noudi, "N-1", 5, supplier=supplier,
                   document="GR-N-1", expiry=TODAY + timedelta(days=800))
    ledger.transfer(audit.SYSTEM, "status_change", ledger.get_lot(noudi, "N-1"), 5,
                    source=place(loc(site_code, "Q-01"), "quarantine"),
                    target=place(loc(site_code, "NC-01"), "nonconforming"),
                    reason="Inspection failed: label")
    gel = md.get_product("GEL")
    serials = [f"G{n:04d}" for n in range(1, 4)]
    ledger.receive(audit.SYSTEM, loc(site_code, "Q-01"), gel, "G-1", supplier=supplier,
                   document="GR-G-1", expiry=TODAY + timedelta(days=400), serials=serials)
    for serial in serials:
        ledger.transfer(audit.SYSTEM, "status_change", ledger.get_lot(gel, "G-1"), 1,
                        serial=serial, source=place(loc(site_code, "Q-01"), "quarantine"),
                        target=place(loc(site_code, "A-COLD"), "available"),
                        reason="Inspection passed")


@dataclass
class World:
    app: Flask
    site: str
    clients: dict[str, FlaskClient]
    ids: dict[str, int]

    def client(self, username: str) -> FlaskClient:
        return self.clients[username]


@pytest.fixture
def world(app: Flask, make_user: Any, request: pytest.FixtureRequest) -> Iterator[World]:
    site = getattr(request, "param", "SH")
    users = {name: make_user(name, role) for name, role in USERS}
    with app.app_context():
        make_world(site)
    clients = {}
    for name in users:
        clients[name] = app.test_client()
        login(clients[name], name)
    yield World(app, site, clients, {name: user.id for name, user in users.items()})


# -- driving the pages -------------------------------------------------------------------------


def start(world: World, username: str, key: str, subject: str,
          data: dict[str, Any] | None = None) -> int:
    response = submit(world.client(username), f"/processes/{key}/start",
                      {"subject": subject, "site_code": world.site, **(data or {})})
    assert response.status_code == 302, response.get_data(as_text=True)[-1500:]
    return started_instance(world.app, response)


def open_task(world: World, username: str, instance_id: int, step: str) -> int:
    """The task as its performer finds it: listed in the inbox, then opened."""
    with world.app.app_context():
        row = db.session.scalar(select(HumanTask).where(
            HumanTask.instance_id == instance_id, HumanTask.status == "open"))
        assert row is not None, f"no open task in instance {instance_id}, expected {step}"
        assert row.step == step, (row.step, step)
        task_id = row.id
    inbox = world.client(username).get("/inbox/?tab=unclaimed").get_data(as_text=True)
    assert f"/inbox/tasks/{task_id}" in inbox
    assert world.client(username).get(f"/inbox/tasks/{task_id}").status_code == 200
    return int(task_id)


def complete(world: World, username: str, task_id: int, data: dict[str, Any], *,
             expect: int = 302, sign: bool = True) -> Any:
    """Submit the task form; when the page asks for a signature, sign with it."""
    url = f"/inbox/tasks/{task_id}"
    response = submit(world.client(username), url, data)
    if response.status_code == 428 and sign:
        assert "must be signed" in response.get_data(as_text=True)
        response = submit(world.client(username), url,
                          {**data, "username": username, "password": PASSWORD})
    assert response.status_code == expect, response.get_data(as_text=True)[-3000:]
    return response


def step(world: World, username: str, instance_id: int, name: str, data: dict[str, Any],
         **kwargs: Any) -> int:
    task_id = open_task(world, username, instance_id, name)
    complete(world, username, task_id, data, **kwargs)
    return task_id


# -- checks ------------------------------------------------------------------------------------


def stock(app: Flask, product: str, site: str) -> dict[tuple[str, str, str], int]:
    """(location, status, serial or lot) -> quantity, for one product at one site."""
    with app.app_context():
        rows = ledger.balances(product=md.get_product(product), site=md.get_site(site))
        return {(b.location.code, b.status, b.serial or b.lot.lot_no): b.quantity for b in rows}


def instance_status(app: Flask, instance_id: int) -> str:
    with app.app_context():
        found = db.session.get(ProcessInstance, instance_id)
        assert found is not None
        return found.status


def movements_of(app: Flask, instance_id: int) -> list[dict[str, Any]]:
    with app.app_context():
        rows = db.session.execute(
            select(StockMovement, Lot.lot_no).join(Lot, Lot.id == StockMovement.lot_id)
            .where(StockMovement.instance_id == str(instance_id)).order_by(StockMovement.id))
        return [{"kind": m.kind, "lot": lot, "serial": m.serial, "quantity": m.quantity,
                 "from": m.from_status, "to": m.to_status, "party": m.party_id,
                 "document": m.document, "task_id": m.task_id, "actor": m.actor_name}
                for m, lot in rows]


def party_id(app: Flask, code: str) -> int:
    with app.app_context():
        return md.get_party(code).id


def signatures(app: Flask) -> list[tuple[str, str]]:
    """(signer username, meaning) of every task signature, in order."""
    with app.app_context():
        rows = db.session.execute(
            select(User.username, Signature.meaning).join(User, User.id == Signature.user_id)
            .where(Signature.entity_type == "human_task").order_by(Signature.id)).all()
        return [(username, meaning) for username, meaning in rows]


def audit_ok(app: Flask) -> None:
    with app.app_context():
        result = audit.verify()
        assert result.ok, result.summary()


def workflow_data(app: Flask, instance_id: int) -> dict[str, Any]:
    """The process data: the workflow's once it ended, else what its open task holds."""
    with app.app_context():
        found = db.session.get(ProcessInstance, instance_id)
        assert found is not None
        runtime = current_runtime()
        if found.status == "completed":
            return dict(runtime.load(found).data)
        row = db.session.scalar(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                        HumanTask.status == "open"))
        assert row is not None
        return runtime.task_view(row)[2]
