"""Ids SpiffWorkflow keeps for itself, and files that cannot be stored as text, are refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.workflow.definitions import DOCUMENT, validate_bpmn


@pytest.mark.parametrize(("old", "reserved"), [
    ("Start_1", "Start"),        # a start event named like SpiffWorkflow's own start step
    ("End_1", "End"),            # an end event named like its end step
    ("Task_1", "Start"),         # any element, not only events
    ("Flow_1", "End"),
    ("Task_1", "p.EndJoin"),     # the end join of process p
])
def test_reserved_element_ids_are_refused_naming_the_element(
    make_bpmn: Callable[..., bytes], old: str, reserved: str
) -> None:
    xml = make_bpmn().replace(f'"{old}"'.encode(), f'"{reserved}"'.encode())
    result = validate_bpmn(xml, "reserved.bpmn")
    assert not result.ok
    problem = next(p for p in result.problems if p.element_id == reserved)
    assert "reserved by SpiffWorkflow" in problem.reason
    assert problem.line is not None


def test_ids_that_only_start_with_a_reserved_word_are_fine(
    make_bpmn: Callable[..., bytes]
) -> None:
    xml = make_bpmn().replace(b'"Start_1"', b'"StartEvent"').replace(b'"End_1"', b'"Ending"')
    assert validate_bpmn(xml, "fine.bpmn").ok


def test_a_file_that_is_not_utf8_is_refused(make_bpmn: Callable[..., bytes]) -> None:
    text = make_bpmn().decode().replace("UTF-8", "UTF-16").replace("Do it", "Prüfen")
    result = validate_bpmn(text.encode("utf-16"), "utf16.bpmn")
    assert [(p.element_id, "UTF-8" in p.reason) for p in result.problems] == [(DOCUMENT, True)]
