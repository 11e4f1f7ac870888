"""The rule-pack pages: a compliance officer reviews, tests, uploads and activates packs."""

from __future__ import annotations

import io
import re
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.db import db
from engine.rules import store
from tests.integration.rules.conftest import CLI, RULES, make_sites
from tests.support.factories import PASSWORD
from tests.support.web import csrf_token, login, submit


@pytest.fixture
def seeded(app: Flask, make_user: Any) -> dict[str, int]:
    with app.app_context():
        make_sites()
        store.import_shipped(CLI)
        db.session.commit()
        ids = {row.pack_id: row.id for row in store.versions()}
        db.session.remove()
    make_user("sarah", "compliance_officer", full_name="Sarah Miller")
    make_user("lina", "receiving_clerk")
    return ids


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def test_officer_sees_packs_and_runs_cases(client: FlaskClient, seeded: dict[str, int]) -> None:
    login(client, "sarah")
    index = client.get("/rules/")
    assert index.status_code == 200
    page = text(index)
    for label in ("nmpa", "fda", "mdr", "2024.7.2", "Upload a new version"):
        assert label in page
    version = client.get(f"/rules/versions/{seeded['nmpa']}")
    page = text(version)
    assert version.status_code == 200
    assert "nmpa-gsp67-temp-block" in page and "GSP 67 ※" in page
    assert "冷链" in page  # the Chinese message beside the English one
    assert "Run cases" in page
    ran = submit(client, f"/rules/versions/{seeded['nmpa']}/cases", {},
                 form_url=f"/rules/versions/{seeded['nmpa']}")
    page = text(ran)
    assert ran.status_code == 200
    assert "Every case passed" in page
    assert page.count(">PASS<") == 104 and ">FAIL<" not in page


def test_clerk_gets_403(client: FlaskClient, seeded: dict[str, int]) -> None:
    login(client, "lina")
    assert client.get("/rules/").status_code == 403
    assert client.get(f"/rules/versions/{seeded['nmpa']}/activate").status_code == 403
    assert client.post(f"/rules/versions/{seeded['nmpa']}/cases").status_code in (400, 403)


def test_chinese_page(client: FlaskClient, seeded: dict[str, int]) -> None:
    login(client, "sarah")
    client.set_cookie("gxpflow_locale", "zh")
    page = text(client.get("/rules/"))
    assert "规则包" in page and "上传新版本" in page


def test_diff_between_versions(client: FlaskClient, seeded: dict[str, int],
                               app: Flask) -> None:
    pack_text = (RULES / "fda/pack.yaml").read_text().replace('version: "2024.1.0"',
                                                              'version: "2024.2.0"')
    with app.app_context():
        newer = store.import_pack(CLI, store.PackFiles(
            pack_text, (RULES / "fda/cases.yaml").read_text(), "test")).version.id
        db.session.commit()
    login(client, "sarah")
    page = text(client.get(f"/rules/diff?old={seeded['fda']}&new={newer}"))
    assert "1 change(s)" in page and "2024.2.0" in page


