"""The compliance gate: rule packs (YAML) compiled to durable-rules, typed facts in, Decisions out.

`get_gate().evaluate(step, fact, packs)` is the one call the workflow needs; `load_pack`,
`run_cases` and `diff_packs` serve the people who write, test and sign packs.
"""

from engine.rules.decision import Deadline, Decision, Verdict
from engine.rules.errors import FactError, GateError, PackError
from engine.rules.facts import STEPS, FieldSpec, StepSchema, step_schema, type_fact
from engine.rules.gate import Gate, get_gate
from engine.rules.lifecycle import (
    CaseReport,
    CaseResult,
    PackChange,
    diff_packs,
    render_diff,
    run_cases,
)
from engine.rules.pack import Case, Pack, Rule, load_pack, load_packs, parse_pack

__all__ = [
    "STEPS", "Case", "CaseReport", "CaseResult", "Deadline", "Decision", "FactError",
    "FieldSpec", "Gate", "GateError", "Pack", "PackChange", "PackError", "Rule", "StepSchema",
    "Verdict", "diff_packs", "get_gate", "load_pack", "load_packs", "parse_pack",
    "render_diff", "run_cases", "step_schema", "type_fact",
]
