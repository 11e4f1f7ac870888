"""Imports every model module so the metadata (and Alembic) sees all tables."""

from engine import attachments, audit  # noqa: F401
from engine.identity import models as identity_models  # noqa: F401
from engine.ledger import models as ledger_models  # noqa: F401
from engine.masterdata import models as masterdata_models  # noqa: F401
from engine.recall import models as recall_models  # noqa: F401
from engine.rules import models as rules_models  # noqa: F401
from engine.tracking import models as tracking_models  # noqa: F401
from engine.workflow import models as workflow_models  # noqa: F401
