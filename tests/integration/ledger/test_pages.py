"""The master-data and ledger pages, driven through the Flask client as staff use them, on the
demo distributor (Shanghai, Chicago, Rotterdam; gel implants, thermometers, bandages)."""

from __future__ import annotations

import io
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine import audit, demo
from engine.audit import AuditEvent
from engine.db import db
from engine.identity import roles
from engine.ledger import service as ledger
from engine.ledger.models import (
    CountSheet,
    StockMovement,
    TemperatureExcursion,
    TemperatureImport,
    TemperatureReading,
)
from engine.masterdata import service as md
from engine.masterdata.models import Licence, Party
from tests.support.factories import PASSWORD
from tests.support.web import csrf_token, login, submit

GEL_SCAN = "]d201069012340000161728123110HA2409A\x1d21QY000001"


@pytest.fixture
def demo_data(app: Flask) -> None:
    """The demo master data and stock, posted through the engine as the system."""
    with app.app_context():
        demo.seed_masterdata()
        demo.seed_stock()
        db.session.commit()


@pytest.fixture
def staff(app: Flask, make_user: Any, demo_data: None) -> None:
    make_user("quinn", roles.QUALITY_MANAGER, full_name="Quinn Liu 刘")
    make_user("carl", roles.RECEIVING_CLERK, full_name="Carl Li 李")
    make_user("otto", roles.WAREHOUSE_OPERATOR, full_name="Otto Chen 陈")
    make_user("aude", roles.AUDITOR, full_name="Aude Dubois")


def ids(app: Flask) -> dict[str, int]:
    """Ids of demo records the tests open pages of."""
    with app.app_context():
        gel = md.get_product("HA-GEL-1ML")
        return {
            "gel": gel.id, "gel_lot": ledger.get_lot(gel, "HA2409A").id,
            "thermo": md.get_product("THERMO-MT201").id,
            "supplier": md.get_party("SUP-RK").id,
            "licence": db.session.scalar(select(Licence.id).order_by(Licence.id).limit(1)) or 0,
            "site": md.get_site("SH").id,
            "cold_room": md.get_location("SH", "A-COLD").id,
            "stock_room": md.get_location("SH", "A-01").id,
        }


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def field_error(page: str, name: str) -> str:
    found = re.search(rf'data-field="{name}">([^<]*)<', page)
    assert found, f"no error shown at field {name}"
    return found.group(1)


# -- every page renders ----------------------------------------------------------------------

def test_every_page_renders_for_a_quality_manager(app: Flask, client: FlaskClient,
                                                  staff: None) -> None:
    login(client, "quinn")
    n = ids(app)
    pages = [
        "/ledger/", "/ledger/?status=available&sort=quantity&dir=desc", "/ledger/?q=HA2409",
        "/ledger/movements", "/ledger/movements?kind=ship&product=HA-GEL-1ML",
        f"/ledger/lots/{n['gel_lot']}", f"/ledger/lots/{n['gel_lot']}?serial=QY000001",
        "/ledger/expiry", "/ledger/expiry?sort=quantity&dir=desc", "/ledger/counts",
        "/ledger/temperatures", "/masterdata/", "/masterdata/products",
        "/masterdata/products?q=gel&class=III&sort=registration_expiry&dir=asc",
        f"/masterdata/products/{n['gel']}", f"/masterdata/products/{n['gel']}/edit",
        "/masterdata/products/new", "/masterdata/parties", "/masterdata/parties?kind=customer",
        f"/masterdata/parties/{n['supplier']}", f"/masterdata/parties/{n['supplier']}/edit",
        f"/masterdata/parties/{n['supplier']}/licences/new",
        f"/masterdata/licences/{n['licence']}/edit", "/masterdata/sites",
        "/masterdata/sites/new", f"/masterdata/sites/{n['site']}/edit", "/masterdata/locations",
        f"/masterdata/locations?site={n['site']}&zone=available", "/masterdata/locations/new",
        f"/masterdata/locations/{n['cold_room']}/edit",
        f"/masterdata/products/{n['gel']}/deactivate",
    ]
    for url in pages:
        response = client.get(url, follow_redirects=True)
        assert response.status_code == 200, (url, text(response)[:400])
    stock = text(client.get("/ledger/?product=HA-GEL-1ML"))
    assert "HA2409A" in stock and "SH/A-COLD" in stock and "SH/NC-COLD" in stock
    assert 'id="scan"' in stock and "autofocus" in stock


