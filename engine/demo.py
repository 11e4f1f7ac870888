"""Demo data for a first look at GxPFlow: one user per role (and more as features land)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from engine import audit
from engine.identity import roles
from engine.identity import service as identity

DEMO_PASSWORD = "Demo-pass-2026"  # noqa: S105 - published demo password

DEMO_USERS: tuple[tuple[str, str, str, str | None], ...] = (
    # user name, full name, role, the time zone of their site (times show in it)
    ("clerk", "Li Ming 李明", roles.RECEIVING_CLERK, "Asia/Shanghai"),
    ("inspector", "Wang Fang 王芳", roles.INSPECTOR, "Asia/Shanghai"),
    ("inspector2", "Zhao Lei 赵磊", roles.INSPECTOR, "Asia/Shanghai"),
    ("operator", "Chen Jie 陈杰", roles.WAREHOUSE_OPERATOR, "Asia/Shanghai"),
    ("qm", "Liu Yang 刘洋", roles.QUALITY_MANAGER, "Asia/Shanghai"),
    ("compliance", "Sarah Miller", roles.COMPLIANCE_OFFICER, "America/Chicago"),
    ("owner", "Hans Weber", roles.PROCESS_OWNER, "Europe/Amsterdam"),
    ("admin", "Admin 管理员", roles.ADMINISTRATOR, "Asia/Shanghai"),
    ("auditor", "Emma Dubois", roles.AUDITOR, "Europe/Amsterdam"),
    ("erp", "ERP integration", roles.API_CLIENT, None),
)


def seed_users() -> list[str]:
    """Create the demo users (kept if they exist); returns a line per user."""
    lines = []
    for username, full_name, role, zone in DEMO_USERS:
        user = identity.find_user(username)
        if user is not None and user.timezone is None and zone:  # keep a zone chosen since
            identity.set_preferences(audit.SYSTEM, user, zone, user.locale)
        if user is None:
            user = identity.create_user(audit.SYSTEM, username, full_name, DEMO_PASSWORD,
                                        must_change_password=False)
            if role != roles.API_CLIENT:
                identity.record_training(audit.SYSTEM, user, role,
                                         date.today() - timedelta(days=30),
                                         date.today() + timedelta(days=335),
                                         "Demo induction training")
            identity.grant_role(audit.SYSTEM, user, role)
            if zone:
                identity.set_preferences(audit.SYSTEM, user, zone, None)
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
    ("NC-COLD", "nonconforming", "Cold nonconforming 冷藏不合格品区", (2, 8)),
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
                                   kinds={"customer"}, country=country,
                                   notify_email=f"recalls@{code.lower()}.example")
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
    clerk, inspector, operator = (_demo_user(u) for u in
                                  ("clerk", "inspector", "operator"))
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
                    target=place(loc("SH", "NC-COLD"), "nonconforming"),
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
                source=place(loc("SH", "SHP-01"), "picked"), customer=hospital,
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
    count = db.session.scalar(select(func.count()).select_from(StockMovement))
    return [f"stock: {count} movements posted (quarantine, available, picked, nonconforming "
            "and shipped stock at SH, CHI and RTM)"]


def seed_recall() -> list[str]:
    """A recall in progress, started after the packs are active so their deadline applies:
    the Rotterdam bandage lot (held at once; the customer's notice goes to the outbox)."""
    from sqlalchemy import func, select

    from engine.db import db
    from engine.masterdata import service as md
    from engine.recall import service as recalls
    from engine.recall.models import Recall

    if db.session.scalar(select(func.count()).select_from(Recall)):
        return ["recall: already seeded"]
    qm = _demo_user("qm")
    assert isinstance(qm, identity.User)
    recall, _ = recalls.start(qm, product=md.get_product("BANDAGE-10"), lots=["B24RTM"],
                              level="II", reason="Elastic fibres tear below the rated stretch",
                              source="Manufacturer field safety notice FSN-2026-07",
                              idempotency_key="demo-recall-FSN-2026-07")
    return [f"recall: {recall.number} in progress ({recall.held_units} units held, "
            f"{len(recall.consignees)} customer to notify)"]


# -- rule packs (issue 6) ----------------------------------------------------------------------

DEMO_PACKS: dict[str, str] = {"CN": "nmpa", "US": "fda", "EU": "mdr"}


def activate_rule_packs() -> list[str]:
    """Import the shipped packs and activate the one of each demo site's region.

    DEMO ONLY: the system activates them without an e-signature (the activation row and the
    audit event say so). A real activation is signed by a compliance officer
    (`gxpflow rules activate` or the Rule packs page).
    """
    from engine.masterdata import service as md
    from engine.rules import store

    lines = [f"rule pack: {line}" for line in store.import_shipped(audit.SYSTEM)]
    for code, _name, region, _zone in DEMO_SITES:
        row = store.latest_version(DEMO_PACKS[region])
        if row is None:
            continue
        done = store.activate_for_demo(row, md.get_site(code))
        state = "activated (demo, unsigned)" if done else "already active"
        lines.append(f"rule pack: {row.label} at {code}: {state}")
    return lines


def seed_receiving() -> list[str]:
    """Receiving at SH through the workflow runtime, as the demo users would do it: one
    completed (thermometers: arrival, inspection, dual review, putaway) and one waiting at the
    inspection step (cold-chain gel), so the inspector's inbox has a task."""
    from datetime import UTC, datetime
    from typing import Any

    from sqlalchemy import func, select

    from engine import signatures
    from engine.db import db
    from engine.ledger import service as ledger
    from engine.masterdata import service as md
    from engine.workflow import store
    from engine.workflow.models import HumanTask, ProcessInstance
    from engine.workflow.runtime import current_runtime

    if db.session.scalar(select(func.count()).select_from(ProcessInstance)
                         .where(ProcessInstance.process_key == "receiving")):
        return ["receiving: already seeded"]
    if store.active_definition("receiving", missing_ok=True) is None:
        store.load_shipped(Path(__file__).resolve().parent.parent / "processes" / "bpmn")
    users = {name: identity.find_user(name) for name in
             ("clerk", "inspector", "inspector2", "operator")}
    if any(user is None for user in users.values()):
        return ["receiving: skipped (seed the demo users first)"]
    runtime = current_runtime()
    today = ledger.site_today(md.get_site("SH"))

    def signer(user: identity.User) -> Any:
        def sign(meaning: str, entity_type: str, entity_id: str, content: Any) -> int:
            return signatures.sign(user, DEMO_PASSWORD, meaning, entity_type, entity_id,
                                   content, username=user.username).id
        return sign

    def do(username: str, instance: ProcessInstance, form: dict[str, Any]) -> None:
        user = users[username]
        assert user is not None
        task = db.session.scalar(select(HumanTask).where(
            HumanTask.instance_id == instance.id, HumanTask.status == "open"))
        assert task is not None
        runtime.complete(user, task.id, form, signer=signer(user))
        db.session.commit()

    def arrival(product: str, scans: list[str], qty: int, note: str, **extra: Any
                ) -> dict[str, Any]:
        return {"purchase_order": f"PO-SH-{note}", "supplier": extra.pop("supplier", "SUP-RK"),
                "product": product, "scans": "\n".join(scans), "quantity": qty,
                "delivery_note_no": f"DN-SH-{note}", "matches_purchase_order": True,
                "matches_delivery_note": True, "deliverer_name": "Zhang Wei 张伟", **extra}

    expiry = f"{today + timedelta(days=720):%y%m%d}"
    clerk = users["clerk"]
    assert clerk is not None
    done = runtime.start(clerk, "receiving", subject="PO-SH-0101 thermometers 体温计",
                         site_code="SH")
    db.session.commit()
    thermometers = f"(01)06901234000023(17){expiry}(10)T260101 x 40"
    do("clerk", done, arrival("THERMO-MT201", [thermometers], 40, "0101"))
    do("inspector", done, {"conclusion": "partially_accepted", "accepted_quantity": 38,
                           "rejected_quantity": 2, "defects": "2 displays cracked 显示屏破裂",
                           "packaging_ok": True, "labels_ok": True,
                           "certificate_checked": True})
    do("inspector2", done, {"review_decision": "confirmed", "review_comment": "Checked 已核对"})
    do("operator", done, {"accepted_location": "A-01", "rejected_location": "NC-01"})

    waiting = runtime.start(clerk, "receiving", subject="PO-SH-0102 HA gel 透明质酸钠凝胶",
                            site_code="SH")
    db.session.commit()
    now = datetime.now(UTC)
    scans = [f"(01)06901234000016(17){expiry}(10)HA2602B(21)QY1{n:05d}" for n in range(1, 5)]
    do("clerk", waiting, arrival(
        "HA-GEL-1ML", scans, 4, "0102", supplier="MFG-QY", transport_mode="refrigerated_truck",
        dispatch_time=(now - timedelta(hours=7)).isoformat(), arrival_time=now.isoformat(),
        arrival_temperature_c="4.6", in_transit_record_present=True, in_transit_min_c="3.2",
        in_transit_max_c="6.9", in_transit_record_note="Logger LG-2207 export"))
    return [f"receiving: #{done.id} completed at SH (38 thermometers available, 2 "
            f"nonconforming); #{waiting.id} waiting for the inspector (4 gel units in cold "
            "quarantine)"]


def seed_tracking() -> list[str]:
    """A tracked device (21 CFR 821) received at Chicago through the workflow runtime: the
    arrival sends its manufacturer a tracking report (e-mailed to the instance outbox when no
    SMTP server is set), listed under Device tracking; the receipt waits for the inspector."""
    from sqlalchemy import func, select

    from engine.db import db
    from engine.ledger import gs1
    from engine.ledger import service as ledger
    from engine.masterdata import service as md
    from engine.tracking.models import TrackingNotice
    from engine.workflow.models import HumanTask
    from engine.workflow.runtime import current_runtime

    if db.session.scalar(select(func.count()).select_from(TrackingNotice)):
        return ["tracking: already seeded"]
    clerk, qm = identity.find_user("clerk"), _demo_user("qm")
    if clerk is None:
        return ["tracking: skipped (seed the demo users first)"]
    site = md.get_site("CHI")
    today = ledger.site_today(site)
    gtin = "0081234500001"
    gtin += str(gs1.gtin_check_digit(gtin))
    if md.find_product("PORT-HL9") is None:
        maker = md.create_party(qm, "MFG-HL", "Heartland Implant Systems Inc.",
                                kinds={"manufacturer"}, country="US",
                                notify_email="device-tracking@heartland.example")
        md.add_licence(qm, maker, "fda_establishment", "3098765432",
                       expires_on=today + timedelta(days=500), issuer="FDA")
        md.create_product(
            qm, "PORT-HL9", name_zh="植入式给药输液港", name_en="Implantable infusion port",
            model="HL-P9", specification="titanium, 9.6 Fr", gtin=gtin,
            registration_no="K201234", registration_expiry=today + timedelta(days=900),
            device_class="III", implantable=True, serialised=True, fda_tracked=True,
            manufacturer_id=maker.id)
    runtime = current_runtime()
    instance = runtime.start(clerk, "receiving", subject="PO-CHI-0201 infusion ports",
                             site_code="CHI")
    db.session.commit()
    expiry = f"{today + timedelta(days=900):%y%m%d}"
    scans = [f"(01){gtin}(17){expiry}(10)HL2611(21)HLP{n:05d}" for n in range(1, 4)]
    task = db.session.scalar(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                     HumanTask.status == "open"))
    assert task is not None
    runtime.complete(clerk, task.id, {
        "purchase_order": "PO-CHI-0201", "supplier": "SUP-MW", "product": "PORT-HL9",
        "scans": "\n".join(scans), "quantity": 3, "delivery_note_no": "DN-CHI-0201",
        "matches_purchase_order": True, "matches_delivery_note": True,
        "deliverer_name": "Dan Kowalski"})
    db.session.commit()
    return [f"tracking: #{instance.id} received 3 tracked infusion ports at CHI; the "
            "manufacturer's tracking report is under Device tracking"]


