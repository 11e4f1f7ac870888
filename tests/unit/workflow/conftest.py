"""Fixtures for the workflow core: the sample BPMN files and a way to build one in a test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

BPMN_DIR = Path(__file__).parent / "bpmn"

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'id="Definitions_test" targetNamespace="http://gxpflow.org/bpmn/tests">\n'
)


def bpmn_file(name: str) -> bytes:
    return (BPMN_DIR / name).read_bytes()


def properties(**values: str) -> str:
    rows = "".join(
        f"<spiffworkflow:property name=\"{name}\" value='{value}' />"
        for name, value in values.items()
    )
    return (f"<bpmn:extensionElements><spiffworkflow:properties>{rows}"
            "</spiffworkflow:properties></bpmn:extensionElements>")


def one_task_process(
    body: str = "",
    *,
    task: str = "",
    lane: str | None = "Inspector (inspector)",
    process_id: str = "p",
    extra: str = "",
) -> bytes:
    """A process: start -> Task_1 (given XML, a stepped user task by default) -> end.

    `body` goes inside the process (more elements); `extra` after it (messages, more
    processes). The default task is a user task in an inspector lane with step `test.do`.
    """
    task = task or (f'<bpmn:userTask id="Task_1" name="Do it">{properties(step="test.do")}'
                    "</bpmn:userTask>")
    lanes = (
        f'<bpmn:laneSet id="LaneSet_1"><bpmn:lane id="Lane_1" name="{lane}">'
        "<bpmn:flowNodeRef>Start_1</bpmn:flowNodeRef><bpmn:flowNodeRef>Task_1</bpmn:flowNodeRef>"
        "<bpmn:flowNodeRef>End_1</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>"
        if lane is not None else ""
    )
    return (
        HEADER
        + f'<bpmn:process id="{process_id}" isExecutable="true">{lanes}'
        + '<bpmn:startEvent id="Start_1" />'
        + task
        + '<bpmn:endEvent id="End_1" />'
        + '<bpmn:sequenceFlow id="Flow_1" sourceRef="Start_1" targetRef="Task_1" />'
        + '<bpmn:sequenceFlow id="Flow_2" sourceRef="Task_1" targetRef="End_1" />'
        + body
        + "</bpmn:process>"
        + extra
        + "</bpmn:definitions>"
    ).encode()


@pytest.fixture
def make_bpmn() -> Callable[..., bytes]:
    """Build a small BPMN file around one task (see `one_task_process`)."""
    return one_task_process