def test_an_auditor_reads_every_list_but_sees_no_edit_buttons(
        app: Flask, client: FlaskClient, staff: None) -> None:
    login(client, "aude")
    for url in ("/ledger/", "/ledger/movements", "/ledger/expiry", "/ledger/counts",
                "/ledger/temperatures", "/masterdata/products", "/masterdata/parties",
                "/masterdata/sites", "/masterdata/locations"):
        page = client.get(url)
        assert page.status_code == 200, url
        assert "New product" not in text(page) and "Open count sheet" not in text(page)
    assert "Import temperature readings" not in text(client.get("/ledger/temperatures"))


def test_expired_and_near_expiry_licences_and_registrations_are_flagged(
        app: Flask, client: FlaskClient, staff: None) -> None:
    with app.app_context():
        hospital = md.get_party("CUS-RK")
        md.add_licence(audit.SYSTEM, hospital, "business_licence", "OLD-2019",
                       expires_on=date.today() - timedelta(days=3))
        db.session.commit()
        hospital_id = hospital.id
    login(client, "aude")
    products = text(client.get("/masterdata/products?q=THERMO"))
    assert "Near expiry" in products  # registration expires in 60 days
    supplier = text(client.get(f"/masterdata/parties/{ids(app)['supplier']}"))
    assert "Near expiry" in supplier  # operating licence expires in 45 days
    assert "Expired" in text(client.get(f"/masterdata/parties/{hospital_id}"))
    assert "Expired" in text(client.get("/masterdata/parties?kind=customer"))


# -- master data edits -----------------------------------------------------------------------

def test_a_clerk_may_not_change_master_data(app: Flask, client: FlaskClient,
                                            staff: None) -> None:
    login(client, "carl")
    n = ids(app)
    assert client.get("/masterdata/products").status_code == 200
    token = csrf_token(client, "/masterdata/products")
    for url in ("/masterdata/products/new", f"/masterdata/products/{n['gel']}/edit",
                f"/masterdata/parties/{n['supplier']}/licences/new", "/masterdata/sites/new",
                f"/masterdata/products/{n['gel']}/deactivate"):
        assert client.get(url).status_code == 403, url
        assert client.post(url, data={"csrf_token": token, "reason": "try",
                                      "name_en": "X"}).status_code == 403, url
    with app.app_context():
        assert md.get_product("HA-GEL-1ML").active
        assert md.get_product("HA-GEL-1ML").name_en != "X"


def test_a_product_with_a_wrong_gtin_check_digit_is_refused_at_the_field(
        app: Flask, client: FlaskClient, staff: None) -> None:
    login(client, "quinn")
    data = {"code": "CATH-7F", "name_zh": "中心静脉导管", "name_en": "Central venous catheter",
            "model": "CVC-7F", "gtin": "06901234000047", "device_class": "III",
            "registration_no": "国械注准20243030001",
            "registration_expiry": (date.today() + timedelta(days=900)).isoformat(),
            "near_expiry_days": "120", "storage_temp_min": "10", "storage_temp_max": "30"}
    refused = submit(client, "/masterdata/products/new", data | {"gtin": "06901234000048"})
    assert refused.status_code == 422
    assert "check digit" in field_error(text(refused), "gtin").lower()
    with app.app_context():
        assert md.find_product("CATH-7F") is None
    created = submit(client, "/masterdata/products/new", data)
    assert created.status_code == 302
    with app.app_context():
        product = md.get_product("06901234000047")
        assert (product.code, product.near_expiry_days, str(product.storage_temp_max)) == (
            "CATH-7F", 120, "30.0")


