"""Shared fixtures: the app on the chosen backend, a clean database per test, a real worker.

`GXPFLOW_TEST_BACKEND=embedded` (default): SQLite file, Celery eager.
`GXPFLOW_TEST_BACKEND=production`: a fresh PostgreSQL database, Redis as broker and result
backend, and a real `gxpflow worker` process started by the suite.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support import backends

BACKEND = os.environ.get("GXPFLOW_TEST_BACKEND", "embedded")


def pytest_report_header(config: pytest.Config) -> str:
    return f"gxpflow backend: {BACKEND}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if BACKEND == "production":
        return
    skip = pytest.mark.skip(reason="needs the production stack (GXPFLOW_TEST_BACKEND=production)")
    for item in items:
        if "production" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[backends.Stack]:
    """Where the suite's data lives: a database URL, a broker URL and a private queue."""
    instance = tmp_path_factory.mktemp("instance")
    if BACKEND == "production":
        with backends.production_stack(instance) as stack:
            yield stack
    else:
        yield backends.Stack(
            backend="embedded",
            database_url=f"sqlite:///{instance / 'gxpflow-test.db'}",
            broker_url="",
            queue="gxpflow-test",
            instance_path=instance,
        )


@pytest.fixture(scope="session")
def app_session(stack: backends.Stack) -> Iterator[Flask]:
    app = backends.make_app(stack)
    with app.app_context():
        backends.migrate_to_head()
    yield app
    with app.app_context():
        backends.discard_session()
        app.extensions["sqlalchemy"].engine.dispose()


@pytest.fixture
def app(app_session: Flask) -> Flask:
    """The app with an empty database (every table emptied before the test).

    No app context stays pushed: each request of the test client gets its own, as in
    production. Tests that call the engine directly use the `ctx` fixture.
    """
    with app_session.app_context():
        if not app_session.extensions["celery"].conf.task_always_eager:
            # Tasks a previous test queued but nobody waited for (a demo recall's notices,
            # say) must not run against this test's rows.
            app_session.extensions["celery"].control.purge()
        backends.empty_database()
    return app_session


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    """An app context for calling engine services directly, rolled back afterwards."""
    with app.app_context():
        yield app
        backends.discard_session()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="session")
def worker(stack: backends.Stack, app_session: Flask) -> Iterator[backends.WorkerProcess]:
    """A real `gxpflow worker` process on the suite's broker and database (production only)."""
    if stack.backend != "production":
        pytest.skip("a real worker needs the production stack")
    with backends.worker_process(stack, app_session) as process:
        yield process


@pytest.fixture
def unique() -> Any:
    """A factory of short unique strings for names and numbers in tests."""

    def make(prefix: str = "") -> str:
        return f"{prefix}{secrets.token_hex(4)}"

    return make


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture
def make_user(app: Flask) -> Any:
    """`make_user("alice", "inspector")`: a committed user with trained roles.

    Inside `ctx` the user stays attached to that session; otherwise it is made in a short app
    context and returned detached (id, username and names readable), so that the test client's
    requests each get a fresh app context as in production.
    """
    from flask import has_app_context

    from engine.db import db
    from tests.support.factories import make_user as make

    def factory(username: str, *roles: str, **kwargs: Any) -> Any:
        if has_app_context():
            user = make(username, *roles, **kwargs)
            db.session.commit()
            return user
        with app.app_context():
            user = make(username, *roles, **kwargs)
            db.session.commit()
            db.session.refresh(user)
            db.session.expunge(user)
            return user

    return factory


@pytest.fixture
def settled(request: pytest.FixtureRequest, stack: backends.Stack) -> Callable[..., None]:
    """`settled(done)`: wait until `done()` holds; at once when Celery is eager, after the real
    worker's turn on the production stack (its log is shown if the work is not done in time)."""
    from engine.db import db

    worker = request.getfixturevalue("worker") if stack.backend == "production" else None

    def wait(done: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            db.session.rollback()
            if done():
                return
            if time.monotonic() > deadline:
                log = worker.log()[-3000:] if worker is not None else ""
                raise AssertionError(f"the worker's work was not done in time\n{log}")
            time.sleep(0.2)

    return wait
