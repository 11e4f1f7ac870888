"""E-signatures from a page: the first one of a session needs the user name and the password,
later ones the password only (21 CFR 11.200(a)(1)); the session remembers a signature made.
Every page that signs uses these helpers (one session key for all of them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import session
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import Length, Optional

from engine import signatures
from engine.identity.models import User
from engine.signatures import MEANINGS
from web import security
from web.i18n import get_locale

SIGNED_KEY = "signed_in_session"


def first_in_session() -> bool:
    return not session.get(SIGNED_KEY)


def remember_signature() -> None:
    session[SIGNED_KEY] = True


def meaning_label(meaning: str | None) -> str:
    if not meaning:
        return ""
    labels = MEANINGS.get(meaning, {})
    return labels.get(get_locale(), labels.get("en", meaning))


class SignatureForm(FlaskForm):
    """User name (first signature of the session) and password to sign with."""

    username = StringField("User name", validators=[Optional(), Length(max=60)])
    password = PasswordField("Password", validators=[Optional(), Length(max=200)])


class PageSigner:
    """The workflow runtime's `signer`: signs with what the person typed, and notes it did."""

    def __init__(self, user: User, username: str, password: str) -> None:
        self.user = user
        self.username = username
        self.password = password
        self.signed = False
        self.meaning: str | None = None  # what it was asked to sign, even if the password failed

    def __call__(self, meaning: str, entity_type: str, entity_id: str,
                 content: Mapping[str, Any]) -> int:
        self.meaning = meaning
        signature = signatures.sign(self.user, self.password, meaning, entity_type, entity_id,
                                    content, username=self.username,
                                    first_in_session=first_in_session(),
                                    policy=security.policy())
        self.signed = True
        return signature.id
