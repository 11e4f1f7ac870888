"""Helpers to drive the web app as a person would: read the CSRF token, post the form."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

from tests.support.factories import PASSWORD

_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client: FlaskClient, url: str) -> str:
    page = client.get(url).get_data(as_text=True)
    found = _TOKEN.search(page)
    assert found, f"no CSRF token on {url}"
    return found.group(1)


def submit(client: FlaskClient, url: str, data: dict[str, Any], form_url: str | None = None,
           **kwargs: Any) -> Any:
    """GET the form page for its CSRF token, then POST the data to `url`."""
    token = csrf_token(client, form_url or url)
    return client.post(url, data={"csrf_token": token, **data}, **kwargs)


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    response = submit(client, "/auth/login", {"username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


def started_instance(app: Any, response: Any) -> int:
    """The instance a start page started, from where it sent the starter (the response, or its
    Location): the instance's page, or its first task's page when the task is the starter's."""
    location = response if isinstance(response, str) else response.headers["Location"]
    found = re.search(r"/instances/(\d+)", location)
    if found:
        return int(found.group(1))
    task = re.search(r"/inbox/tasks/(\d+)", location)
    assert task, location
    from engine.db import db
    from engine.workflow.models import HumanTask

    with app.app_context():
        row = db.session.get(HumanTask, int(task.group(1)))
        assert row is not None
        return row.instance_id
