"""Imports every model module so the metadata (and Alembic) sees all tables."""

from engine import audit  # noqa: F401
from engine.identity import models as identity_models  # noqa: F401
