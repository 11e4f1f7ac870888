"""Search in lists: the same "contains" test for every list page of master data and ledger."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_


def like(columns: Sequence[Any], text: str) -> Any:
    """Case-insensitive "contains" over several columns, the user's % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(*(column.ilike(f"%{escaped}%", escape="\\") for column in columns))
