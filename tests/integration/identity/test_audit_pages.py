"""The audit trail page as an auditor uses it: filter, expand, export to CSV, verify the chain."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from engine import audit
from engine.audit import AuditEvent
from engine.db import db, utcnow
from engine.identity import roles
from tests.support import backends
from tests.support.web import csrf_token, login, submit


def write_events(app: Flask, n: int, entity_type: str = "lot", actor: Any = None) -> None:
    with app.app_context():
        for i in range(n):
            audit.record(actor or audit.Actor(None, "Batch job"), f"{entity_type}.update",
                         entity_type, i, before={"status": "quarantine", "qty": i},
                         after={"status": "available", "qty": i, "名称": "导管"},
                         reason=f"inspection {i} passed", reason_required=True)
        db.session.commit()


@pytest.fixture
def auditor(client: FlaskClient, make_user: Any) -> FlaskClient:
    make_user("emma", roles.AUDITOR, full_name="Emma Dubois")
    login(client, "emma")
    return client


def test_a_clerk_may_not_see_the_audit_trail(app: Flask, client: FlaskClient,
                                             make_user: Any) -> None:
    make_user("clara", roles.RECEIVING_CLERK)
    login(client, "clara")
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/export.csv").status_code == 403
    assert client.get("/audit/events/1").status_code == 403
    token = csrf_token(client, "/")
    assert client.post("/audit/verify", data={"csrf_token": token}).status_code == 403


def test_the_auditor_reads_the_trail_with_before_after_and_reason(
    app: Flask, auditor: FlaskClient
) -> None:
    write_events(app, 3)
    page = auditor.get("/audit/?entity_type=lot&entity_id=2").get_data(as_text=True)
    assert page.count('<tr id="event-') == 1
    row = re.search(r'<tr id="event-\d+">.*?</details>', page, re.S).group(0)
    assert "lot.update" in row and "Batch job" in row
    assert "<details>" in row and "inspection 2 passed" in row
    assert "quarantine" in row and "available" in row and "导管" in row
    assert 'class="changed"' in row  # status changed, qty did not
    detail = auditor.get(re.search(r'href="(/audit/events/\d+)"', row).group(1))
    assert "matches: the event is as written" in detail.get_data(as_text=True)


def test_filters_by_actor_action_and_entity(app: Flask, auditor: FlaskClient,
                                            make_user: Any) -> None:
    bob = make_user("bob", roles.INSPECTOR, full_name="Bob Builder")
    write_events(app, 2, "movement", actor=audit.Actor(bob.id, "Bob Builder"))
    write_events(app, 3, "lot")

    def rows(query: str) -> int:
        return auditor.get(f"/audit/?{query}").get_data(as_text=True).count('<tr id="event-')

    assert rows("actor=bob") == 2  # by user name
    assert rows("actor=builder") == 2  # by part of the printed name
    assert rows("action=movement.") == 2
    assert rows("action=lot.update") == 3
    assert rows("entity_type=lot") == 3
    assert rows("entity_type=lot&actor=bob") == 0
    assert rows("action=%25") == 0  # LIKE wildcards are taken literally


def test_time_range_is_typed_in_the_users_zone(app: Flask, auditor: FlaskClient) -> None:
    write_events(app, 2)
    with auditor.session_transaction() as session:
        session["timezone"] = "Asia/Shanghai"
    shanghai = ZoneInfo("Asia/Shanghai")
    hour_ago = (utcnow() - timedelta(hours=1)).astimezone(shanghai).strftime("%Y-%m-%dT%H:%M")
    later = (utcnow() + timedelta(hours=1)).astimezone(shanghai).strftime("%Y-%m-%dT%H:%M")

    def rows(query: str) -> int:
        return auditor.get(f"/audit/?{query}").get_data(as_text=True).count('<tr id="event-')

    # Read as UTC, "an hour ago in Shanghai" would be seven hours ahead and find nothing.
    assert rows(f"since={hour_ago}") == rows("") > 0
    assert rows(f"until={hour_ago}") == 0
    assert rows(f"since={hour_ago}&until={later}") == rows("")
    assert rows(f"since={later}") == 0
    page = auditor.get("/audit/?since=yesterday").get_data(as_text=True)
    assert "Use a date (2026-03-31)" in page
    assert "Asia/Shanghai" in page


def test_paginated_and_sortable(app: Flask, auditor: FlaskClient) -> None:
    per_page = app.extensions["gxpflow.settings"].page_size
    write_events(app, per_page + 5)
    with app.app_context():
        total = db.session.query(AuditEvent).count()
    first = auditor.get("/audit/").get_data(as_text=True)
    assert first.count('<tr id="event-') == per_page
    assert f'<tr id="event-{total}">' in first  # newest first by default
    last = auditor.get("/audit/?page=2").get_data(as_text=True)
    assert last.count('<tr id="event-') == total - per_page
    oldest_first = auditor.get("/audit/?sort=seq&dir=asc").get_data(as_text=True)
    assert re.search(r'<tr id="event-(\d+)">', oldest_first).group(1) == "1"


def test_csv_export_of_the_filtered_events_with_utc_times_and_hashes(
    app: Flask, auditor: FlaskClient
) -> None:
    write_events(app, 4)
    write_events(app, 2, "movement")
    response = auditor.get("/audit/export.csv?entity_type=lot")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert len(rows) == 4
    assert list(rows[0]) == ["seq", "at_utc", "actor_id", "actor_name", "action",
                             "entity_type", "entity_id", "before", "after", "reason",
                             "prev_hash", "hash"]
    with app.app_context():
        stored = {e.seq: e for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.entity_type == "lot"))}
        for row in rows:
            event = stored[int(row["seq"])]
            assert row["at_utc"] == event.at.astimezone(UTC).isoformat(timespec="microseconds")
            assert row["at_utc"].endswith("+00:00")
            assert (row["hash"], row["prev_hash"]) == (event.hash, event.prev_hash)
            assert row["after"] == event.after and "导管" in row["after"]
            assert row["reason"].startswith("inspection ")
            # the file alone is enough to recompute each event's hash
            assert audit.event_hash(
                int(row["seq"]), event.at, None, row["actor_name"], row["action"],
                row["entity_type"], row["entity_id"], row["before"], row["after"],
                row["reason"], row["prev_hash"]) == row["hash"]
    assert [int(r["seq"]) for r in rows] == sorted(int(r["seq"]) for r in rows)


def test_the_csv_export_shows_a_formula_as_text_and_keeps_the_chain_checkable(
    app: Flask, auditor: FlaskClient
) -> None:
    """A reason typed like a spreadsheet formula is exported with an apostrophe in front (a
    spreadsheet shows it instead of running it); removing that apostrophe gives the value the
    event's hash covers."""
    from web.audit.views import plain_cell

    reasons = ['=HYPERLINK("http://evil.example","open")', "-5 units short", "@SUM(A1)",
               "'quoted already", "plain reason"]
    with app.app_context():
        for reason in reasons:
            audit.record(audit.Actor(None, "=cmd|' /C calc'!A0"), "lot.update", "lot", 1,
                         reason=reason, reason_required=True)
        db.session.commit()
    response = auditor.get("/audit/export.csv?entity_type=lot")
    rows = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert [row["reason"] for row in rows] == [
        '\'=HYPERLINK("http://evil.example","open")', "'-5 units short", "'@SUM(A1)",
        "''quoted already", "plain reason"]
    assert {row["actor_name"] for row in rows} == {"'=cmd|' /C calc'!A0"}
    with app.app_context():
        stored = {e.seq: e for e in db.session.scalars(select(AuditEvent))}
        for row in rows:
            assert [plain_cell(row["reason"]), plain_cell(row["actor_name"])] == [
                stored[int(row["seq"])].reason, stored[int(row["seq"])].actor_name]
            assert audit.event_hash(
                int(row["seq"]), stored[int(row["seq"])].at, None, plain_cell(row["actor_name"]),
                plain_cell(row["action"]), plain_cell(row["entity_type"]),
                plain_cell(row["entity_id"]), plain_cell(row["before"]),
                plain_cell(row["after"]), plain_cell(row["reason"]), row["prev_hash"],
            ) == row["hash"]


