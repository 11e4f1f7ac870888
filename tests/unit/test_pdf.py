"""Printed records embed their Chinese font when one is installed, else name the CID font."""

from __future__ import annotations

from pathlib import Path

import pytest

from web import pdf

DOCUMENT = pdf.Document(title="随货同行单 Delivery note", sections=[
    pdf.Section("产品 Product", facts=[("品名", "医用电子体温计")])])


def test_an_installed_cjk_font_is_embedded() -> None:
    installed = [path for path in pdf.FONT_FILES if Path(path).is_file()]
    if not installed:
        pytest.skip("no TrueType CJK font installed (Debian: fonts-wqy-zenhei)")
    pdf.font.cache_clear()
    data = pdf.render(DOCUMENT)
    assert b"/FontFile2" in data and b"STSong" not in data


def test_without_one_the_pdf_names_the_cid_font(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf, "FONT_FILES", ("/nowhere/font.ttc",))
    pdf.font.cache_clear()
    try:
        data = pdf.render(DOCUMENT)
        assert b"STSong-Light" in data and b"/FontFile2" not in data
    finally:
        pdf.font.cache_clear()
