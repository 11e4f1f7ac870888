"""Users, their roles, training records, API tokens and in-app notifications."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import UTCDateTime, db, utcnow


class User(db.Model):  # type: ignore[name-defined]
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True, nullable=False)
    full_name: Mapped[str] = mapped_column(String(120), nullable=False)
    email: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    password_hash: Mapped[str] = mapped_column(String(200), nullable=False)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    must_change_password: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    failed_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    #: The TOTP time step (Unix time // 30) of the last code accepted: a code is accepted once.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    recovery_codes: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    locale: Mapped[str | None] = mapped_column(String(5))
    timezone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    roles: Mapped[list[UserRole]] = relationship(
        back_populates="user", lazy="selectin", order_by="UserRole.id",
        foreign_keys="UserRole.user_id",
    )

    def audit_values(self) -> dict[str, object]:
        """What the audit trail records of a user (never the secrets)."""
        return {
            "username": self.username,
            "full_name": self.full_name,
            "email": self.email,
            "active": self.active,
            "totp_enabled": self.totp_enabled,
            "locked": self.locked_at is not None,
        }


class UserRole(db.Model):  # type: ignore[name-defined]
    """A role granted to a user; revoked by setting `revoked_at`, never deleted."""

    __tablename__ = "user_role"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), nullable=False)
    role: Mapped[str] = mapped_column(String(40), nullable=False)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    user: Mapped[User] = relationship(back_populates="roles", foreign_keys=[user_id])

    __table_args__ = (Index("ix_user_role_user", "user_id", "role"),)


class Training(db.Model):  # type: ignore[name-defined]
    """Evidence that a user was trained for a role (21 CFR 11.10(i)); valid until `expires_on`."""

    __tablename__ = "training_record"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), nullable=False)
    role: Mapped[str] = mapped_column(String(40), nullable=False)
    trained_on: Mapped[date] = mapped_column(Date, nullable=False)
    expires_on: Mapped[date | None] = mapped_column(Date)
    evidence: Mapped[str] = mapped_column(Text, nullable=False)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    __table_args__ = (Index("ix_training_user_role", "user_id", "role"),)

    def valid_on(self, day: date) -> bool:
        return self.trained_on <= day and (self.expires_on is None or day <= self.expires_on)


class RolePolicy(db.Model):  # type: ignore[name-defined]
    """Per-role settings an administrator controls, such as mandatory two-factor log-in."""

    __tablename__ = "role_policy"

    role: Mapped[str] = mapped_column(String(40), primary_key=True)
    mfa_required: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class ApiToken(db.Model):  # type: ignore[name-defined]
    """A bearer token for an API client; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")


class Notification(db.Model):  # type: ignore[name-defined]
    """A message for one user, shown in the app (and sent by e-mail where configured)."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), nullable=False)
    subject: Mapped[str] = mapped_column(String(200), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    #: The same in Chinese ("" where the notification has none: English is shown).
    subject_zh: Mapped[str] = mapped_column(String(200), nullable=False, default="",
                                            server_default="")
    body_zh: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_notification_user", "user_id", "read_at"),)


class Signature(db.Model):  # type: ignore[name-defined]
    """A Part 11 electronic signature bound to one record by the hash of its content."""

    __tablename__ = "e_signature"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), nullable=False)
    printed_name: Mapped[str] = mapped_column(String(120), nullable=False)
    meaning: Mapped[str] = mapped_column(String(40), nullable=False)
    entity_type: Mapped[str] = mapped_column(String(60), nullable=False)
    entity_id: Mapped[str] = mapped_column(String(80), nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    binding: Mapped[str] = mapped_column(String(64), nullable=False)

    __table_args__ = (
        Index("ix_e_signature_entity", "entity_type", "entity_id"),
        UniqueConstraint("binding", name="uq_e_signature_binding"),
    )
