"""A manufacturer's tracking webhook is checked again when a report is sent: a name that now
resolves inside the distributor's network is not posted to, and the Device tracking page says
why the delivery failed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.processes import test_receiving as rc
from tests.integration.processes import test_tracking_notices as tn
from tests.support.dns import Resolver, record_connections

receiving_world = rc.world
delivered = tn.delivered


@tn.US
def test_a_tracking_webhook_that_now_resolves_inside_fails_with_the_reason(
        receiving_world: rc.World, delivered: Any, stack: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    if stack.backend == "production":
        pytest.skip("the DNS answer is set in this process; a real worker resolves for itself")
    w = receiving_world
    resolver = Resolver(monkeypatch, "93.184.216.34")
    tn._track(w.app, notify_webhook="https://hooks.maker.example/tracking")
    resolver.addresses = ["10.0.0.5"]  # the maker's name now answers with an internal address
    opened = record_connections(monkeypatch)

    tn._receive_gel(w)
    [notice] = tn._notices(w.app)
    delivered(tn._count(notice["id"], 1))
    assert tn._deliveries(w.app, notice["id"]) == [("webhook", "failed", 1)]
    assert opened == [], "no request was made"

    qm = w.client("qm")
    assert notice["reference"] in tn._page(qm, "/tracking/?status=failed")
    detail = tn._page(qm, f"/tracking/{notice['id']}")
    assert "Send again" in detail
    assert ("The webhook address hooks.maker.example (10.0.0.5) is on an internal network; "
            "recall notices and tracking reports go only to the partner&#39;s public server"
            ) in detail
