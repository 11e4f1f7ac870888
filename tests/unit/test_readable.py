"""Recorded data shown to people: empty values as a dash, Chinese as written, yes and no,
records as "key: value" pairs, times in the reader's zone."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask

from web.i18n import localtime, readable


def test_recorded_values_read_as_written() -> None:
    assert readable(None) == "—" and readable("") == "—"
    assert readable({"customer_name": "上海仁康康复医院", "quantity": 15, "_plan": 1}) == (
        "customer_name: 上海仁康康复医院 · quantity: 15")
    assert readable(["T231101", None]) == "T231101; —"
    assert readable(15) == "15" and readable("2026-03-01") == "2026-03-01"


def test_times_and_yes_no_are_shown_for_the_reader(app: Flask) -> None:
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert readable(True) == "yes" and readable(False) == "no"
        moment = datetime(2026, 3, 1, 7, 30, tzinfo=UTC)
        assert readable("2026-03-01T07:30:00+00:00") == localtime(moment)
        assert readable("2026-03-01T15:30+08:00") == localtime(moment)  # the same moment
