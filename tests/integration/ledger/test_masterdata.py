"""Master data as quality keeps it: every change audited with before, after and a reason;
nothing deleted; first-purchase review signed; licence validity flagged."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from engine import audit, signatures
from engine.audit import AuditEvent
from engine.db import db
from engine.errors import Conflict, InvalidInput, NotAuthenticated, PermissionDenied
from engine.identity import roles
from engine.masterdata import service as md
from engine.masterdata.models import Party, Product
from tests.integration.ledger.world import World
from tests.support.factories import PASSWORD

pytestmark = pytest.mark.usefixtures("ctx")
TODAY = date.today()


def product_fields(**changes: object) -> dict[str, object]:
    return {"name_zh": "医用电子体温计", "name_en": "Electronic thermometer",
            "device_class": "II", "gtin": "6901234000023",
            "registration_no": "粤械注准20222070123"} | changes


def test_a_product_is_created_with_its_regulatory_data(make_user) -> None:
    qm = make_user("qm", roles.QUALITY_MANAGER)
    product = md.create_product(qm, "THERMO", **product_fields(
        storage_temp_min="-20", storage_temp_max=55, registration_expiry=TODAY + timedelta(400)))
    db.session.commit()
    assert product.gtin == "06901234000023"  # stored as GTIN-14
    assert product.near_expiry_days == 180
    assert product.storage_temp_min == Decimal("-20.0")
    assert product.registration_flag == "ok"
    assert md.find_product("06901234000023") is product
    assert md.find_product("6901234000023") is product
    assert md.find_product("THERMO") is product
    event = audit.history("product", product.id)[0]
    assert event.action == "product.create" and event.after_values["name_zh"] == "医用电子体温计"


@pytest.mark.parametrize(("changes", "field"), [
    ({"gtin": "06901234000024"}, "gtin"),
    ({"device_class": "IV"}, "device_class"),
    ({"name_zh": " "}, "name_zh"),
    ({"storage_temp_min": 8, "storage_temp_max": 2}, "storage_temp_max"),
    ({"cold_chain": True}, "storage_temp_min"),
    ({"near_expiry_days": -1}, "near_expiry_days"),
    ({"storage_temp_min": "warm"}, "storage_temp_min"),
])
def test_bad_product_data_is_refused_field_by_field(changes, field) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as refused:
        md.create_product(audit.SYSTEM, "P1", **product_fields(**changes))
    assert field in refused.value.fields


def test_changes_need_a_reason_and_keep_before_and_after(make_user) -> None:
    qm = make_user("qm", roles.QUALITY_MANAGER)
    product = md.create_product(qm, "THERMO", **product_fields())
    db.session.commit()
    with pytest.raises(InvalidInput, match="Say why") as refused:
        md.update_product(qm, product, "", near_expiry_days=90)
    assert "reason" in refused.value.fields
    db.session.rollback()
    product = md.get_product("THERMO")
    md.update_product(qm, product, "Customer contracts need 90 days", near_expiry_days=90)
    db.session.commit()
    event = audit.history("product", product.id)[-1]
    assert event.action == "product.update"
    assert (event.before_values["near_expiry_days"], event.after_values["near_expiry_days"]) == (
        180, 90)
    assert event.reason == "Customer contracts need 90 days"
    with pytest.raises(InvalidInput, match="cannot be changed"):
        md.update_product(qm, product, "why not", code="OTHER")


def test_only_quality_edits_master_data(make_user) -> None:
    clerk = make_user("clerk", roles.RECEIVING_CLERK)
    with pytest.raises(PermissionDenied, match=r"masterdata\.edit"):
        md.create_site(clerk, "SH", "Shanghai", "CN", "Asia/Shanghai")


def test_records_are_retired_not_deleted(make_user) -> None:
    qm = make_user("qm", roles.QUALITY_MANAGER)
    site = md.create_site(qm, "SH", "Shanghai", "CN", "Asia/Shanghai")
    location = md.create_location(qm, site, "A-01", "available", temp_min=2, temp_max=8)
    md.set_active(qm, location, False, "Cold room decommissioned")
    db.session.commit()
    assert location.active is False
    assert [e.action for e in audit.history("location", location.id)] == [
        "location.create", "location.deactivate"]


@pytest.mark.parametrize(("args", "field"), [
    (("SH", "Shanghai", "CN", "Mars/Olympus"), "timezone"),
    (("SH", "Shanghai", "JP", "Asia/Tokyo"), "region"),
    (("S H", "Shanghai", "CN", "Asia/Shanghai"), "code"),
])
def test_sites_need_a_region_and_a_real_time_zone(args, field) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as refused:
        md.create_site(audit.SYSTEM, *args)
    assert field in refused.value.fields


def test_codes_are_unique(make_user) -> None:
    md.create_site(audit.SYSTEM, "SH", "Shanghai", "CN", "Asia/Shanghai")
    with pytest.raises(Conflict):
        md.create_site(audit.SYSTEM, "SH", "Shanghai 2", "CN", "Asia/Shanghai")
    md.create_product(audit.SYSTEM, "A", **product_fields())
    with pytest.raises(Conflict, match="GTIN"):
        md.create_product(audit.SYSTEM, "B", **product_fields())


def supplier_with(expires_on: date | None) -> Party:
    party = md.create_party(audit.SYSTEM, "SUP", "上海瑞康医疗器械有限公司", kinds={"supplier"})
    md.add_licence(audit.SYSTEM, party, "operating_licence", "沪药监械经营许20190123号",
                   expires_on=expires_on, scope_classes=["II", "III"], issuer="上海市药监局")
    return party


def test_licence_flags_follow_expiry(make_user) -> None:
    party = md.create_party(audit.SYSTEM, "SUP", "Supplier", kinds={"supplier"})
    assert party.licence_flag == "missing"
    licence = md.add_licence(audit.SYSTEM, party, "operating_licence", "L-1",
                             expires_on=TODAY + timedelta(days=30), scope_classes="II,III")
    assert party.licence_flag == "near_expiry"
    assert licence.classes == {"II", "III"}
    md.update_licence(audit.SYSTEM, licence, "Renewed", expires_on=TODAY + timedelta(days=1500))
    assert party.licence_flag == "ok"
    assert md.licences_covering(party, "III") == [licence]
    assert md.licences_covering(party, "I") == []
    with pytest.raises(InvalidInput) as refused:
        md.add_licence(audit.SYSTEM, party, "passport", "X", expires_on=None,
                       scope_classes="IV")
    assert set(refused.value.fields) == {"type", "scope_classes"}


def test_a_licence_issued_for_a_later_day_is_not_in_force_yet(make_user) -> None:
    party = md.create_party(audit.SYSTEM, "NEW", "New Trading", kinds={"customer"})
    future = md.add_licence(audit.SYSTEM, party, "operating_licence", "L-9",
                            issued_on=TODAY + timedelta(days=10),
                            expires_on=TODAY + timedelta(days=1000), scope_classes="II,III")
    assert party.licence_flag == "missing", "nothing is in force today"
    assert md.licences_covering(party, "II") == []
    assert md.validity(future.expires_on, TODAY, issued_on=future.issued_on) == "not_yet_valid"
    later = TODAY + timedelta(days=10)
    assert md.licence_flag(party, later) == "ok"
    assert md.licences_covering(party, "II", later) == [future]


def test_first_purchase_review_is_signed(make_user) -> None:
    qm = make_user("qm", roles.QUALITY_MANAGER)
    party = supplier_with(TODAY + timedelta(days=300))
    db.session.commit()
    with pytest.raises(NotAuthenticated):
        md.review_party(qm, party, "approved", "Licences checked", password="wrong-1234",
                        username="qm")
    db.session.rollback()
    party = md.get_party("SUP")
    md.review_party(qm, party, "approved", "Business licence, 经营许可证, authorisation checked",
                    password=PASSWORD, username="qm")
    db.session.commit()
    assert party.review_status == "approved" and party.reviewed_by == qm.id
    [signature] = signatures.signatures_of("party", party.id)
    assert signature.meaning == "approved" and signature.printed_name == qm.full_name
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "party.review"))
    assert event is not None and event.after_values["review_status"] == "approved"


def test_approval_is_refused_with_expired_or_missing_licences(make_user) -> None:
    qm = make_user("qm", roles.QUALITY_MANAGER)
    party = supplier_with(TODAY - timedelta(days=1))
    with pytest.raises(InvalidInput, match="expired"):
        md.review_party(qm, party, "approved", "checked", password=PASSWORD, username="qm")
    md.review_party(qm, party, "rejected", "Operating licence expired", password=PASSWORD,
                    username="qm")
    assert party.review_status == "rejected"
    product = md.create_product(audit.SYSTEM, "P", **product_fields(registration_no=""))
    with pytest.raises(InvalidInput, match="registration is missing"):
        md.review_product(qm, product, "approved", "checked", password=PASSWORD,
                          first_in_session=False)
    clerk = make_user("clerk", roles.RECEIVING_CLERK)
    with pytest.raises(PermissionDenied, match=r"masterdata\.review"):
        md.review_product(clerk, product, "rejected", "no", password=PASSWORD)


def test_refresh_flags_changes_only_what_changed(make_user) -> None:
    party = supplier_with(TODAY + timedelta(days=200))
    product = md.create_product(audit.SYSTEM, "P", **product_fields(
        registration_expiry=TODAY + timedelta(days=100)))
    db.session.commit()
    assert (party.licence_flag, product.registration_flag) == ("ok", "ok")
    first = md.refresh_flags(TODAY + timedelta(days=150))
    assert first.parties == [("SUP", "ok", "near_expiry")]
    assert first.products == [("P", "ok", "expired")]
    again = md.refresh_flags(TODAY + timedelta(days=150))
    assert (again.parties, again.products) == ([], [])
    assert db.session.get(Product, product.id).registration_flag == "expired"


def test_retiring_a_place_or_product_that_holds_stock_needs_a_yes(world: World) -> None:
    world.receive_available("L1", 12)
    db.session.commit()
    for record, name in ((world.stock, "Location SH/A-01"), (world.shanghai, "Site SH"),
                         (world.thermometer, "Product THERMO")):
        with pytest.raises(Conflict) as refused:
            md.set_active(world.qm, record, False, "Closing")
        assert refused.value.message.startswith(f"{name} still holds 12 units (12 available).")
        assert refused.value.fields == {"stock_acknowledged": "12 units on hand."}
        db.session.rollback()
        assert record.active
    md.set_active(world.qm, world.stock, False, "Rack dismantled", stock_acknowledged=True)
    md.set_active(world.qm, world.stock2, False, "Empty rack")  # nothing on hand: no question
    db.session.commit()
    [event] = [e for e in audit.history("location", world.stock.id)
               if e.action == "location.deactivate"]
    assert json.loads(event.after or "{}")["stock_on_hand"] == {"available": 12}
    assert audit.verify().ok


@pytest.mark.parametrize(("country", "ok"), [("cn", True), ("DE", True), ("XX", False),
                                             ("ZZ", False), ("CHN", False)])
def test_a_party_country_is_an_iso_code(country: str, ok: bool) -> None:
    if ok:
        party = md.create_party(audit.SYSTEM, "CUS-7", "Klinik", kinds={"customer"},
                                country=country)
        assert party.country == country.upper()
        return
    with pytest.raises(InvalidInput) as refused:
        md.create_party(audit.SYSTEM, "CUS-7", "Klinik", kinds={"customer"}, country=country)
    assert refused.value.fields == {"country": "Use the two-letter country code (CN, US, DE...)."}
