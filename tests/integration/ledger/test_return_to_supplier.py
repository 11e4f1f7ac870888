"""Returning goods to the supplier (购进退出) is its own movement kind: the trace shows the lot
going back to that supplier, and nothing counts it as a sale to a customer."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import audit, demo
from engine.db import db
from engine.errors import InvalidInput
from engine.identity import roles
from engine.ledger import integrity
from engine.ledger import service as ledger
from engine.ledger import trace as tracing
from engine.masterdata import service as md
from tests.integration.ledger.world import World, place
from tests.support.web import login


def test_a_return_to_the_supplier_is_traced_to_it_and_is_no_sale(world: World) -> None:
    # The supplier also buys from us: what goes back to it as a supplier is no sale to it.
    trader = md.create_party(audit.SYSTEM, "SUP-2", "Ningbo Trading 宁波贸易",
                             kinds={"supplier", "customer"})
    moves = ledger.receive(world.clerk, world.quarantine, world.thermometer, "R1", 10,
                           supplier=trader, document="GR-R1", expiry=None)
    lot = ledger.get_lot(world.thermometer, "R1")
    ledger.transfer(world.inspector, "status_change", lot, 4,
                    source=place(world.quarantine, "quarantine"),
                    target=place(world.nonconforming, "nonconforming"), reason="Cracked")
    ledger.transfer(world.inspector, "status_change", lot, 6,
                    source=place(world.quarantine, "quarantine"), target=place(world.stock),
                    reason="Inspection passed")
    returned = ledger.return_to_supplier(
        world.qm, lot, 4, source=place(world.nonconforming, "nonconforming"), supplier=trader,
        document="RTS-1", reason="Cracked housings, supplier credit note CN-7")
    sold = ledger.ship(world.operator, lot, 2, source=place(world.stock), customer=trader,
                       document="SO-9")
    db.session.commit()
    assert len(moves) == 1
    assert (returned.kind, returned.party_id, returned.from_status, returned.to_status) == (
        "return_supplier", trader.id, "nonconforming", "shipped")
    assert ledger.shipped_to(trader, lot) == 2  # the sale only

    forward = tracing.lot_forward(lot)
    assert [(r.kind, r.quantity, r.party_code, r.document, r.location) for r in forward] == [
        ("return_supplier", 4, "SUP-2", "RTS-1", "NC-01"), ("ship", 2, "SUP-2", "SO-9", "A-01")]
    result = tracing.trace(world.thermometer, lot_no="R1")
    assert result.returned_to_suppliers == ["Ningbo Trading 宁波贸易"]
    assert result.customers == ["Ningbo Trading 宁波贸易"]  # through the sale of 2
    assert result.net_shipped == 2
    assert sold.kind == "ship"

    # What went back to the supplier does not come back as a customer return.
    with pytest.raises(InvalidInput, match="3 cannot come back"):
        ledger.return_goods(world.clerk, lot, 3, target=place(world.returns, "quarantine"),
                            customer=trader, document="RMA-1", reason="credit")
    ledger.reverse(world.qm, returned, "Carrier did not collect the goods")
    db.session.commit()
    assert ledger.shipped_to(trader, lot) == 2
    assert ledger.on_hand(world.thermometer, lot=lot, status="nonconforming") == 4
    assert tracing.trace(world.thermometer, lot_no="R1").returned_to_suppliers == []
    assert integrity.verify_balances().ok


def test_only_held_stock_goes_back_to_a_supplier(world: World) -> None:
    lot = world.receive_available("T1", 5)
    db.session.commit()
    with pytest.raises(InvalidInput, match="Only quarantined or nonconforming stock"):
        ledger.return_to_supplier(world.qm, lot, 1, source=place(world.stock),
                                  supplier=world.supplier, document="RTS-1", reason="surplus")
    with pytest.raises(InvalidInput, match="not recorded as a supplier"):
        ledger.return_to_supplier(world.qm, lot, 1,
                                  source=place(world.nonconforming, "nonconforming"),
                                  supplier=world.hospital, document="RTS-1", reason="broken")


def test_the_lot_page_shows_the_return_and_picked_stock(app: Flask, client: FlaskClient,
                                                        make_user: Any) -> None:
    with app.app_context():
        demo.seed_masterdata()
        demo.seed_stock()
        gel = md.get_product("HA-GEL-1ML")
        lot = ledger.get_lot(gel, "HA2409A")
        ledger.return_to_supplier(
            audit.SYSTEM, lot, 1, serial="QY000006",
            source=place(md.get_location("SH", "NC-COLD"), "nonconforming"),
            supplier=md.get_party("MFG-QY"), document="RTS-SH-0001",
            reason="Syringe seal damaged: back to the manufacturer")
        db.session.commit()
        lot_id = lot.id
        ledger.pick_fefo(audit.SYSTEM, md.get_product("BANDAGE-10"), 20, site=md.get_site("CHI"),
                         to=md.get_location("CHI", "SHP-01"), document="SO-CHI-0002")
        db.session.commit()
        bandage = ledger.get_lot(md.get_product("BANDAGE-10"), "B24CHI").id
    make_user("aude", roles.AUDITOR, full_name="Aude Dubois")
    login(client, "aude")
    page = client.get(f"/ledger/lots/{lot_id}").get_data(as_text=True)
    forward = page[page.index('id="forward"'):]
    assert "return_supplier" in forward and "RTS-SH-0001" in forward
    assert "Returned to suppliers" in page
    stock = client.get("/ledger/?status=picked").get_data(as_text=True)
    assert "B24CHI" in stock and "st-picked" in stock and "T240501" not in stock
    assert "B24CHI" in client.get(f"/ledger/lots/{bandage}").get_data(as_text=True)
    client.get("/lang/zh")
    page = client.get(f"/ledger/lots/{lot_id}").get_data(as_text=True)
    assert "购进退出" in page and "退回供货单位" in page
    assert "已拣货" in client.get("/ledger/?status=picked").get_data(as_text=True)