def zipped(folder: Path, **replace: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("pack.yaml", "cases.yaml"):
            body = (folder / name).read_text()
            for old, new in replace.items():
                body = body.replace(old.replace("__", " "), new)
            archive.writestr(f"pack/{name}", body)
    return buffer.getvalue()


def test_upload_a_zip_and_a_refused_one(client: FlaskClient, seeded: dict[str, int]) -> None:
    login(client, "sarah")
    token = csrf_token(client, "/rules/")
    bad = zipped(RULES / "mdr", **{"effect:__warn": "effect: shout"})
    refused = client.post("/rules/upload", data={
        "csrf_token": token, "archive": (io.BytesIO(bad), "mdr.zip")},
        content_type="multipart/form-data")
    page = text(refused)
    assert refused.status_code == 422
    assert "Upload refused" in page
    assert "upload mdr.zip/pack.yaml: rule" in page and "&#39;shout&#39; is not an effect" in page
    good = zipped(RULES / "mdr", **{'version:__"2024.1.1"': 'version: "2024.3.0"'})
    done = client.post("/rules/upload", data={
        "csrf_token": token, "archive": (io.BytesIO(good), "mdr.zip")},
        content_type="multipart/form-data")
    assert done.status_code == 302
    assert "2024.3.0" in text(client.get(done.headers["Location"]))
    two_files = client.post("/rules/upload", data={
        "csrf_token": token,
        "pack_file": (io.BytesIO((RULES / "fda/pack.yaml").read_bytes()), "pack.yaml"),
        "cases_file": (io.BytesIO((RULES / "fda/cases.yaml").read_bytes()), "cases.yaml")},
        content_type="multipart/form-data", follow_redirects=True)
    assert "already stored as fda 2024.1.0" in text(two_files)
    nothing = client.post("/rules/upload", data={"csrf_token": token},
                          content_type="multipart/form-data")
    assert nothing.status_code == 422 and "Choose a zip" in text(nothing)


def test_activate_from_the_page(client: FlaskClient, seeded: dict[str, int],
                                app: Flask) -> None:
    login(client, "sarah")
    url = f"/rules/versions/{seeded['nmpa']}/activate"
    form = text(client.get(url))
    assert "SH · Shanghai" in form and "CHI" not in form
    base = {"site": "SH", "effective_at": "", "reason": "go live", "username": "sarah"}
    unconfirmed = submit(client, url, {**base, "password": PASSWORD})
    assert unconfirmed.status_code == 422 and "Tick the confirmation" in text(unconfirmed)
    no_reason = submit(client, url, {**base, "reason": "", "password": PASSWORD,
                                     "confirm": "y"})
    assert no_reason.status_code == 422
    assert "Reason: This field is required." in text(no_reason)
    other_region = submit(client, url, {**base, "site": "CHI", "password": PASSWORD,
                                        "confirm": "y"})
    assert other_region.status_code == 422 and "Site: Not a valid choice." in text(other_region)
    wrong = submit(client, url, {**base, "password": "wrong-one-123", "confirm": "y"})
    assert wrong.status_code == 401 and "password is wrong" in text(wrong)
    done = submit(client, url, {**base, "password": PASSWORD, "confirm": "y"})
    assert done.status_code == 302, text(done)[:2000]
    history = text(client.get(done.headers["Location"]))
    assert "Sarah Miller" in history and "in effect" in history and "go live" in history
    assert re.search(r"#\d+ · Approved", history)
    with app.app_context():
        assert [row.label for row in store.active_versions("SH")] == ["nmpa 2024.7.2"]
        db.session.remove()
    # An effective time in the user's zone (UTC for this user) is stored in UTC.
    fda_url = f"/rules/versions/{seeded['fda']}/activate"
    later = submit(client, fda_url, {**base, "site": "CHI", "effective_at": "2099-01-01T08:30",
                                     "password": PASSWORD, "confirm": "y"})
    assert later.status_code == 302
    with app.app_context():
        [activation] = store.activations("CHI")
        assert activation.effective_at.isoformat().startswith("2099-01-01")
        assert store.active_versions("CHI") == []
        db.session.remove()
    assert "scheduled" in text(client.get("/rules/history?site=CHI"))


def test_switch_off_from_the_history(client: FlaskClient, seeded: dict[str, int],
                                     app: Flask) -> None:
    with app.app_context():
        store.activate_for_demo(store.get_version(seeded["mdr"]), "RTM")
        db.session.commit()
        db.session.remove()
    login(client, "sarah")
    page = text(client.get("/rules/history"))
    assert "unsigned (demo)" in page
    done = submit(client, "/rules/sites/RTM/packs/mdr/deactivate",
                  {"reason": "site closed", "username": "sarah", "password": PASSWORD},
                  form_url="/rules/history", follow_redirects=True)
    assert "mdr is switched off at RTM" in text(done)
    with app.app_context():
        assert store.active_versions("RTM") == []
        db.session.remove()


def alias_bomb() -> str:
    """A "billion laughs" pack.yaml: nine levels of lists of nine aliases of the level before."""
    lines = ['rules:', '  - &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"  - &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, 9)]
    return "\n".join(lines) + "\nid: *l8\n"


def refused_message(page: str) -> str:
    found = re.search(r'<p class="field-error" role="alert">(.*?)</p>', page, re.S)
    assert found, page[:2000]
    return found.group(1)


def test_an_alias_bomb_upload_is_refused_with_a_short_page(client: FlaskClient,
                                                            seeded: dict[str, int]) -> None:
    login(client, "sarah")
    token = csrf_token(client, "/rules/")
    normal = len(text(client.post("/rules/upload", data={"csrf_token": token},
                                  content_type="multipart/form-data")))
    for data in (
        {"pack_file": (io.BytesIO(alias_bomb().encode()), "pack.yaml"),
         "cases_file": (io.BytesIO((RULES / "fda/cases.yaml").read_bytes()), "cases.yaml")},
        {"archive": (io.BytesIO(zipped(RULES / "fda", **{"id:__fda": alias_bomb()})),
                     "laughs.zip")},
    ):
        started = time.perf_counter()
        refused = client.post("/rules/upload", data={"csrf_token": token, **data},
                              content_type="multipart/form-data")
        assert time.perf_counter() - started < 5
        page = text(refused)
        assert refused.status_code == 422 and "Upload refused" in page
        message = refused_message(page)
        assert len(message) < 2000
        assert "/pack.yaml: line " in message and "makes the aliases of this file stand for " \
            "more than 10,000 values" in message
        assert len(page) < normal + 2000 and "lol" not in page
    with client.application.app_context():
        assert sorted(row.pack_id for row in store.versions()) == ["fda", "mdr", "nmpa"]
        db.session.remove()


def test_a_long_bogus_value_is_shown_cut_short(client: FlaskClient,
                                               seeded: dict[str, int]) -> None:
    login(client, "sarah")
    token = csrf_token(client, "/rules/")
    long_effect = "shout" * 10_000
    refused = client.post("/rules/upload", data={
        "csrf_token": token,
        "archive": (io.BytesIO(zipped(RULES / "mdr", **{"effect:__warn": f"effect: "
                                                        f"{long_effect}"})),
                    "x" * 5000 + ".zip")}, content_type="multipart/form-data")
    assert refused.status_code == 422
    message = refused_message(text(refused))
    assert message.startswith(f"upload {'x' * 79}…/pack.yaml: rule ")
    assert f"effect &#39;{('shout' * 16)[:78]}… is not an effect" in message
    assert "is not an effect; effects: block" in message
    assert len(message) < 500


def test_an_oversized_file_is_refused(client: FlaskClient, seeded: dict[str, int],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # A lower limit than 1 MB: Werkzeug's test client leaks a temporary file for large bodies.
    monkeypatch.setattr(store, "MAX_FILE_BYTES", 10_000)
    login(client, "sarah")
    token = csrf_token(client, "/rules/")
    refused = client.post("/rules/upload", data={
        "csrf_token": token,
        "pack_file": (io.BytesIO((RULES / "fda/pack.yaml").read_bytes()), "pack.yaml"),
        "cases_file": (io.BytesIO((RULES / "fda/cases.yaml").read_bytes()), "cases.yaml")},
        content_type="multipart/form-data")
    assert refused.status_code == 422
    assert refused_message(text(refused)) == "upload/pack.yaml: larger than 10,000 bytes."