def test_a_product_change_needs_a_reason_and_is_audited(app: Flask, client: FlaskClient,
                                                       staff: None) -> None:
    login(client, "quinn")
    url = f"/masterdata/products/{ids(app)['thermo']}/edit"
    form = text(client.get(url))
    assert "Reason for the change" in form
    values = {"name_zh": "医用电子体温计", "name_en": "Medical electronic thermometer (oral)",
              "model": "MT-201", "gtin": "06901234000023", "device_class": "II",
              "registration_no": "粤械注准20222070123", "storage_temp_min": "-20",
              "storage_temp_max": "55", "near_expiry_days": "90", "manufacturer_id": ""}
    refused = submit(client, url, values)
    assert refused.status_code == 422
    assert field_error(text(refused), "reason")
    saved = submit(client, url, values | {"reason": "Label revision B adds oral use",
                                          "fda_tracked": "y"})
    assert saved.status_code == 302
    with app.app_context():
        product = md.get_product("THERMO-MT201")
        assert product.near_expiry_days == 90 and product.name_en.endswith("(oral)")
        assert product.fda_tracked  # 21 CFR 821, set on the form
        event = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "product.update").order_by(AuditEvent.seq.desc())).first()
        assert event is not None and event.reason == "Label revision B adds oral use"


def test_deactivating_asks_for_confirmation_and_a_reason(app: Flask, client: FlaskClient,
                                                         staff: None) -> None:
    login(client, "quinn")
    url = f"/masterdata/locations/{ids(app)['stock_room']}/deactivate"
    confirm = text(client.get(url))
    assert "never deleted" in confirm and "Yes, deactivate" in confirm
    held = re.search(r"Stock is still on hand here: (\d+) units\.", confirm)
    assert held, "the demo's A-01 holds stock: the page says how much"
    assert submit(client, url, {"reason": ""}).status_code == 422
    unticked = submit(client, url, {"reason": "Rack A-01 dismantled"})
    assert unticked.status_code == 422
    assert f"still holds {held.group(1)} units" in text(unticked)
    with app.app_context():
        assert md.get_location("SH", "A-01").active
    assert submit(client, url, {"reason": "Rack A-01 dismantled",
                                "stock_acknowledged": "y"}).status_code == 302
    with app.app_context():
        assert not md.get_location("SH", "A-01").active
    assert "Deactivated" in text(client.get("/masterdata/locations?state=all&q=A-01"))


def test_a_licence_is_added_with_its_scope_and_the_party_reviewed(
        app: Flask, client: FlaskClient, staff: None) -> None:
    login(client, "quinn")
    party_id = ids(app)["supplier"]
    added = submit(client, f"/masterdata/parties/{party_id}/licences/new", {
        "type": "authorisation", "number": "AUTH-2026-01", "class_ii": "y", "class_iii": "y",
        "issuer": "杭州清源生物科技有限公司",
        "expires_on": (date.today() + timedelta(days=20)).isoformat()})
    assert added.status_code == 302
    page = text(client.get(f"/masterdata/parties/{party_id}"))
    assert "AUTH-2026-01" in page and "Class II, III" in page
    review_url = f"/masterdata/parties/{party_id}/review"
    wrong = submit(client, review_url, {"decision": "approved", "note": "Licences checked",
                                        "username": "quinn", "password": "wrong-pass-12"},
                   form_url=f"/masterdata/parties/{party_id}", follow_redirects=True)
    assert "password is wrong" in text(wrong)
    signed = submit(client, review_url, {"decision": "approved", "note": "Licences checked",
                                         "username": "quinn", "password": PASSWORD},
                    form_url=f"/masterdata/parties/{party_id}", follow_redirects=True)
    assert "The review was signed and recorded." in text(signed)
    with app.app_context():
        party = db.session.get(Party, party_id)
        assert party is not None and party.review_status == "approved"
        assert db.session.get(Licence, db.session.scalar(
            select(Licence.id).where(Licence.number == "AUTH-2026-01"))).scope_classes == "II,III"


