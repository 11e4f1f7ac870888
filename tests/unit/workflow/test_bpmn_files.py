"""The sample BPMN files open in bpmn-js: bpmn-moddle (its model) reads them without warnings
and every flow element, lane and pool has a shape or edge in the diagram."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.unit.workflow.conftest import BPMN_DIR

ROOT = Path(__file__).resolve().parents[3]
MODDLE = ROOT / "node_modules" / "bpmn-moddle" / "dist" / "index.js"
CHECK = Path(__file__).parent / "tools" / "bpmn_moddle_check.mjs"
FILES = sorted(BPMN_DIR.glob("*.bpmn"))


@pytest.mark.skipif(shutil.which("node") is None or not MODDLE.exists(),
                    reason="needs node and the bpmn-js packages (make setup installs them)")
def test_every_sample_file_opens_in_bpmn_js_with_a_full_diagram() -> None:
    completed = subprocess.run(
        ["node", str(CHECK), str(MODDLE), *map(str, FILES)],
        capture_output=True, text=True, timeout=60, check=True,
    )
    report = json.loads(completed.stdout)
    assert set(report) == {path.name for path in FILES}
    for name, found in report.items():
        assert found == {"warnings": [], "undrawn": []}, name
