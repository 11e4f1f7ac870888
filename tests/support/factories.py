"""Factories tests use to make users with roles (and the training those roles need)."""

from __future__ import annotations

from datetime import date, timedelta

from engine import audit
from engine.db import db
from engine.identity import service as identity
from engine.identity.models import User

PASSWORD = "Correct-horse-42"


def make_user(username: str, *roles: str, full_name: str | None = None,
              password: str = PASSWORD, must_change_password: bool = False) -> User:
    user = identity.create_user(audit.SYSTEM, username, full_name or username.title(),
                                password, must_change_password=must_change_password)
    for role in roles:
        identity.record_training(audit.SYSTEM, user, role, date.today() - timedelta(days=30),
                                 date.today() + timedelta(days=365), "GxPFlow induction")
        identity.grant_role(audit.SYSTEM, user, role)
    db.session.flush()
    return user
