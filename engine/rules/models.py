"""Rule packs in the database: imported versions, signed activations per site, a generation.

- `RulePackVersion`: one imported version of a pack, its two YAML files verbatim and their
  SHA-256; a version is never edited (only its case-run status changes).
- `RulePackActivation`: append-only history. A row switches one pack (`pack_id`) on, at a
  version, for one site from `effective_at`, or off (`deactivated`). For each pack the latest
  row in effect decides; a new activation supersedes the previous one.
- `RuleGeneration`: one row whose counter goes up with every activation, so every web and
  worker process notices at its next evaluation that the active packs changed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
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

VERSION_STATUSES = ("imported", "passed", "failed")
"imported: cases not run yet; passed: every case passed at the last run; failed: one did not."


class RulePackVersion(db.Model):  # type: ignore[name-defined]
    __tablename__ = "rule_pack_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pack_id: Mapped[str] = mapped_column(String(40), nullable=False)
    region: Mapped[str] = mapped_column(String(2), nullable=False)
    version: Mapped[str] = mapped_column(String(40), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    effective_date: Mapped[date] = mapped_column(Date, nullable=False)
    pack_yaml: Mapped[str] = mapped_column(Text, nullable=False)
    cases_yaml: Mapped[str] = mapped_column(Text, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    rules_digest: Mapped[str] = mapped_column(String(64), nullable=False)
    rule_count: Mapped[int] = mapped_column(Integer, nullable=False)
    case_count: Mapped[int] = mapped_column(Integer, nullable=False)
    source: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    imported_by_name: Mapped[str] = mapped_column(String(120), nullable=False)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="imported")
    cases_passed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cases_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("pack_id", "version", name="uq_rule_pack_version_pack_version"),
        Index("ix_rule_pack_version_pack", "pack_id", "imported_at"),
        CheckConstraint("status IN ('imported', 'passed', 'failed')", name="status"),
    )

    @property
    def label(self) -> str:
        return f"{self.pack_id} {self.version}"

    def audit_values(self) -> dict[str, Any]:
        return {"pack": self.pack_id, "region": self.region, "version": self.version,
                "sha256": self.sha256, "rules_digest": self.rules_digest,
                "rules": self.rule_count, "cases": self.case_count, "source": self.source}


class RulePackActivation(db.Model):  # type: ignore[name-defined]
    """Append-only: pack `pack_id` at `pack_version_id` on (or off) for a site from a time."""

    __tablename__ = "rule_pack_activation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pack_id: Mapped[str] = mapped_column(String(40), nullable=False)
    pack_version_id: Mapped[int] = mapped_column(ForeignKey("rule_pack_version.id"),
                                                 nullable=False)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), nullable=False)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    deactivated: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    activated_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    activated_by_name: Mapped[str] = mapped_column(String(120), nullable=False)
    signature_id: Mapped[int | None] = mapped_column(ForeignKey("e_signature.id"))
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    pack_version: Mapped[RulePackVersion] = relationship(lazy="joined")

    __table_args__ = (
        Index("ix_rule_pack_activation_site", "site_id", "pack_id", "effective_at"),
    )


class RuleGeneration(db.Model):  # type: ignore[name-defined]
    """One row (id 1): bumped with every activation; `token` changes with it."""

    __tablename__ = "rule_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                            nullable=False, default=0)
    token: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
