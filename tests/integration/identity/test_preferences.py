"""Each person's time zone and language, as staff set them on the Preferences page, an
administrator sets them for a new user, and an operator sets them from the shell."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import audit
from engine.audit import AuditEvent
from engine.db import db
from engine.errors import PermissionDenied
from engine.identity import roles
from engine.identity import service as identity
from engine.identity.models import Notification, User
from tests.support.factories import PASSWORD
from tests.support.web import login, submit

#: A notice stored at 04:30 UTC: 12:30 in Shanghai, the same day.
NOTICE_AT = datetime(2026, 1, 15, 4, 30, tzinfo=UTC)


def stored(app: Flask, username: str) -> tuple[str | None, str | None]:
    with app.app_context():
        found = identity.find_user(username)
        assert found is not None
        return found.timezone, found.locale


def events(app: Flask, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


@pytest.fixture
def mei(app: Flask, client: FlaskClient, make_user: Any) -> FlaskClient:
    """Mei, a receiving clerk in Shanghai, logged in, with one notice stored at NOTICE_AT."""
    user = make_user("mei", roles.RECEIVING_CLERK, full_name="Mei Lin 林梅")
    with app.app_context():
        db.session.add(Notification(user_id=user.id, subject="Licence renewal",
                                    created_at=NOTICE_AT))
        db.session.commit()
    login(client, "mei")
    return client


def test_the_preferences_page_needs_a_log_in(client: FlaskClient) -> None:
    response = client.get("/auth/preferences")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")


def test_the_header_links_to_the_preferences(mei: FlaskClient) -> None:
    assert 'href="/auth/preferences"' in mei.get("/").get_data(as_text=True)


def test_choosing_shanghai_shows_times_in_shanghai_from_the_next_page(
    app: Flask, mei: FlaskClient
) -> None:
    assert "2026-01-15 04:30 UTC" in mei.get("/notifications").get_data(as_text=True)
    page = mei.get("/auth/preferences").get_data(as_text=True)
    options = page[page.index('<select id="timezone"'):]
    assert options.index("Asia/Shanghai") < options.index("America/Chicago") < options.index(
        "Africa/Abidjan")  # our sites' zones first, then every zone in name order
    assert "Now in UTC:" in page

    saved = submit(mei, "/auth/preferences", {"timezone": "Asia/Shanghai", "locale": "en"})
    assert saved.status_code == 302
    assert saved.headers["Location"] == "/auth/preferences"
    page = mei.get("/auth/preferences").get_data(as_text=True)
    assert "Your preferences were saved." in page
    assert "Now in Asia/Shanghai:" in page
    assert '<option selected value="Asia/Shanghai">' in page
    assert "2026-01-15 12:30 CST (UTC+08:00)" in mei.get("/notifications").get_data(as_text=True)
    assert stored(app, "mei") == ("Asia/Shanghai", "en")

    # The choice is Mei's, not the browser session's: it comes back at the next log-in.
    submit(mei, "/auth/logout", {}, form_url="/")
    login(mei, "mei")
    assert "2026-01-15 12:30 CST (UTC+08:00)" in mei.get("/notifications").get_data(as_text=True)


def test_an_unknown_zone_or_language_is_refused_naming_the_field(
    app: Flask, mei: FlaskClient
) -> None:
    refused = submit(mei, "/auth/preferences", {"timezone": "Mars/Olympus_Mons", "locale": "fr"})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "The preferences were not saved." in page
    assert "Time zone: Choose a listed time zone." in page
    assert "Language: Choose a listed language." in page
    assert stored(app, "mei") == (None, None)
    assert "2026-01-15 04:30 UTC" in mei.get("/notifications").get_data(as_text=True)

    mei.set_cookie("gxpflow_locale", "zh")
    refused = submit(mei, "/auth/preferences", {"timezone": "Mars/Olympus_Mons", "locale": "zh"})
    assert refused.status_code == 422
    assert "时区：请选择列表中的时区。" in refused.get_data(as_text=True)
    assert stored(app, "mei") == (None, None)
    assert events(app, "user.preferences") == []


def test_choosing_chinese_shows_the_pages_in_chinese(app: Flask, mei: FlaskClient) -> None:
    assert "Inbox" in mei.get("/").get_data(as_text=True)
    submit(mei, "/auth/preferences", {"timezone": "UTC", "locale": "zh"})
    page = mei.get("/auth/preferences").get_data(as_text=True)
    assert "偏好设置已保存。" in page
    assert '<option selected value="zh">中文</option>' in page
    home = mei.get("/").get_data(as_text=True)
    assert "任务箱" in home and "偏好设置" in home
    assert stored(app, "mei") == ("UTC", "zh")
    mei.get("/lang/en")  # the header's switch still works after a saved language
    assert "Inbox" in mei.get("/").get_data(as_text=True)


def test_a_time_names_its_zone_with_the_offset(app: Flask) -> None:
    from zoneinfo import ZoneInfo

    from web.i18n import zone_label

    at = datetime(2026, 1, 15, 4, 30, tzinfo=UTC)
    assert zone_label(at.astimezone(ZoneInfo("Asia/Shanghai"))) == "CST (UTC+08:00)"
    assert zone_label(at.astimezone(ZoneInfo("America/Chicago"))) == "CST (UTC-06:00)"
    assert zone_label(at.astimezone(ZoneInfo("Asia/Kolkata"))) == "IST (UTC+05:30)"
    assert zone_label(at.astimezone(ZoneInfo("Asia/Dubai"))) == "UTC+04:00"
    assert zone_label(at) == "UTC"


def test_the_change_is_in_the_audit_trail_and_the_chain_verifies(
    app: Flask, mei: FlaskClient
) -> None:
    submit(mei, "/auth/preferences", {"timezone": "Asia/Shanghai", "locale": "zh"})
    submit(mei, "/auth/preferences", {"timezone": "Asia/Shanghai", "locale": "zh"})  # no change
    [event] = events(app, "user.preferences")
    assert event.actor_name == "Mei Lin 林梅"
    assert event.before_values == {"timezone": None, "locale": None}
    assert event.after_values == {"timezone": "Asia/Shanghai", "locale": "zh"}
    with app.app_context():
        assert audit.verify().ok


def test_only_an_administrator_sets_someone_elses_preferences(ctx: Flask, make_user: Any
                                                              ) -> None:
    clerk = make_user("kai", roles.RECEIVING_CLERK)
    other = make_user("lea", roles.INSPECTOR)
    with pytest.raises(PermissionDenied):
        identity.set_preferences(clerk, other, "Europe/Berlin", "en")
    admin = make_user("root", roles.ADMINISTRATOR)
    identity.set_preferences(admin, other, "Europe/Berlin", "en")
    assert (other.timezone, other.locale) == ("Europe/Berlin", "en")


def test_an_administrator_creates_a_user_with_a_zone_and_language(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    make_user("root", roles.ADMINISTRATOR, full_name="Rosa Admin")
    login(client, "root")
    form = client.get("/admin/users/new").get_data(as_text=True)
    assert '<option value="">Default (UTC)</option>' in form
    new_user = {"username": "hans", "full_name": "Hans Weber", "email": "",
                "password": "Temp-pass-2026", "timezone": "Europe/Berlin", "locale": "en"}

    refused = submit(client, "/admin/users/new", {**new_user, "timezone": "Europe/Atlantis"})
    assert "Choose a listed time zone." in refused.get_data(as_text=True)
    assert stored_user(app, "hans") is None  # refused as a whole: no user without the zone

    created = submit(client, "/admin/users/new", new_user)
    assert created.status_code == 302
    assert stored(app, "hans") == ("Europe/Berlin", "en")
    page = client.get(created.headers["Location"]).get_data(as_text=True)
    assert "Europe/Berlin" in page and "English" in page
    [event] = events(app, "user.preferences")
    assert event.actor_name == "Rosa Admin"
    assert event.after_values == {"timezone": "Europe/Berlin", "locale": "en"}

    plain = submit(client, "/admin/users/new", {**new_user, "username": "emma",
                                                  "timezone": "", "locale": ""})
    assert plain.status_code == 302
    assert stored(app, "emma") == (None, None)
    assert len(events(app, "user.preferences")) == 1


def stored_user(app: Flask, username: str) -> User | None:
    with app.app_context():
        return identity.find_user(username)


def test_the_shell_sets_preferences_and_refuses_unknown_values(app: Flask) -> None:
    runner = app.test_cli_runner()
    created = runner.invoke(args=["users", "create", "lin", "--name", "Lin Hua 林华",
                                  "--timezone", "Asia/Shanghai", "--locale", "zh",
                                  "--password", PASSWORD])
    assert created.exit_code == 0, created.output
    assert stored(app, "lin") == ("Asia/Shanghai", "zh")

    moved = runner.invoke(args=["users", "set-preferences", "lin", "--timezone",
                                "America/Chicago"])
    assert moved.exit_code == 0, moved.output
    assert "lin: time zone America/Chicago, language zh" in moved.output
    assert stored(app, "lin") == ("America/Chicago", "zh")

    for args in (["--timezone", "Mars/Olympus_Mons"], ["--locale", "fr"], []):
        refused = runner.invoke(args=["users", "set-preferences", "lin", *args])
        assert refused.exit_code != 0, args
    assert "'Mars/Olympus_Mons' is not an IANA time zone" in runner.invoke(
        args=["users", "set-preferences", "lin", "--timezone", "Mars/Olympus_Mons"]).output
    unknown_zone = runner.invoke(args=["users", "create", "ola", "--name", "Ola",
                                       "--timezone", "Mars/Base", "--password", PASSWORD])
    assert unknown_zone.exit_code != 0
    assert stored(app, "lin") == ("America/Chicago", "zh")
    assert stored_user(app, "ola") is None
    with app.app_context():
        assert audit.verify().ok


def test_the_demo_staff_see_their_sites_zone(ctx: Flask) -> None:
    from engine import demo

    demo.seed_users()
    demo.seed_users()  # the demo is safe to run again
    zones = {u.username: u.timezone for u in db.session.scalars(select(User))}
    assert zones["qm"] == zones["clerk"] == "Asia/Shanghai"
    assert zones["compliance"] == "America/Chicago"
    assert zones["auditor"] == "Europe/Amsterdam"
    assert zones["erp"] is None  # the API speaks UTC
    db.session.commit()
    changes = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user.preferences"))
    assert len(list(changes)) == len(zones) - 1  # each once, all but the API client