def test_verify_button_reports_an_intact_chain(app: Flask, auditor: FlaskClient) -> None:
    write_events(app, 7)
    with app.app_context():
        total = db.session.query(AuditEvent).count()
    page = submit(auditor, "/audit/verify", {}, form_url="/audit/").get_data(as_text=True)
    result = re.search(r'<div class="verify-result ok".*?</div>', page, re.S).group(0)
    assert f"{total} events verified in" in result and "the chain is intact" in result
    assert re.search(r"in \d+\.\d{3} s", result)


def test_verify_needs_the_csrf_token(app: Flask, auditor: FlaskClient) -> None:
    assert auditor.post("/audit/verify").status_code == 400


def test_verify_button_names_the_first_tampered_event(
    app: Flask, auditor: FlaskClient, stack: backends.Stack
) -> None:
    if stack.backend != "embedded":
        pytest.skip("on PostgreSQL the audit table refuses the UPDATE itself")
    write_events(app, 10)
    with app.app_context():
        db.session.execute(text("UPDATE audit_event SET reason = 'nothing to see' "
                                "WHERE seq = 4"))
        db.session.commit()
    page = submit(auditor, "/audit/verify", {}, form_url="/audit/").get_data(as_text=True)
    result = re.search(r'<div class="verify-result bad".*?</div>', page, re.S).group(0)
    assert "BROKEN" in result
    assert 'href="/audit/events/4"' in result
    assert "its content was changed after it was written" in result
    assert "3 events before it verified" in result
    detail = auditor.get("/audit/events/4").get_data(as_text=True)
    assert "does not match: the event was changed after it was written" in detail


