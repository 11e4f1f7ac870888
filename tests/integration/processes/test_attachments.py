"""Inspection attachments: the inspector attaches photos and certificates to the inspection;
they are kept with their SHA-256, bound into the signature and the history, downloadable as
they were sent; a file too large or a field that is not a real upload is refused and nothing
is kept."""

from __future__ import annotations

import hashlib
import json
from io import BytesIO

import pytest
from sqlalchemy import func, select

from engine import attachments
from engine.attachments import Attachment
from engine.db import db
from engine.identity.models import Signature
from engine.workflow.models import HumanTask
from tests.integration.processes.test_receiving import (
    THERMO,
    World,
    arrival,
    audit_ok,
    inspection,
    label,
    open_task,
    start,
    step_task,
    world,
)
from tests.support.factories import PASSWORD
from tests.support.web import submit

__all__ = ["world"]

PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
CERT = "合格证明 Certificate of conformity, lot T26A".encode()


def _arrived(world: World) -> tuple[int, int]:
    instance = start(world, "SH", "PO-ATT thermometers")
    step_task(world, "clerk", instance, "receiving.arrival",
              arrival("THERMO", [label(THERMO, "T26A") + " x 20"], 20))
    return instance, open_task(world, "insp1", instance, "receiving.inspect")


def _attachments() -> int:
    return int(db.session.scalar(select(func.count()).select_from(Attachment)) or 0)


def test_inspection_files_are_kept_signed_and_downloadable(world: World) -> None:
    instance, task_id = _arrived(world)
    files = [(BytesIO(PHOTO), "seal photo.png"), (BytesIO(CERT), "scans/证书.txt")]
    response = submit(world.client("insp1"), f"/inbox/tasks/{task_id}",
                      {**inspection(20, 0), "attachments": files, "username": "insp1",
                       "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    with world.app.app_context():
        rows = db.session.scalars(select(Attachment).order_by(Attachment.id)).all()
        assert [(r.filename, r.size, r.sha256) for r in rows] == [
            ("seal photo.png", len(PHOTO), hashlib.sha256(PHOTO).hexdigest()),
            ("证书.txt", len(CERT), hashlib.sha256(CERT).hexdigest())]
        assert rows[0].content_type == "image/png"
        ids = [r.id for r in rows]
        row = db.session.get(HumanTask, task_id)
        assert row is not None and row.status == "completed"
        # The signed content names each file by its hash: a swapped file breaks the signature.
        signature = db.session.scalar(select(Signature).where(
            Signature.entity_type == "human_task", Signature.entity_id == str(task_id)))
        assert signature is not None
    page = world.client("insp2").get(f"/processes/instances/{instance}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    for attachment_id in ids:
        assert f"/inbox/attachments/{attachment_id}" in text
    download = world.client("insp2").get(f"/inbox/attachments/{ids[0]}")
    assert download.status_code == 200 and download.data == PHOTO
    assert download.headers["X-Content-SHA256"] == hashlib.sha256(PHOTO).hexdigest()
    assert "attachment" in download.headers["Content-Disposition"]
    with world.app.app_context():
        from engine.audit import AuditEvent

        event = db.session.scalar(select(AuditEvent).where(
            AuditEvent.action == "task.complete", AuditEvent.entity_id == str(task_id)))
        assert event is not None
        recorded = json.loads(event.after)["data"]["attachments"]
        assert [f["sha256"] for f in recorded] == [hashlib.sha256(PHOTO).hexdigest(),
                                                   hashlib.sha256(CERT).hexdigest()]
    audit_ok(world.app)


def test_a_file_too_large_is_refused_naming_the_field_and_nothing_is_kept(
    world: World, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A limit of 100 KB here (10 MB in use): a body of over 10 MB would be spooled to a file.
    monkeypatch.setattr(attachments, "MAX_BYTES", 100 * 1024)
    _instance, task_id = _arrived(world)
    big = (BytesIO(b"x" * (100 * 1024 + 1)), "video.mp4")
    response = submit(world.client("insp1"), f"/inbox/tasks/{task_id}",
                      {**inspection(20, 0), "attachments": [(BytesIO(PHOTO), "a.png"), big],
                       "username": "insp1", "password": PASSWORD})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert 'data-field="attachments"' in text and "video.mp4 is larger than 100 KB" in text
    with world.app.app_context():
        assert _attachments() == 0  # the first, good file went with the refused submit
        row = db.session.get(HumanTask, task_id)
        assert row is not None and row.status == "open"
    audit_ok(world.app)


def test_text_posted_as_a_file_field_is_not_an_attachment(world: World) -> None:
    """A client cannot claim an attachment by posting its description."""
    instance, task_id = _arrived(world)
    forged = json.dumps([{"attachment_id": 1, "filename": "x", "sha256": "0" * 64}])
    response = submit(world.client("insp1"), f"/inbox/tasks/{task_id}",
                      {**inspection(20, 0), "attachments": forged, "username": "insp1",
                       "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    with world.app.app_context():
        assert _attachments() == 0
    data = world.client("insp1").get(f"/processes/instances/{instance}").get_data(as_text=True)
    assert "/inbox/attachments/" not in data
