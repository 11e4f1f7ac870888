"""A small distributor to test the ledger with: two sites, their zones, products, parties and
the people who move stock, all made through the master-data services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from engine import audit
from engine.db import db
from engine.identity import roles
from engine.identity.models import User
from engine.ledger import service as ledger
from engine.ledger.models import Lot, StockMovement
from engine.masterdata import service as md
from engine.masterdata.models import Location, Party, Product, Site


@dataclass
class World:
    shanghai: Site
    chicago: Site
    quarantine: Location
    cold_quarantine: Location
    stock: Location
    stock2: Location
    cold: Location
    nonconforming: Location
    returns: Location
    shipping: Location
    chicago_stock: Location
    chicago_quarantine: Location
    thermometer: Product
    implant: Product
    supplier: Party
    hospital: Party
    clinic: Party
    clerk: User
    inspector: User
    operator: User
    qm: User

    def receive_available(self, lot_no: str, quantity: int = 0, *, expiry: date | None = None,
                          location: Location | None = None, product: Product | None = None,
                          serials: tuple[str, ...] = ()) -> Lot:
        """Receive into quarantine and pass inspection into `location` (default: stock)."""
        product = product or self.thermometer
        target = location or self.stock
        quarantine = (self.chicago_quarantine if target.site_id == self.chicago.id
                      else self.quarantine)
        moves = ledger.receive(self.clerk, quarantine, product, lot_no, quantity or None,
                               supplier=self.supplier, document=f"GR-{lot_no}",
                               expiry=expiry or date.today() + timedelta(days=400),
                               serials=serials)
        lot = ledger.get_lot(product, lot_no)
        for move in moves:
            ledger.transfer(self.inspector, "status_change", lot, move.quantity,
                            serial=move.serial,
                            source=ledger.Place(quarantine, "quarantine"),
                            target=ledger.Place(target, "available"), reason="Inspection passed")
        return lot


def build_world(make_user: Any) -> World:
    system = audit.SYSTEM
    sh = md.create_site(system, "SH", "Shanghai DC 上海物流中心", "CN", "Asia/Shanghai")
    chi = md.create_site(system, "CHI", "Chicago warehouse", "US", "America/Chicago")

    def loc(site: Site, code: str, zone: str, band: tuple[int, int] | None = None) -> Location:
        return md.create_location(system, site, code, zone, code, *(band or (None, None)))

    supplier = md.create_party(system, "SUP-1", "上海瑞康医疗器械有限公司", kinds={"supplier"},
                               name_en="Shanghai Ruikang Medical Devices")
    maker = md.create_party(system, "MFG-1", "杭州清源生物科技有限公司",
                            kinds={"manufacturer"})
    hospital = md.create_party(system, "CUS-1", "上海仁康医院", kinds={"customer"})
    clinic = md.create_party(system, "CUS-2", "Lakeshore Clinic", kinds={"customer"})
    world = World(
        shanghai=sh, chicago=chi,
        quarantine=loc(sh, "Q-01", "quarantine"), cold_quarantine=loc(sh, "Q-C", "quarantine",
                                                                      (2, 8)),
        stock=loc(sh, "A-01", "available", (10, 30)), stock2=loc(sh, "A-02", "available"),
        cold=loc(sh, "A-C", "available", (2, 8)), nonconforming=loc(sh, "NC-01", "nonconforming"),
        returns=loc(sh, "RET", "returns"), shipping=loc(sh, "SHP", "shipping"),
        chicago_stock=loc(chi, "A-01", "available"),
        chicago_quarantine=loc(chi, "Q-01", "quarantine"),
        thermometer=md.create_product(
            system, "THERMO", name_zh="医用电子体温计", name_en="Electronic thermometer",
            device_class="II", gtin="06901234000023", registration_no="粤械注准20222070123",
            storage_temp_min=-20, storage_temp_max=55),
        implant=md.create_product(
            system, "HA-GEL", name_zh="注射用交联透明质酸钠凝胶", name_en="HA gel for injection",
            device_class="III", implantable=True, cold_chain=True, serialised=True,
            gtin="06901234000016", registration_no="国械注准20233130456", storage_temp_min=2,
            storage_temp_max=8, manufacturer_id=maker.id),
        supplier=supplier, hospital=hospital, clinic=clinic,
        clerk=make_user("clerk", roles.RECEIVING_CLERK, full_name="Li Ming 李明"),
        inspector=make_user("inspector", roles.INSPECTOR, full_name="Wang Fang 王芳"),
        operator=make_user("operator", roles.WAREHOUSE_OPERATOR, full_name="Chen Jie"),
        qm=make_user("qm", roles.QUALITY_MANAGER, full_name="Liu Yang"),
    )
    db.session.commit()
    return world


def place(location: Location, status: str = "available") -> ledger.Place:
    return ledger.Place(location, status)


def kinds(lot: Lot) -> list[str]:
    from sqlalchemy import select

    return list(db.session.scalars(select(StockMovement.kind)
                                   .where(StockMovement.lot_id == lot.id)
                                   .order_by(StockMovement.id)))

