"""A hostile pack file is refused at once with a short message: alias bombs, self-references,
deep nesting and oversized files; and a refusal quotes a long value only in part."""

from __future__ import annotations

import time
from typing import Any

import pytest

from engine.rules.errors import MAX_MESSAGE, MAX_SHOWN, FactError, PackError, clip, echo
from engine.rules.facts import type_fact
from engine.rules.pack import (
    MAX_ALIAS_VALUES,
    MAX_FILE_BYTES,
    default_rules_root,
    load_pack_text,
    load_packs,
    parse_pack,
)
from tests.unit.rules.builders import pack_data, rule

FDA = default_rules_root() / "fda"
PACK = (FDA / "pack.yaml").read_text(encoding="utf-8")
CASES = (FDA / "cases.yaml").read_text(encoding="utf-8")


def alias_bomb(levels: int = 9) -> str:
    """A "billion laughs" pack: each level is a list of nine aliases of the level before."""
    lines = ["id: test", "region: CN", 'version: "1.0.0"', "effective_date: 2024-07-01",
             "title: Test", "description: x", "rules:",
             '  - &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"  - &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, levels)]
    return "\n".join(lines) + f"\n  - {{id: *l{levels - 1}}}\n"


def refusal(pack_text: str, cases_text: str = CASES) -> tuple[str, float]:
    started = time.perf_counter()
    with pytest.raises(PackError) as caught:
        load_pack_text(pack_text, cases_text, shown="upload")
    return caught.value.message, time.perf_counter() - started


def test_an_alias_bomb_is_refused_at_once_naming_the_line() -> None:
    message, seconds = refusal(alias_bomb())
    assert seconds < 1
    assert len(message) < 300
    assert message.startswith("upload/pack.yaml: line 12: alias *l3 makes the aliases of this "
                              f"file stand for more than {MAX_ALIAS_VALUES:,} values")
    assert "lol" not in message


def test_a_bomb_made_of_merge_keys_is_refused_too() -> None:
    lines = ["base: &m0 {a: 1, b: 2}"]
    lines += [f"m{n}: &m{n} {{<<: [{', '.join([f'*m{n - 1}'] * 9)}]}}" for n in range(1, 9)]
    message, seconds = refusal("\n".join(lines) + "\n")
    assert seconds < 1
    assert "upload/pack.yaml: line 5: alias *m3 makes the aliases" in message


def test_a_value_that_contains_itself_is_refused() -> None:
    message, _ = refusal(PACK.replace("title: ", "loop: &loop [1, *loop]\ntitle: ", 1))
    assert message.startswith("upload/pack.yaml: line ")
    assert "alias *loop is used inside the value it names" in message


def test_nesting_too_deep_is_refused() -> None:
    message, seconds = refusal("a: " + "[" * 10_000 + "]" * 10_000 + "\n")
    assert seconds < 2
    assert message == "upload/pack.yaml: line 1: nests deeper than 40 levels."


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed() -> None:
    message, _ = refusal("# padding\n" + "x" * MAX_FILE_BYTES)
    assert message == f"upload/pack.yaml: larger than {MAX_FILE_BYTES:,} bytes."
    message, _ = refusal(PACK, CASES + "#" + "x" * MAX_FILE_BYTES)
    assert message.startswith("upload/cases.yaml: larger than")


def test_the_shipped_packs_reuse_anchors_and_still_load() -> None:
    assert "<<: *arrival_ok" in CASES  # what the alias limit must keep working
    packs = {pack.id: pack for pack in load_packs()}
    assert sorted(packs) == ["fda", "mdr", "nmpa"]
    assert all(pack.cases for pack in packs.values())
    assert load_pack_text(PACK, CASES).digest == packs["fda"].digest


def test_a_long_value_is_quoted_in_part() -> None:
    message, _ = refusal(PACK.replace("region: US", "region: " + "U" * 100_000, 1))
    assert message == (f"upload/pack.yaml: region '{'U' * (MAX_SHOWN - 2)}… must be one of "
                       "CN, US, EU.")


def test_a_long_misspelt_field_is_quoted_in_part() -> None:
    name = "arrival_temp_" + "x" * 5000
    with pytest.raises(PackError) as caught:
        parse_pack(pack_data(rule("t-long", when={"field": name, "gt": 8})), source="up.yaml")
    message = caught.value.message
    assert message.startswith("up.yaml: rule t-long: when.field 'arrival_temp_xxx")
    assert message.endswith("… is not a field of step receiving.inspect")
    assert len(message) < 200
    assert all(len(str(value)) <= 400 for value in caught.value.fields.values())


def test_many_unknown_keys_give_a_bounded_refusal() -> None:
    with pytest.raises(PackError) as caught:
        parse_pack(pack_data(**{f"key_{n:05}_{'y' * 100}": 1 for n in range(10_000)}))
    refused = caught.value
    assert refused.message.startswith("pack.yaml: unknown key 'key_00000_yyy")
    assert len(refused.message) < 500
    assert len(refused.fields) == 21 and refused.fields["…"] == "9980 more"
    assert all(len(name) <= MAX_SHOWN for name in refused.fields)


def test_a_fact_with_a_long_bad_field_is_refused_in_brief() -> None:
    with pytest.raises(FactError) as caught:
        type_fact("receiving.inspect", {"z" * 10_000: 1, "cold_chain": "maybe" * 10_000})
    refused = caught.value
    assert len(refused.message) <= MAX_MESSAGE
    assert f"field '{'z' * (MAX_SHOWN - 1)}…' is not a field" in refused.message
    assert refused.fields["cold_chain"].startswith("must be true or false, got 'maybemaybe")
    assert len(refused.fields["cold_chain"]) < 120


@pytest.mark.parametrize("value", [
    "x" * 1_000_000,
    list(range(1_000_000)),
    {f"k{n}": n for n in range(100_000)},
])
def test_echo_is_short_and_quick_whatever_the_value(value: Any) -> None:
    started = time.perf_counter()
    text = echo(value)
    assert time.perf_counter() - started < 0.1
    assert len(text) <= MAX_SHOWN and text.endswith(("…", "...]", "...}"))


def test_echo_of_a_shared_structure_does_not_expand_it() -> None:
    level: list[Any] = ["lol"] * 9
    for _ in range(9):
        level = [level] * 9  # 9**10 items if printed in full
    started = time.perf_counter()
    assert echo(level).startswith("[[[[")
    assert time.perf_counter() - started < 0.1


def test_short_values_are_quoted_whole() -> None:
    assert echo("arival_temp") == "'arival_temp'"
    assert echo(8) == "8"
    assert clip("x" * MAX_SHOWN) == "x" * MAX_SHOWN
    assert clip("x" * (MAX_SHOWN + 1)) == "x" * (MAX_SHOWN - 1) + "…"