# -- the lot page, its trace and the scan box -------------------------------------------------

def test_the_lot_page_shows_balances_serials_and_both_traces(
        app: Flask, client: FlaskClient, staff: None) -> None:
    login(client, "aude")
    page = text(client.get(f"/ledger/lots/{ids(app)['gel_lot']}"))
    backward = page[page.index('id="backward"'):page.index('id="forward"')]
    forward = page[page.index('id="forward"'):]
    assert "GR-SH-0001" in backward and "杭州清源生物科技有限公司" in backward
    assert "Inspection failed: syringe seal damaged" in backward
    assert "SO-SH-0001" in forward and "上海仁康康复医院" in forward
    assert "QY000001" in forward and "QY000002" in forward
    assert "Net quantity at customers:</strong> 2" in page
    assert "QY000006" in page and "SH/NC-COLD" in page  # the serial that failed inspection
    serial = text(client.get(f"/ledger/lots/{ids(app)['gel_lot']}?serial=QY000003"))
    assert "SO-SH-0001" not in serial[serial.index('id="forward"'):]


@pytest.mark.parametrize("scan", [
    GEL_SCAN,
    "(01)06901234000016(17)281231(10)HA2409A(21)QY000001",
    "0106901234000016|10HA2409A",
])
def test_a_scan_opens_the_lot_page(app: Flask, client: FlaskClient, staff: None,
                                   scan: str) -> None:
    login(client, "carl")
    response = client.get("/ledger/scan", query_string={"code": scan})
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"/ledger/lots/{ids(app)['gel_lot']}")


@pytest.mark.parametrize(("scan", "message"), [
    ("(01)06901234000017(10)HA2409A", "check digit"),
    ("(01)06901234000016(10)NOPE99", "no lot 'NOPE99'"),
    ("(01)09501101530003(10)X1", "No product has GTIN 09501101530003"),
    ("hello", "not a GS1 UDI"),
])
def test_a_bad_scan_says_what_is_wrong_on_the_stock_page(
        client: FlaskClient, staff: None, scan: str, message: str) -> None:
    login(client, "carl")
    response = client.get("/ledger/scan", query_string={"code": scan})
    assert response.status_code == 422
    error = re.search(r'id="scan-error"[^>]*>([^<]*)<', text(response))
    assert error and message.lower() in error.group(1).replace("&#39;", "'").lower()


# -- movements and the expiry board ------------------------------------------------------------

def test_movements_filter_by_kind_serial_document_and_day(
        app: Flask, client: FlaskClient, staff: None) -> None:
    login(client, "aude")
    shipped = text(client.get("/ledger/movements?kind=ship&product=06901234000016"))
    assert shipped.count('id="movement-') == 2 and "上海仁康康复医院" not in shipped.split(
        "<tbody>")[0]
    one = text(client.get("/ledger/movements?serial=QY000006"))
    assert one.count('id="movement-') == 2  # received, then failed inspection
    today = date.today()
    for day, expected in ((today, True), (today + timedelta(days=2), False)):
        page = text(client.get(f"/ledger/movements?from={day}&to={day + timedelta(days=1)}"
                               "&document=SO-SH-0001"))
        assert ('id="movement-' in page) is expected
    assert "Use a date like" in text(client.get("/ledger/movements?from=31.12.2026"))