def test_verify_button_names_a_deleted_event(app: Flask, auditor: FlaskClient,
                                             stack: backends.Stack) -> None:
    if stack.backend != "embedded":
        pytest.skip("on PostgreSQL the audit table refuses the DELETE itself")
    write_events(app, 6)
    with app.app_context():
        db.session.execute(text("DELETE FROM audit_event WHERE seq = 3"))
        db.session.commit()
    page = submit(auditor, "/audit/verify", {}, form_url="/audit/").get_data(as_text=True)
    assert 'href="/audit/events/3"' in page and "event 3 is missing" in page
    missing = auditor.get("/audit/events/3")
    assert "is not in the audit trail" in missing.get_data(as_text=True)


def test_audit_page_in_chinese(app: Flask, auditor: FlaskClient) -> None:
    write_events(app, 1)
    auditor.get("/lang/zh")
    page = auditor.get("/audit/").get_data(as_text=True)
    assert "审计追踪" in page and "校验哈希链" in page and "导出 CSV" in page
    verified = submit(auditor, "/audit/verify", {}, form_url="/audit/").get_data(as_text=True)
    assert "哈希链完整" in verified


@pytest.mark.production
def test_postgresql_verify_builds_the_same_text_python_hashes(app: Flask) -> None:
    """The fast path on PostgreSQL lets the database join each event's fields; they must be
    exactly the text `event_hash` hashes, for awkward values too."""
    with app.app_context():
        awkward = [
            (audit.SYSTEM, {"note": 'quote " and backslash \\ and tab \t'}, "line one\nline two"),
            (audit.Actor(0, "zero id"), {"名称": "导管", "n": 1.5, "none": None}, ""),
            (audit.Actor(42, "Ünïcode 用户 🙂"), {"list": [1, "二", {"x": True}]}, "  trimmed  "),
        ]
        for actor, after, reason in awkward:
            audit.record(actor, "odd.value", "thing", "id with spaces", after=after,
                         reason=reason)
        db.session.commit()
        from engine.audit import _PG_MATERIAL

        rows = db.session.execute(text(
            f"SELECT seq, {_PG_MATERIAL} FROM audit_event ORDER BY seq")).all()
        events = {e.seq: e for e in db.session.scalars(select(AuditEvent))}
        for seq, material in rows:
            e = events[seq]
            python = "\x1f".join((
                str(e.seq), e.at.isoformat(timespec="microseconds"), str(e.actor_id or ""),
                e.actor_name, e.action, e.entity_type, e.entity_id, e.before, e.after, e.reason,
                e.prev_hash))
            assert bytes(material) == python.encode("utf-8"), seq
        result = audit.verify()
        assert result.ok and result.checked == len(awkward)


