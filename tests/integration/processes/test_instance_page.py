"""The instance page links what a process produced: a shipped outbound's delivery note."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engine.db import db


def test_a_shipped_outbound_links_its_delivery_note(app: Any, client: Any) -> None:
    from engine import demo
    from engine.workflow.models import ProcessInstance
    from tests.support.web import login

    with app.app_context():
        demo.seed_users()
        demo.seed_masterdata()
        demo.seed_stock()
        demo.activate_rule_packs()
        db.session.commit()
        demo.seed_outbound_and_release()
        db.session.commit()
        sale = db.session.scalar(select(ProcessInstance.id).where(
            ProcessInstance.process_key == "outbound"))
        decision = db.session.scalar(select(ProcessInstance.id).where(
            ProcessInstance.process_key == "release"))
    login(client, "qm", demo.DEMO_PASSWORD)
    page = client.get(f"/processes/instances/{sale}").get_data(as_text=True)
    assert f'href="/delivery-notes/{sale}"' in page
    assert f'href="/delivery-notes/{sale}.pdf"' in page
    other = client.get(f"/processes/instances/{decision}").get_data(as_text=True)
    assert "/delivery-notes/" not in other
