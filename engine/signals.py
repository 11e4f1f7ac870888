"""Signals plugins may connect to. Each is sent after the fact, inside the same transaction.

Receivers must not commit; raising refuses the whole unit of work.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

step_gated = _signals.signal(
    "step-gated",
    doc="A step was evaluated by the compliance gate. Sender: the step id. "
    "Keyword arguments: `instance_id`, `decision`.",
)
task_completed = _signals.signal(
    "task-completed",
    doc="A user or service task was completed. Sender: the step id. "
    "Keyword arguments: `instance_id`, `task_id`, `user_id`, `data`.",
)
movement_posted = _signals.signal(
    "movement-posted",
    doc="A stock movement was appended to the ledger. Sender: the movement kind. "
    "Keyword arguments: `movement`.",
)
recall_opened = _signals.signal(
    "recall-opened",
    doc="A recall was opened. Sender: the recall id. Keyword arguments: `recall`.",
)