@pytest.mark.production
def test_postgresql_verify_page_names_an_event_changed_behind_the_triggers_back(
    app: Flask, auditor: FlaskClient
) -> None:
    """A superuser can switch the append-only triggers off; verify still finds the change."""
    write_events(app, 4500)  # more than one batch of the fast path
    with app.app_context():
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
        db.session.execute(text("UPDATE audit_event SET after = '{}' WHERE seq = 3001"))
        db.session.commit()
    page = submit(auditor, "/audit/verify", {}, form_url="/audit/").get_data(as_text=True)
    result = re.search(r'<div class="verify-result bad".*?</div>', page, re.S).group(0)
    assert 'href="/audit/events/3001"' in result
    assert "its content was changed after it was written" in result
    assert "3000 events before it verified" in result
    with app.app_context():
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
        db.session.execute(text("DELETE FROM audit_event WHERE seq = 2"))
        db.session.commit()
        result = audit.verify()
    assert (result.ok, result.broken_seq, result.checked) == (False, 2, 1)
    assert "event 2 is missing" in result.reason


@pytest.mark.production
def test_verify_while_other_processes_keep_appending(app: Flask) -> None:
    """Appends committed while verify runs are not mistaken for a broken trail."""
    import threading

    write_events(app, 6000)
    stop = threading.Event()

    def keep_appending() -> None:
        with app.app_context():
            n = 0
            while not stop.is_set():
                audit.record(audit.SYSTEM, "lot.update", "lot", f"live-{n}", after={"n": n})
                db.session.commit()
                n += 1

    appender = threading.Thread(target=keep_appending)
    appender.start()
    try:
        with app.app_context():
            results = []
            for _ in range(5):
                results.append(audit.verify())
                db.session.rollback()
    finally:
        stop.set()
        appender.join()
    assert all(r.ok for r in results), [r.summary() for r in results if not r.ok]
    assert results[-1].checked > 6000


def test_verify_finds_an_event_forged_past_the_head(app: Flask, auditor: FlaskClient,
                                                     stack: backends.Stack) -> None:
    """An event added behind the engine's back, even with a correct hash, is not in the head."""
    if stack.backend != "embedded":
        pytest.skip("on PostgreSQL the forger would need to switch the triggers off first")
    write_events(app, 3)
    with app.app_context():
        last = db.session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()))
        at = utcnow()
        values = dict(seq=last.seq + 1, at=at, actor_id=None, actor_name="system",
                      action="lot.update", entity_type="lot", entity_id="9",
                      before="null", after='{"qty":1000}', reason="", prev_hash=last.hash)
        digest = audit.event_hash(values["seq"], at, None, "system", "lot.update", "lot", "9",
                                  "null", '{"qty":1000}', "", last.hash)
        db.session.execute(AuditEvent.__table__.insert(), [{**values, "hash": digest}])
        db.session.commit()
        seq = last.seq
    page = submit(auditor, "/audit/verify", {}, form_url="/audit/").get_data(as_text=True)
    assert f"the trail ends at event {seq + 1} but {seq} were written" in page