def test_the_expiry_board_groups_expired_and_near_expiry_lots(
        app: Flask, client: FlaskClient, staff: None) -> None:
    with app.app_context():
        # Days are counted by the calendar at the site (Chicago), not by the test's clock.
        chicago_today = ledger.site_today(md.get_site("CHI"))
        ledger.receive(audit.SYSTEM, md.get_location("CHI", "Q-01"),
                       md.get_product("BANDAGE-10"), "B-OLD", 7, supplier=md.get_party("SUP-MW"),
                       document="GR-CHI-OLD", expiry=chicago_today - timedelta(days=10))
        db.session.commit()
    login(client, "aude")
    board = text(client.get("/ledger/expiry"))
    expired = board[board.index('id="expired"'):board.index('id="near_expiry"')]
    near = board[board.index('id="near_expiry"'):]
    assert "B-OLD" in expired and "expired 10 days ago" in expired
    assert "T231101" in near and "B-OLD" not in near  # 100 days left, threshold 180
    searched = text(client.get("/ledger/expiry?q=b-old"))  # a lot, whatever its case
    assert "B-OLD" in searched and "T231101" not in searched
    assert "T231101" in text(client.get("/ledger/expiry?q=THERMO"))  # a product code


# -- stock counts ----------------------------------------------------------------------------

def test_count_variances_post_as_signed_adjustments(app: Flask, client: FlaskClient,
                                                    staff: None) -> None:
    login(client, "otto")
    location_id = ids(app)["stock_room"]
    opened = submit(client, "/ledger/counts", {"location_id": str(location_id)})
    assert opened.status_code == 302
    sheet_url = opened.headers["Location"]
    with app.app_context():
        sheet = db.session.scalars(select(CountSheet)).one()
        lines = {ln.lot.lot_no: ln.id for ln in sheet.lines}
        assert set(lines) == {"T231101", "T240501"}
        before = db.session.scalar(select(func.count()).select_from(StockMovement))
    page = text(client.get(sheet_url))
    assert "Sign and post" in page
    counted = submit(client, f"{sheet_url}/record",
                     {f"counted-{lines['T231101']}": "18", f"note-{lines['T231101']}": "2 short",
                      f"counted-{lines['T240501']}": "200"}, form_url=sheet_url)
    assert counted.status_code == 302
    assert "-2" in text(client.get(sheet_url))

    wrong = submit(client, f"{sheet_url}/post", {"reason": "Quarterly count", "username": "otto",
                                                 "password": "not-my-password-1"},
                   form_url=sheet_url)
    assert wrong.status_code == 422 and "password is wrong" in text(wrong)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StockMovement)) == before
        assert db.session.get(CountSheet, sheet.id).status == "open"

    posted = submit(client, f"{sheet_url}/post", {"reason": "Quarterly count: 2 short",
                                                  "username": "otto", "password": PASSWORD},
                    form_url=sheet_url)
    assert posted.status_code == 302
    with app.app_context():
        movement = db.session.scalars(select(StockMovement).where(
            StockMovement.kind == "count_adjust")).one()
        assert (movement.quantity, movement.to_status, movement.reason) == (
            2, "missing", "Quarterly count: 2 short")
        sheet_now = db.session.get(CountSheet, sheet.id)
        assert sheet_now.status == "posted" and sheet_now.signature_id is not None
        thermo = md.get_product("THERMO-MT201")
        assert ledger.on_hand(thermo, lot=ledger.get_lot(thermo, "T231101")) == 18
    done = text(client.get(sheet_url))
    assert "Otto Chen 陈" in done and "Sign and post" not in done


def test_a_clerk_cannot_open_a_count(app: Flask, client: FlaskClient, staff: None) -> None:
    login(client, "carl")
    response = submit(client, "/ledger/counts", {"location_id": str(ids(app)["stock_room"])})
    assert response.status_code == 403
    assert "Open count sheet" not in text(client.get("/ledger/counts"))
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CountSheet)) == 0


# -- temperature records ---------------------------------------------------------------------

