"""The trace tables line up in a terminal even with Chinese party names."""

from __future__ import annotations

from web.ledger_cli import table


def test_columns_align_with_double_width_characters() -> None:
    lines = table(("party", "qty"), [("上海仁康医院", "60"), ("Lakeshore Clinic", "25")])
    assert lines == [
        "party             qty",
        "----------------  ---",
        "上海仁康医院      60",
        "Lakeshore Clinic  25",
    ]
