"""Recorded data shown to people: empty values as a dash, Chinese as written."""

from __future__ import annotations

from web.i18n import readable


def test_recorded_values_read_as_written() -> None:
    assert readable(None) == "—"
    assert readable({"customer_name": "上海仁康康复医院", "quantity": 15}) == (
        '{"customer_name": "上海仁康康复医院", "quantity": 15}')
    assert readable(["T231101", None]) == '["T231101", null]'
    assert readable(15) == "15" and readable("") == ""