def upload(client: FlaskClient, content: str, **fields: str) -> Any:
    token = csrf_token(client, "/ledger/temperatures")
    data = {"csrf_token": token, "file": (io.BytesIO(content.encode()), "logger.csv"), **fields}
    return client.post("/ledger/temperatures", data=data, content_type="multipart/form-data")


def test_a_temperature_file_with_a_bad_row_is_refused_whole(
        app: Flask, client: FlaskClient, staff: None) -> None:
    login(client, "otto")
    cold_room = str(ids(app)["cold_room"])
    bad = ("recorded_at,celsius\n2026-03-01T08:00:00+08:00,4.1\n"
           "2026-03-01T08:05:00+08:00,four\n2026-03-01T08:10:00+08:00,4.3\n")
    refused = upload(client, bad, subject="location", location_id=cold_room)
    assert refused.status_code == 422
    errors = re.search(r'id="import-errors">(.*?)</ul>', text(refused), re.S)
    assert errors and "line 3" in errors.group(1) and "four" in errors.group(1)
    with app.app_context():
        for table in (TemperatureImport, TemperatureReading):
            assert db.session.scalar(select(func.count()).select_from(table)) == 0


def test_a_temperature_file_flags_excursions_of_the_location_and_its_goods(
        app: Flask, client: FlaskClient, staff: None) -> None:
    login(client, "otto")
    start = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(minutes=5)).replace(
        second=0, microsecond=0)
    rows = [(start + timedelta(minutes=5 * i)).strftime("%Y-%m-%dT%H:%M:%S") + f",{c},T1"
            for i, c in enumerate(("4.1", "9.5", "4.3"))]
    good = "recorded_at,celsius,sensor\n" + "\n".join(rows) + "\n"
    imported = upload(client, good, subject="location", location_id=str(ids(app)["cold_room"]))
    assert imported.status_code == 302
    page = text(client.get(imported.headers["Location"]))
    assert "excursion(s)" in page and "9.50 °C" in page
    assert "HA-GEL-1ML" in page  # the gel's own 2-8 °C range was broken too
    assert "the location&#39;s own range" in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TemperatureExcursion)) == 2
        record = db.session.scalars(select(TemperatureImport)).one()
        assert record.first_at == start  # times without offset are read in the site's zone
    listing = text(client.get("/ledger/temperatures?excursions=1"))
    assert "SH/A-COLD" in listing and "logger.csv" in listing


def test_a_shipment_temperature_file_needs_its_number(app: Flask, client: FlaskClient,
                                                      staff: None) -> None:
    login(client, "otto")
    content = "recorded_at,celsius\n2026-03-01T08:00:00Z,5\n"
    refused = upload(client, content, subject="shipment", direction="outbound")
    assert refused.status_code == 422 and "shipment" in text(refused)
    accepted = upload(client, content, subject="shipment", shipment="SO-SH-0001",
                      direction="outbound")
    assert accepted.status_code == 302
    page = text(client.get(accepted.headers["Location"]))
    assert "HA2409A" in page


# -- Chinese ------------------------------------------------------------------------------------

def test_the_pages_speak_chinese(app: Flask, client: FlaskClient, staff: None) -> None:
    login(client, "quinn")
    client.get("/lang/zh")
    stock = text(client.get("/ledger/"))
    assert "扫描" in stock and "库存" in stock
    assert "追溯" in text(client.get(f"/ledger/lots/{ids(app)['gel_lot']}"))
    assert "产品" in text(client.get("/masterdata/products"))
    # A select's options too (built once, shown in each request's language).
    assert '<option value="nonconforming">不合格品区</option>' in text(
        client.get(f"/masterdata/locations/{ids(app)['stock_room']}/edit"))
    assert '<option value="inbound">入库运输</option>' in text(client.get("/ledger/temperatures"))
    client.get("/lang/en")
    assert '<option value="inbound">Inbound</option>' in text(client.get("/ledger/temperatures"))


