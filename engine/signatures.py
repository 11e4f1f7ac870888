"""Part 11 electronic signatures: re-authentication, meaning, and a binding to the signed content.

A signature stores the hash of the record's content (which includes the record's identity) and a
binding hash over everything it says, so a signature moved to another record or a record changed
after signing shows as broken.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from engine import audit
from engine.db import db, utcnow
from engine.errors import InvalidInput, NotAuthenticated
from engine.identity import service as identity
from engine.identity.models import Signature, User

MEANINGS: dict[str, dict[str, str]] = {
    "authored": {"en": "Authored", "zh": "编写"},
    "performed": {"en": "Performed", "zh": "执行"},
    "reviewed": {"en": "Reviewed", "zh": "复核"},
    "approved": {"en": "Approved", "zh": "批准"},
    "released": {"en": "Released", "zh": "放行"},
    "responsible": {"en": "Responsible", "zh": "负责"},
    "verified": {"en": "Verified", "zh": "核对"},
}


def content_hash(entity_type: str, entity_id: object, content: Mapping[str, Any]) -> str:
    material = audit.canonical({"entity_type": entity_type, "entity_id": str(entity_id),
                                "content": content})
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _binding(user_id: int, printed_name: str, meaning: str, entity_type: str, entity_id: str,
             digest: str, signed_at: datetime) -> str:
    material = "\x1f".join((str(user_id), printed_name, meaning, entity_type, entity_id, digest,
                            signed_at.isoformat(timespec="microseconds")))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def sign(
    user: User,
    password: str,
    meaning: str,
    entity_type: str,
    entity_id: object,
    content: Mapping[str, Any],
    *,
    username: str | None = None,
    first_in_session: bool = True,
    policy: identity.Policy | None = None,
) -> Signature:
    """Sign a record after re-authenticating the signer (21 CFR 11.200).

    The first signature of a session needs the user name and the password; later ones in the
    same session need the password.
    """
    policy = policy or identity.Policy()
    if meaning not in MEANINGS:
        raise InvalidInput(f"Unknown signature meaning {meaning!r}.",
                           fields={"meaning": "Choose one of " + ", ".join(MEANINGS)})
    if first_in_session and (username or "").strip().lower() != user.username.lower():
        identity.register_failure(user, policy, "signature user name mismatch")
        raise NotAuthenticated(
            "Enter your own user name and password to sign: this is your first signature "
            "in this session.")
    if not user.active or user.locked_at is not None:
        raise NotAuthenticated("This account cannot sign: it is deactivated or locked.")
    if not identity.signing_password_matches(user, password):
        identity.register_failure(user, policy, "signature password wrong")
        raise NotAuthenticated("The password is wrong; the record was not signed.")
    entity_key = str(entity_id)
    digest = content_hash(entity_type, entity_key, content)
    signed_at = utcnow()
    signature = Signature(
        user_id=user.id, printed_name=user.full_name, meaning=meaning, entity_type=entity_type,
        entity_id=entity_key, content_hash=digest, signed_at=signed_at,
        binding=_binding(user.id, user.full_name, meaning, entity_type, entity_key, digest,
                         signed_at),
    )
    db.session.add(signature)
    db.session.flush()
    audit.record(user, "signature.sign", entity_type, entity_key,
                 after={"signature_id": signature.id, "meaning": meaning,
                        "printed_name": user.full_name, "content_hash": digest})
    return signature


@dataclass(frozen=True)
class SignatureCheck:
    signature: Signature
    valid: bool
    reason: str = ""


def check(signature: Signature, content: Mapping[str, Any]) -> SignatureCheck:
    """Is the signature still bound to this record and this content?"""
    expected = _binding(signature.user_id, signature.printed_name, signature.meaning,
                        signature.entity_type, signature.entity_id, signature.content_hash,
                        signature.signed_at)
    if expected != signature.binding:
        return SignatureCheck(signature, False, "the signature record was altered or moved")
    if content_hash(signature.entity_type, signature.entity_id, content) != signature.content_hash:
        return SignatureCheck(signature, False, "the record changed after it was signed")
    return SignatureCheck(signature, True)


def signatures_of(entity_type: str, entity_id: object) -> list[Signature]:
    return list(db.session.scalars(
        select(Signature)
        .where(Signature.entity_type == entity_type, Signature.entity_id == str(entity_id))
        .order_by(Signature.signed_at)
    ))


def checked_signatures(entity_type: str, entity_id: object,
                       content: Mapping[str, Any]) -> list[SignatureCheck]:
    return [check(s, content) for s in signatures_of(entity_type, entity_id)]
