"""Demo data for a first look at GxPFlow: one user per role (and more as features land)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from engine import audit
from engine.identity import roles
from engine.identity import service as identity

DEMO_PASSWORD = "Demo-pass-2026"  # noqa: S105 - published demo password

DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    ("clerk", "Li Ming 李明", roles.RECEIVING_CLERK),
    ("inspector", "Wang Fang 王芳", roles.INSPECTOR),
    ("inspector2", "Zhao Lei 赵磊", roles.INSPECTOR),
    ("operator", "Chen Jie 陈杰", roles.WAREHOUSE_OPERATOR),
    ("qm", "Liu Yang 刘洋", roles.QUALITY_MANAGER),
    ("compliance", "Sarah Miller", roles.COMPLIANCE_OFFICER),
    ("owner", "Hans Weber", roles.PROCESS_OWNER),
    ("admin", "Admin 管理员", roles.ADMINISTRATOR),
    ("auditor", "Emma Dubois", roles.AUDITOR),
    ("erp", "ERP integration", roles.API_CLIENT),
)


def seed_users() -> list[str]:
    """Create the demo users (kept if they exist); returns a line per user."""
    lines = []
    for username, full_name, role in DEMO_USERS:
        user = identity.find_user(username)
        if user is None:
            user = identity.create_user(audit.SYSTEM, username, full_name, DEMO_PASSWORD,
                                        must_change_password=False)
            if role != roles.API_CLIENT:
                identity.record_training(audit.SYSTEM, user, role,
                                         date.today() - timedelta(days=30),
                                         date.today() + timedelta(days=335),
                                         "Demo induction training")
            identity.grant_role(audit.SYSTEM, user, role)
        lines.append(f"{username:12} {roles.ROLES[role]['en']}")
    return lines


def seed_api_token(instance_path: Path) -> str:
    """A token for the demo API client, written once to the instance folder."""
    token_file = instance_path / "demo-api-token.txt"
    if token_file.exists():
        return token_file.read_text().strip()
    client = identity.find_user("erp")
    if client is None:
        raise RuntimeError("seed the demo users first")
    plain = identity.create_token(audit.SYSTEM, client, "Demo ERP token", days=365)
    token_file.write_text(plain + "\n")
    token_file.chmod(0o600)
    return plain


# -- master data and stock (issue 4) ---------------------------------------------------------

DEMO_SITES: tuple[tuple[str, str, str, str], ...] = (
    ("SH", "Shanghai distribution centre 上海物流中心", "CN", "Asia/Shanghai"),
    ("CHI", "Chicago warehouse", "US", "America/Chicago"),
    ("RTM", "Rotterdam warehouse", "EU", "Europe/Amsterdam"),
)
#: (code, zone, name, temperature range) of the locations every demo site gets.
DEMO_LOCATIONS: tuple[tuple[str, str, str, tuple[int, int] | None], ...] = (
    ("Q-01", "quarantine", "Pending inspection 待验区", None),
    ("Q-COLD", "quarantine", "Cold pending inspection 冷藏待验区", (2, 8)),
    ("A-01", "available", "Accepted stock 合格品区", (10, 30)),
    ("A-COLD", "available", "Cold room 冷库", (2, 8)),
    ("NC-01", "nonconforming", "Nonconforming 不合格品区", None),
    ("RET-01", "returns", "Returns 退货区", None),
    ("SHP-01", "shipping", "Dispatch 发货区", None),
)


def _demo_user(username: str) -> identity.User | audit.Actor:
    return identity.find_user(username) or audit.SYSTEM


def seed_masterdata() -> list[str]:
    """Sites, locations, parties with licences (one near expiry) and three products."""
    from sqlalchemy import select

    from engine.db import db
    from engine.masterdata import service as md
    from engine.masterdata.models import Site

    if db.session.scalar(select(Site.id).where(Site.code == "SH")) is not None:
        return ["master data: already seeded"]
    qm = _demo_user("qm")
    today = date.today()
    for code, name, region, zone in DEMO_SITES:
        site = md.create_site(qm, code, name, region, zone)
        for loc_code, loc_zone, loc_name, band in DEMO_LOCATIONS:
            md.create_location(qm, site, loc_code, loc_zone, loc_name,
                               *(band or (None, None)))
    supplier = md.create_party(qm, "SUP-RK", "上海瑞康医疗器械有限公司",
                               name_en="Shanghai Ruikang Medical Devices Co., Ltd.",
                               kinds={"supplier"}, country="CN",
                               address="上海市浦东新区张江路 88 号")
    md.add_licence(qm, supplier, "business_licence", "91310115MA1K4RK88X",
                   expires_on=None, issuer="上海市浦东新区市场监督管理局")
    md.add_licence(qm, supplier, "operating_licence", "沪药监械经营许20190123号",
                   expires_on=today + timedelta(days=45), scope_classes="II,III",
                   issuer="上海市药品监督管理局", issued_on=today - timedelta(days=1780))
    maker = md.create_party(qm, "MFG-QY", "杭州清源生物科技有限公司",
                            name_en="Hangzhou Qingyuan Biotech Co., Ltd.",
                            kinds={"manufacturer", "supplier"}, country="CN")
    md.add_licence(qm, maker, "manufacturing_licence", "浙药监械生产许20150043号",
                   expires_on=today + timedelta(days=900), scope_classes="III",
                   issuer="浙江省药品监督管理局")
    thermo_maker = md.create_party(qm, "MFG-AC", "深圳安测医疗电子有限公司",
                                   name_en="Shenzhen Ance Medical Electronics Co., Ltd.",
                                   kinds={"manufacturer"}, country="CN")
    md.add_licence(qm, thermo_maker, "manufacturing_licence",
                   "粤药监械生产许20180311号", expires_on=today + timedelta(days=1200),
                   scope_classes="II", issuer="广东省药品监督管理局")
    us_supplier = md.create_party(qm, "SUP-MW", "Midwest Surgical Supply LLC",
                                  kinds={"supplier"}, country="US")
    md.add_licence(qm, us_supplier, "fda_establishment", "3012345678",
                   expires_on=today + timedelta(days=400), issuer="FDA")
    customers = (
        ("CUS-RK", "上海仁康康复医院", "Shanghai Renkang Rehabilitation Hospital", "CN"),
        ("CUS-LS", "Lakeshore Medical Center", "Lakeshore Medical Center", "US"),
        ("CUS-NM", "Ziekenhuis Nieuwe Maas", "Nieuwe Maas Hospital", "NL"),
    )
    for code, name, name_en, country in customers:
        customer = md.create_party(qm, code, name, name_en=name_en,
                                   kinds={"customer"}, country=country)
        md.add_licence(qm, customer, "other", f"{code}-HOSP-2024",
                       expires_on=today + timedelta(days=700), scope_classes="I,II,III",
                       scope_text="医疗机构执业许可证 / hospital licence")
    md.create_product(
        qm, "HA-GEL-1ML", name_zh="注射用交联透明质酸钠凝胶",
        name_en="Cross-linked sodium hyaluronate gel for injection", model="QY-HA20",
        specification="1.0 mL/支, 20 mg/mL", gtin="06901234000016",
        registration_no="国械注准20233130456", registration_expiry=today + timedelta(days=1500),
        device_class="III", implantable=True, cold_chain=True, storage_temp_min=2,
        storage_temp_max=8, serialised=True, manufacturer_id=maker.id, near_expiry_days=180)
    md.create_product(
        qm, "THERMO-MT201", name_zh="医用电子体温计",
        name_en="Medical electronic thermometer", model="MT-201", specification="腋下/口腔, 0.1 °C",
        gtin="06901234000023", registration_no="粤械注准20222070123",
        registration_expiry=today + timedelta(days=60), device_class="II",
        storage_temp_min=-20, storage_temp_max=55, manufacturer_id=thermo_maker.id)
    md.create_product(
        qm, "BANDAGE-10", name_zh="弹力绷带", name_en="Elastic bandage",
        model="EB-10", specification="10 cm × 4.5 m", gtin="06901234000030",
        registration_no="沪浦械备20210012号", device_class="I")
    return [f"master data: {len(DEMO_SITES)} sites with {len(DEMO_LOCATIONS)} locations each, "
            f"{4 + len(customers)} parties with licences, 3 products"]


def seed_stock() -> list[str]:
    """Stock in every status, through real postings by the demo users."""
    from sqlalchemy import func, select

    from engine.db import db
    from engine.ledger import service as ledger
    from engine.ledger.models import StockMovement
    from engine.masterdata import service as md

    if db.session.scalar(select(func.count()).select_from(StockMovement)):
        return ["stock: already seeded"]
    clerk, inspector, operator, qm = (_demo_user(u) for u in
                                      ("clerk", "inspector", "operator", "qm"))
    place = ledger.Place
    loc = md.get_location
    today = date.today()
    gel, thermo, bandage = (md.get_product(c) for c in ("HA-GEL-1ML", "THERMO-MT201",
                                                        "BANDAGE-10"))
    qingyuan, ruikang, midwest = (md.get_party(c) for c in ("MFG-QY", "SUP-RK", "SUP-MW"))
    hospital, lakeshore, nieuwe_maas = (md.get_party(c) for c in ("CUS-RK", "CUS-LS", "CUS-NM"))
    serials = [f"QY{n:06d}" for n in range(1, 7)]
    ledger.receive(clerk, loc("SH", "Q-COLD"), gel, "HA2409A",
                   supplier=qingyuan, document="GR-SH-0001", expiry=today + timedelta(days=600),
                   production_date=today - timedelta(days=120), serials=serials)
    gel_lot = ledger.get_lot(gel, "HA2409A")
    for serial in serials[:5]:
        ledger.transfer(inspector, "status_change", gel_lot, 1, serial=serial,
                        source=place(loc("SH", "Q-COLD"), "quarantine"),
                        target=place(loc("SH", "A-COLD"), "available"),
                        reason="Inspection passed")
    ledger.transfer(inspector, "status_change", gel_lot, 1, serial=serials[5],
                    source=place(loc("SH", "Q-COLD"), "quarantine"),
                    target=place(loc("SH", "NC-01"), "nonconforming"),
                    reason="Inspection failed: syringe seal damaged")
    for serial in serials[:2]:
        ledger.ship(operator, gel_lot, 1, serial=serial,
                    source=place(loc("SH", "A-COLD"), "available"), customer=hospital,
                    document="SO-SH-0001")
    for lot_no, qty, days in (("T231101", 50, 100), ("T240501", 200, 700)):
        ledger.receive(clerk, loc("SH", "Q-01"), thermo, lot_no, qty,
                       supplier=ruikang, document=f"GR-SH-{lot_no}",
                       expiry=today + timedelta(days=days))
        ledger.transfer(inspector, "status_change", ledger.get_lot(thermo, lot_no),
                        qty, source=place(loc("SH", "Q-01"), "quarantine"),
                        target=place(loc("SH", "A-01"), "available"), reason="Inspection passed")
    ledger.pick_fefo(operator, thermo, 30, site=md.get_site("SH"),
                     to=loc("SH", "SHP-01"), document="SO-SH-0002")
    ledger.ship(operator, ledger.get_lot(thermo, "T231101"), 30,
                source=place(loc("SH", "SHP-01"), "available"), customer=hospital,
                document="SO-SH-0002")
    for site, customer, supplier in (("CHI", lakeshore, midwest), ("RTM", nieuwe_maas, midwest)):
        lot_no = f"B24{site}"
        ledger.receive(clerk, loc(site, "Q-01"), bandage, lot_no, 120,
                       supplier=supplier, document=f"GR-{site}-0001",
                       expiry=today + timedelta(days=1000))
        lot = ledger.get_lot(bandage, lot_no)
        ledger.transfer(inspector, "status_change", lot, 100,
                        source=place(loc(site, "Q-01"), "quarantine"),
                        target=place(loc(site, "A-01"), "available"), reason="Inspection passed")
        ledger.ship(operator, lot, 40, source=place(loc(site, "A-01"), "available"),
                    customer=customer, document=f"SO-{site}-0001")
    ledger.hold_lot(qm, ledger.get_lot(bandage, "B24RTM"),
                    "Manufacturer field safety notice FSN-2026-07 (demo recall)",
                    document="RC-0001")
    count = db.session.scalar(select(func.count()).select_from(StockMovement))
    return [f"stock: {count} movements posted (quarantine, available, nonconforming, recalled "
            "and shipped stock at SH, CHI and RTM)"]
