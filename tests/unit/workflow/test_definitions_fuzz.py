"""Whatever bytes arrive, validate_bpmn answers with ok or problems, and load_spec with a spec
or DefinitionInvalid: no other exception escapes. Hypothesis mutates the sample BPMN files'
text and their XML structure."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from engine.workflow import definitions
from engine.workflow.definitions import (
    DefinitionInvalid,
    ValidationResult,
    load_spec,
    validate_bpmn,
)
from tests.unit.workflow.conftest import bpmn_file

SAMPLES = {name: bpmn_file(name) for name in ("receiving.bpmn", "putaway.bpmn",
                                             "camunda_modeler.bpmn")}
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Fragments that make mutations reach deep into the parsers instead of failing at XML level.
FRAGMENTS = [
    "<", ">", "/>", '"', "'", "&", "&amp;", "]]>", "<![CDATA[", "<!--", "\x00", "\ud800",
    "bpmn:", "spiffworkflow:", 'id="Task_inspect"', 'id="dup"', 'sourceRef="nowhere"',
    'targetRef="Task_inspect"', 'calledElement="receiving_inspection"', 'isExecutable="false"',
    'name="step" value=""', '{"fields": [}', "import os", "__class__", "${x}", '"PT1H"',
    "PT1H", "<bpmn:script>", "</bpmn:script>", "<bpmn:startEvent id='s2'/>", "日本語",
    "<bpmn:userTask/>", "<bpmn:boundaryEvent attachedToRef='nope'/>", "<!DOCTYPE x>",
]


def check(result: Any) -> None:
    assert isinstance(result, ValidationResult)
    if result.ok:
        assert result.process_key and not result.problems
    else:
        assert result.problems
        for problem in result.problems:
            assert isinstance(problem.element_id, str) and problem.element_id
            assert isinstance(problem.reason, str) and problem.reason.strip()


def load_or_refuse(xml: bytes, key: str | None) -> None:
    try:
        load_spec(xml, key or "receiving_inspection",
                  {"putaway.bpmn": SAMPLES["putaway.bpmn"]})
    except DefinitionInvalid as err:
        assert err.problems


@st.composite
def text_mutations(draw: st.DrawFn) -> bytes:
    data = bytearray(SAMPLES[draw(st.sampled_from(sorted(SAMPLES)))])
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(data)))
        end = draw(st.integers(start, min(len(data), start + 200)))
        kind = draw(st.sampled_from(["delete", "insert", "replace", "duplicate", "truncate"]))
        piece = (draw(st.sampled_from(FRAGMENTS)) if draw(st.booleans())
                 else draw(st.text(max_size=20))).encode("utf-8", "surrogatepass")
        if kind == "delete":
            del data[start:end]
        elif kind == "insert":
            data[start:start] = piece
        elif kind == "replace":
            data[start:end] = piece
        elif kind == "duplicate":
            data[end:end] = data[start:end]
        else:
            del data[start:]
    return bytes(data)


@st.composite
def structure_mutations(draw: st.DrawFn) -> bytes:
    root = etree.fromstring(SAMPLES[draw(st.sampled_from(sorted(SAMPLES)))])
    for _ in range(draw(st.integers(1, 4))):
        elements = list(root.iter())
        element = draw(st.sampled_from(elements))
        kind = draw(st.sampled_from(
            ["remove", "duplicate", "move", "attribute", "drop_attribute", "text", "wrap"]))
        parent = element.getparent()
        if kind == "remove" and parent is not None:
            parent.remove(element)
        elif kind == "duplicate" and parent is not None:
            parent.append(copy.deepcopy(element))
        elif kind == "move" and parent is not None:
            target = draw(st.sampled_from(elements))
            if element not in target.iterancestors() and target is not element:
                parent.remove(element)
                target.append(element)
        elif kind == "attribute":
            name = draw(st.sampled_from(["id", "name", "sourceRef", "targetRef", "value",
                                         "attachedToRef", "calledElement", "isExecutable",
                                         "default", "messageRef", "bpmnElement"]))
            element.set(name, draw(st.sampled_from(FRAGMENTS[12:]) | st.text(
                alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]),
                max_size=12)))
        elif kind == "drop_attribute" and element.attrib:
            del element.attrib[draw(st.sampled_from(sorted(element.attrib)))]
        elif kind == "text":
            element.text = draw(st.sampled_from(FRAGMENTS[12:]) | st.text(
                alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]),
                max_size=30))
        elif kind == "wrap" and parent is not None:
            wrapper = etree.SubElement(parent, draw(st.sampled_from(
                ["{http://www.omg.org/spec/BPMN/20100524/MODEL}subProcess",
                 "{http://www.omg.org/spec/BPMN/20100524/MODEL}extensionElements",
                 "{urn:other}thing"])))
            parent.remove(element)
            wrapper.append(element)
    return bytes(etree.tostring(root))


@FUZZ
@given(text_mutations())
def test_mutated_text_never_raises(xml: bytes) -> None:
    result = validate_bpmn(xml, "fuzz.bpmn", called_processes={"putaway"})
    check(result)
    load_or_refuse(xml, result.process_key)


@FUZZ
@given(structure_mutations())
def test_mutated_structure_never_raises(xml: bytes) -> None:
    result = validate_bpmn(xml, "fuzz.bpmn", called_processes={"putaway"})
    check(result)
    load_or_refuse(xml, result.process_key)


@FUZZ
@given(st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-8")))
def test_arbitrary_bytes_never_raise(xml: bytes) -> None:
    check(validate_bpmn(xml, "noise.bpmn"))


def test_the_parser_itself_resolves_no_entities(tmp_path: Any) -> None:
    """Second line of defence, behind the DOCTYPE refusal: the parser expands nothing."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xml = (f'<!DOCTYPE r [<!ENTITY e SYSTEM "file://{secret}">]><r>&e;</r>').encode()
    root = etree.fromstring(xml, definitions._xml_parser())
    assert "TOP-SECRET" not in etree.tostring(root).decode()
