"""Files attached to a task as evidence (inspection photos, certificates, logger printouts):
kept in the database with their SHA-256, never changed or deleted (append-only on PostgreSQL).

A task form's `file` field holds references to stored files. Only the server makes a
`StoredFile`, from bytes a person uploaded in this request; nothing a client posts (JSON, a
hidden field) can stand for one.
"""

from __future__ import annotations

import hashlib
import mimetypes
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, deferred, mapped_column

from engine import audit
from engine.db import UTCDateTime, db, utcnow
from engine.errors import NotFound
from engine.workflow.forms import FormInvalid

#: The largest file one field accepts.
MAX_BYTES = 10 * 1024 * 1024


def limit_text() -> str:
    """The size limit as people read it ("10 MB")."""
    mib, kib = divmod(MAX_BYTES, 1024 * 1024)
    return f"{mib} MB" if mib and not kib else f"{MAX_BYTES // 1024} KB"


class Attachment(db.Model):  # type: ignore[name-defined]
    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    filename: Mapped[str] = mapped_column(String(200), nullable=False)
    content_type: Mapped[str] = mapped_column(String(100), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    __table_args__ = (Index("ix_attachment_sha256", "sha256"),)


@dataclass(frozen=True)
class StoredFile:
    """A file stored in this request, as a task field's value refers to it."""

    id: int
    filename: str
    content_type: str
    size: int
    sha256: str

    def to_data(self) -> dict[str, Any]:
        return {"attachment_id": self.id, "filename": self.filename,
                "content_type": self.content_type, "size": self.size, "sha256": self.sha256}


def clean_filename(name: str) -> str:
    """The file's own name, without folders or control characters, at most 200 characters."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().strip(".")
    return name[-200:] or "file"


def store(actor: Any, filename: str, content: bytes, content_type: str = "",
          *, field: str = "file") -> StoredFile:
    """Keep an uploaded file; refuses an empty or too large one (`FormInvalid`, in English
    and Chinese, under the field's name)."""
    name = clean_filename(filename)
    if not content:
        raise FormInvalid({field: {"en": f"{name} is empty.", "zh": f"{name} 是空文件。"}})
    if len(content) > MAX_BYTES:
        raise FormInvalid({field: {"en": f"{name} is larger than {limit_text()}.",
                                   "zh": f"{name} 超过 {limit_text()}。"}})
    kind = (content_type or "").split(";")[0].strip().lower()[:100]
    if not kind or kind == "application/octet-stream":
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    digest = hashlib.sha256(content).hexdigest()
    row = Attachment(sha256=digest, filename=name, content_type=kind, size=len(content),
                     content=content, uploaded_by=getattr(actor, "id", None))
    db.session.add(row)
    db.session.flush()
    stored = StoredFile(row.id, name, kind, len(content), digest)
    audit.record(actor, "attachment.upload", "attachment", row.id, after=stored.to_data())
    return stored


def get(attachment_id: int) -> Attachment:
    row = db.session.get(Attachment, attachment_id)
    if row is None:
        raise NotFound(f"Attachment {attachment_id} does not exist.",
                       zh=f"附件 {attachment_id} 不存在。")
    return row
