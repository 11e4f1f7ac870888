"""The recall process's steps: what the server knows about a recall for the packs' rules."""

from __future__ import annotations

from typing import Any

from engine.db import utcnow
from engine.processes import facts
from engine.recall import service as recalls
from engine.workflow.runtime import StepContext


@facts("recall.notify")
def notify_facts(context: StepContext) -> dict[str, Any]:
    recall = recalls.get(int(context.task.data["recall_id"]))
    return {
        "recall_level": recall.level,
        # The notice is relayed from the moment the recall is opened here.
        "days_since_manufacturer_notice": (utcnow() - recall.started_at).days,
        # The consignee list is generated from the ledger's forward trace, never typed.
        "consignee_list_complete": True,
    }
