"""Part 11 signatures: re-authentication, meaning, binding to the record and its content."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from engine import signatures
from engine.audit import AuditEvent
from engine.db import db
from engine.errors import NotAuthenticated
from engine.identity import roles
from tests.support.factories import PASSWORD

pytestmark = pytest.mark.usefixtures("ctx")

RECORD = {"lot": "L2026-01", "conclusion": "accepted", "accepted_qty": 40}


def test_signing_records_meaning_name_time_and_hash(make_user) -> None:
    qm = make_user("ivy", roles.QUALITY_MANAGER, full_name="Ivy Chen 陈")
    signature = signatures.sign(qm, PASSWORD, "approved", "inspection", 7, RECORD,
                                username="ivy")
    db.session.commit()
    assert signature.printed_name == "Ivy Chen 陈"
    assert signature.meaning == "approved"
    assert signature.signed_at.tzinfo is not None
    assert signatures.check(signature, RECORD).valid
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "signature.sign"))
    assert event is not None and event.entity_id == "7"


def test_first_signature_needs_user_name_and_password(make_user) -> None:
    qm = make_user("jack", roles.QUALITY_MANAGER)
    with pytest.raises(NotAuthenticated, match="user name"):
        signatures.sign(qm, PASSWORD, "approved", "inspection", 1, RECORD)
    with pytest.raises(NotAuthenticated, match="password is wrong"):
        signatures.sign(qm, "not-my-password-1", "approved", "inspection", 1, RECORD,
                        username="jack")
    later = signatures.sign(qm, PASSWORD, "reviewed", "inspection", 1, RECORD,
                            first_in_session=False)
    assert later.id


def test_changed_content_shows_the_signature_as_broken(make_user) -> None:
    qm = make_user("kim", roles.QUALITY_MANAGER)
    signature = signatures.sign(qm, PASSWORD, "approved", "inspection", 3, RECORD,
                                username="kim")
    changed = RECORD | {"accepted_qty": 41}
    check = signatures.check(signature, changed)
    assert not check.valid and "changed after it was signed" in check.reason


def test_a_signature_moved_to_another_record_is_broken(make_user, stack) -> None:
    qm = make_user("lee", roles.QUALITY_MANAGER)
    signature = signatures.sign(qm, PASSWORD, "approved", "inspection", 3, RECORD,
                                username="lee")
    db.session.commit()
    if stack.backend == "production":
        with pytest.raises(Exception, match="append-only"):
            db.session.execute(text("UPDATE e_signature SET entity_id = '4'"))
        db.session.rollback()
        return
    db.session.execute(text("UPDATE e_signature SET entity_id = '4'"))
    db.session.commit()
    db.session.expire_all()
    moved = db.session.get(type(signature), signature.id)
    assert not signatures.check(moved, RECORD).valid