def english_strings() -> set[str]:
    """Every English text of the new pages: `_()` in templates and views, sortable column
    labels, form labels and choices, form group legends and the words shown for statuses."""
    from wtforms.fields.core import UnboundField

    from engine.ledger.models import KINDS, OUT_STATUSES, STATUSES
    from web.ledger import forms as ledger_forms
    from web.masterdata import forms as md_forms
    from web.masterdata import views as md_views

    root = Path(__file__).resolve().parents[3] / "web"
    found: set[str] = set()
    sources = [*root.glob("masterdata/**/*.html"), *root.glob("ledger/**/*.html"),
               *root.glob("masterdata/*.py"), *root.glob("ledger/*.py")]
    for path in sources:
        source = path.read_text(encoding="utf-8")
        source = re.sub(r'"\s*\n\s*"', "", source)  # join implicitly concatenated strings
        contexted = re.findall(r'\b_\(\s*"([^"]+)",\s*context="([^"]+)"\)', source)
        source = re.sub(r'\b_\(\s*"([^"]+)",\s*context="([^"]+)"\)', "", source)
        found |= {f"{context}|{text}" for text, context in contexted}
        found |= set(re.findall(r'\b_\(\s*"((?:[^"\\]|\\.)+)"', source))
        found |= set(re.findall(r"\b_\(\s*'((?:[^'\\]|\\.)+)'", source))
        found |= set(re.findall(r"(?:sort_header\([^)]*|board_sort\([^)]*), '([^']+)'\)", source))
        found |= set(re.findall(r'\("ledger\.\w+"|"masterdata\.\w+", "([^"]+)"', source))
    for module in (ledger_forms, md_forms):
        for form in vars(module).values():
            if isinstance(form, type):
                for value in vars(form).values():
                    if isinstance(value, UnboundField):
                        found.add(value.args[0])
                        for choice in value.kwargs.get("choices") or ():
                            found.add(str(getattr(choice.label, "text", choice.label)))
    for groups in (md_views.PRODUCT_GROUPS, md_views.PARTY_GROUPS, md_views.LICENCE_GROUPS,
                   md_views.SITE_GROUPS, md_views.LOCATION_GROUPS):
        found |= {legend for legend, _names in groups}
    found |= set(KINDS) | set(STATUSES) | set(OUT_STATUSES) | set(md.PARTY_KINDS)
    found |= set(md_forms.LICENCE_TYPE_LABELS.values()) | set(md_forms.ZONE_LABELS.values())
    return {s for s in found if re.search("[A-Za-z]", s) and "{{" not in s}


def test_every_new_english_string_has_a_chinese_translation(app: Flask) -> None:
    from web.ledger.messages import ZH as LEDGER_ZH
    from web.masterdata.messages import ZH as MASTERDATA_ZH

    ours = LEDGER_ZH | MASTERDATA_ZH
    missing = sorted(s for s in english_strings() if s not in ours)
    assert not missing, "no Chinese for:\n" + "\n".join(f"    {s!r}: ''," for s in missing)


def test_a_user_facility_is_a_customer_flag_set_on_the_party_form(
        app: Flask, client: FlaskClient, staff: None) -> None:
    login(client, "quinn")
    base = {"code": "HOSP-9", "name": "仁济医院", "name_en": "Renji Hospital", "country": "CN",
            "user_facility": "y"}
    refused = submit(client, "/masterdata/parties/new", base | {"is_supplier": "y"})
    assert refused.status_code == 422
    assert field_error(text(refused), "user_facility")
    saved = submit(client, "/masterdata/parties/new", base | {"is_customer": "y"})
    assert saved.status_code == 302
    with app.app_context():
        party = md.get_party("HOSP-9")
        assert party.is_customer and party.user_facility
    assert "User facility" in text(client.get(saved.headers["Location"]))