def seed_outbound_and_release() -> list[str]:
    """Outbound and release at SH through the workflow runtime, as the demo users would do it:
    one sales order of thermometers shipped to the rehabilitation hospital (order, FEFO pick,
    outbound check, dual review, shipment with its delivery note), and one quality decision on
    the nonconforming gel unit waiting for the quality manager."""
    from typing import Any

    from sqlalchemy import func, select

    from engine import signatures
    from engine.db import db
    from engine.ledger import service as ledger
    from engine.masterdata import service as md
    from engine.workflow import store
    from engine.workflow.models import HumanTask, ProcessInstance
    from engine.workflow.runtime import current_runtime

    if db.session.scalar(select(func.count()).select_from(ProcessInstance)
                         .where(ProcessInstance.process_key.in_(("outbound", "release")))):
        return ["outbound and release: already seeded"]
    if (store.active_definition("outbound", missing_ok=True) is None
            or store.active_definition("release", missing_ok=True) is None):
        store.load_shipped(Path(__file__).resolve().parent.parent / "processes" / "bpmn")
    users = {name: identity.find_user(name) for name in
             ("operator", "inspector", "inspector2", "qm")}
    qm = users["qm"]
    if qm is None or any(user is None for user in users.values()):
        return ["outbound and release: skipped (seed the demo users first)"]
    runtime = current_runtime()

    def signer(user: identity.User) -> Any:
        def sign(meaning: str, entity_type: str, entity_id: str, content: Any) -> int:
            return signatures.sign(user, DEMO_PASSWORD, meaning, entity_type, entity_id,
                                   content, username=user.username).id
        return sign

    def do(username: str, instance: ProcessInstance, form: dict[str, Any]) -> None:
        user = users[username]
        assert user is not None
        task = db.session.scalar(select(HumanTask).where(
            HumanTask.instance_id == instance.id, HumanTask.status == "open"))
        assert task is not None, f"no open task in {instance.process_key} #{instance.id}"
        runtime.complete(user, task.id, form, signer=signer(user))
        db.session.commit()

    hospital = md.get_party("CUS-RK")
    if hospital.review_status != "approved":  # first-sale review (GSP 81-82), signed
        md.review_party(qm, hospital, "approved", "医疗机构执业许可证已核对 / hospital licence "
                        "and scope (I, II, III) checked", password=DEMO_PASSWORD,
                        username="qm")
        db.session.commit()
    thermo = md.get_product("THERMO-MT201")
    lot = ledger.get_lot(thermo, "T231101")
    operator = users["operator"]
    assert operator is not None
    sale = runtime.start(operator, "outbound", subject="SO-SH-0101 thermometers 体温计",
                         site_code="SH")
    db.session.commit()
    do("operator", sale, {"customer": "CUS-RK", "product": "THERMO-MT201", "quantity": 10,
                          "ship_to_address": "上海市静安区康复路 66 号 药械科",
                          "contact": "王护士长 Wang 021-5555-0101",
                          "customer_order_no": "RK-2026-0042"})
    scan = f"(01){thermo.gtin}(17){lot.expiry_date:%y%m%d}(10){lot.lot_no}"
    do("operator", sale, {"udi_scans": [scan], "picked_all": True})
    do("inspector", sale, {"seal_intact": True, "label_legible": True, "label_matches": True,
                           "udi_scans": [scan], "check_note": "外包装完好 / cartons intact"})
    do("inspector2", sale, {"review_decision": "confirmed", "review_comment": "复核无误"})
    do("operator", sale, {"carrier": "顺丰速运 SF Express", "waybill_no": "SF1402203300101",
                          "seal_applied": True})
    # The next Chicago order is picked and waits in the dispatch area, reserved for it, for
    # the inspector's outbound check.
    bandage = md.get_product("BANDAGE-10")
    chicago = ledger.get_lot(bandage, "B24CHI")
    order = runtime.start(operator, "outbound", subject="SO-CHI-0002 bandages", site_code="CHI")
    db.session.commit()
    do("operator", order, {"customer": "CUS-LS", "product": "BANDAGE-10", "quantity": 20,
                           "ship_to_address": "1200 Lakeshore Dr, Chicago, IL 60611",
                           "contact": "Receiving dock, (312) 555-0142",
                           "customer_order_no": "LS-88213"})
    do("operator", order, {"udi_scans": [f"(01){bandage.gtin}(17){chicago.expiry_date:%y%m%d}"
                                         f"(10){chicago.lot_no}"], "picked_all": True})
    decision = runtime.start(
        qm, "release", {"product": "HA-GEL-1ML", "lot_no": "HA2409A", "serial": "QY000006",
                        "from_status": "nonconforming",
                        "held_reason": "Inspection failed: syringe seal damaged 针筒密封损坏"},
        subject="QD HA2409A QY000006 gel 凝胶", site_code="SH")
    db.session.commit()
    return [f"outbound: #{sale.id} shipped to {hospital.name} (delivery note "
            f"/delivery-notes/{sale.id}); #{order.id} at CHI picked, waiting for its outbound "
            f"check; release: #{decision.id} waiting for the quality "
            "manager (nonconforming gel unit QY000006)"]
