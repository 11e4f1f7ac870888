"""Release (质量放行) end to end, driven as staff drive it: the quality manager starts a decision
on held stock, decides and signs, a second person confirms a release, and the quality manager
releases the stock with a "released" signature; return to supplier and scrap are posted when
the decision is signed. One release per region with its pack; then the gate inside the process:
FDA refuses a release before inspection, MDR refuses one whose pre-supply checks fail (a form
cannot claim a UDI the product does not have), a rejected review sends the decision back."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.processes.stockworld import (
    World,
    audit_ok,
    complete,
    instance_status,
    movements_of,
    open_task,
    party_id,
    signatures,
    start,
    step,
    stock,
    world,
)

__all__ = ["world"]  # the fixture, imported for pytest

REGIONS = pytest.mark.parametrize("world", ["SH", "CHI", "RTM"], indirect=True)
PRE_SUPPLY = {"ce_marking": "y", "eu_declaration_present": "y", "label_language_ok": "y",
              "ifu_language_ok": "y", "udi_present": "y"}


def held(product: str, lot: str, status: str, **extra: Any) -> dict[str, Any]:
    return {"product": product, "lot_no": lot, "from_status": status,
            "held_reason": "Awaiting the quality decision", **extra}


def decision(disposition: str, **extra: Any) -> dict[str, Any]:
    return {"disposition": disposition, "decision_reason": "Investigation QI-7 closed",
            **PRE_SUPPLY, **extra}


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


@REGIONS
def test_release_of_nonconforming_stock_end_to_end(world: World) -> None:
    site = world.site
    instance = start(world, "qm", "release", "QD T-LATE", held("THERMO", "T-LATE",
                                                               "nonconforming"))
    decide = open_task(world, "qm", instance, "release.decide")
    if site == "RTM":  # MDR Art 14(2): no CE marking, no release; nothing else changes
        blocked = complete(world, "qm", decide,
                           decision("release", target_location="A-01", ce_marking=""),
                           expect=422)
        assert "CE marking" in text(blocked) and "mdr-art14-2" in text(blocked)
        assert movements_of(world.app, instance) == []
    complete(world, "qm", decide, decision("release", target_location="A-01"))
    assert stock(world.app, "THERMO", site)[("NC-01", "nonconforming", "T-LATE")] == 10, \
        "a release waits for the second person"

    review = open_task(world, "insp1", instance, "review.dual")
    complete(world, "insp1", review, {"review_decision": "confirmed"})
    step(world, "qm", instance, "release.execute", {"confirm_release": "y"})
    assert instance_status(world.app, instance) == "completed"

    [moved] = movements_of(world.app, instance)
    assert (moved["kind"], moved["lot"], moved["quantity"], moved["from"], moved["to"]) == (
        "status_change", "T-LATE", 10, "nonconforming", "available")
    assert moved["document"] == f"QD-{site}-{instance:06d}" and moved["task_id"]
    after = stock(world.app, "THERMO", site)
    assert after[("A-01", "available", "T-LATE")] == 50
    assert ("NC-01", "nonconforming", "T-LATE") not in after
    decided = {"SH": "approved", "CHI": "released", "RTM": "approved"}[site]
    assert signatures(world.app) == [("qm", decided), ("insp1", "reviewed"), ("qm", "released")]
    audit_ok(world.app)


@REGIONS
def test_scrap_and_return_to_supplier_are_posted_when_signed(world: World) -> None:
    site = world.site
    scrap = start(world, "qm", "release", "QD scrap", held("THERMO", "T-NEW", "quarantine"))
    step(world, "qm", scrap, "release.decide", decision("scrap"))
    assert instance_status(world.app, scrap) == "completed"
    [scrapped] = movements_of(world.app, scrap)
    assert (scrapped["kind"], scrapped["quantity"], scrapped["from"], scrapped["to"]) == (
        "scrap", 20, "quarantine", "scrapped")
    assert ("Q-01", "quarantine", "T-NEW") not in stock(world.app, "THERMO", site)

    back = start(world, "qm", "release", "QD return", held("NOUDI", "N-1", "nonconforming",
                                                          quantity="3"))
    task = open_task(world, "qm", back, "release.decide")
    missing = complete(world, "qm", task, decision("return_to_supplier"), expect=422)
    assert "return note number" in text(missing)
    complete(world, "qm", task, decision("return_to_supplier", return_document="RTS-2026-4"))
    [returned] = movements_of(world.app, back)
    assert (returned["kind"], returned["quantity"], returned["party"], returned["document"],
            returned["from"], returned["to"]) == (
        "return_supplier", 3, party_id(world.app, "SUP"), "RTS-2026-4", "nonconforming",
        "shipped")
    assert stock(world.app, "NOUDI", site)[("NC-01", "nonconforming", "N-1")] == 2
    assert [meaning for _who, meaning in signatures(world.app)] == ["approved", "approved"]
    audit_ok(world.app)


@pytest.mark.parametrize("world", ["CHI"], indirect=True)
def test_fda_refuses_a_release_before_inspection(world: World) -> None:
    instance = start(world, "qm", "release", "QD new", held("THERMO", "T-NEW", "quarantine"))
    task = open_task(world, "qm", instance, "release.decide")
    blocked = complete(world, "qm", task, decision("release"), expect=422)
    assert "has not finished inspection" in text(blocked)
    assert movements_of(world.app, instance) == []
    assert signatures(world.app) == []
    assert open_task(world, "qm", instance, "release.decide") == task


@pytest.mark.parametrize("world", ["RTM"], indirect=True)
def test_mdr_refuses_a_release_without_a_udi_on_file(world: World) -> None:
    instance = start(world, "qm", "release", "QD no UDI", held("NOUDI", "N-1", "nonconforming"))
    task = open_task(world, "qm", instance, "release.decide")
    blocked = complete(world, "qm", task, decision("release"), expect=422)
    assert "the UDI where it applies" in text(blocked)
    assert movements_of(world.app, instance) == []
    # Scrapping it is still possible.
    complete(world, "qm", task, decision("scrap"))
    assert [m["kind"] for m in movements_of(world.app, instance)] == ["scrap"]


@pytest.mark.parametrize("world", ["SH"], indirect=True)
def test_a_rejected_review_sends_the_decision_back(world: World) -> None:
    instance = start(world, "qm", "release", "QD back", held("THERMO", "T-LATE", "nonconforming"))
    step(world, "qm", instance, "release.decide", decision("release"))
    step(world, "insp1", instance, "review.dual", {"review_decision": "rejected",
                                                   "review_comment": "Root cause not shown"})
    step(world, "qm", instance, "release.decide", decision("scrap"))
    assert instance_status(world.app, instance) == "completed"
    assert [(m["kind"], m["quantity"]) for m in movements_of(world.app, instance)] == [
        ("scrap", 10)]


@pytest.mark.parametrize("world", ["SH"], indirect=True)
def test_the_decision_corrects_a_quantity_larger_than_what_is_held(world: World) -> None:
    instance = start(world, "qm", "release", "QD N-1", held("NOUDI", "N-1", "nonconforming",
                                                            quantity="8"))
    task = open_task(world, "qm", instance, "release.decide")
    page = text(world.client("qm").get(f"/inbox/tasks/{task}"))
    assert 'name="quantity"' in page and 'value="8"' in page, "the requested quantity is shown"
    refused = complete(world, "qm", task, decision("scrap"), expect=422)
    assert "Only 5 of lot N-1 are nonconforming" in text(refused)
    complete(world, "qm", task, decision("scrap", quantity="5"))
    [scrapped] = movements_of(world.app, instance)
    assert (scrapped["kind"], scrapped["quantity"]) == ("scrap", 5)


@pytest.mark.parametrize("world", ["SH"], indirect=True)
def test_stock_of_a_lot_under_an_open_recall_is_not_released(world: World) -> None:
    from engine import audit
    from engine.db import db
    from engine.identity import service as identity
    from engine.ledger import service as ledger
    from engine.masterdata import service as md
    from engine.recall import service as recalls

    with world.app.app_context():
        thermo = md.get_product("THERMO")
        recalls.start(identity.find_user("qm"), product=thermo, lots=["T-LATE"], level="II",
                      reason="Cracked housings", source="Manufacturer notice MN-77")
        # Units of the lot that come back later wait in quarantine for a decision.
        ledger.receive(audit.SYSTEM, md.get_location("SH", "Q-01"), thermo, "T-LATE", 3,
                       supplier=md.get_party("SUP"), document="RET-77",
                       expiry=ledger.get_lot(thermo, "T-LATE").expiry_date)
        db.session.commit()
    instance = start(world, "qm", "release", "QD T-LATE", held("THERMO", "T-LATE",
                                                               "quarantine"))
    task = open_task(world, "qm", instance, "release.decide")
    refused = complete(world, "qm", task, decision("release", target_location="A-01"),
                       expect=422)
    assert "is under recall RC-" in text(refused)
    assert movements_of(world.app, instance) == [] and signatures(world.app) == []
    complete(world, "qm", task, decision("scrap"))  # scrapping it is still possible
    assert [m["kind"] for m in movements_of(world.app, instance)] == ["scrap"]
