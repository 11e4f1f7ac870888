"""Printable records as PDF (recall reports, delivery notes) with reportlab. Chinese text uses
the Adobe CID font STSong-Light, which PDF readers supply, so no font file ships with GxPFlow."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

_TITLE = ParagraphStyle("title", fontName=FONT, fontSize=15, leading=20, spaceAfter=6)
_HEADING = ParagraphStyle("heading", fontName=FONT, fontSize=11.5, leading=15, spaceBefore=8,
                          spaceAfter=4)
_TEXT = ParagraphStyle("text", fontName=FONT, fontSize=9, leading=12)
_CELL = ParagraphStyle("cell", fontName=FONT, fontSize=8, leading=10)


@dataclass
class Section:
    heading: str
    #: Label/value pairs shown as a two-column table.
    facts: Sequence[tuple[str, str]] = ()
    #: A table: the header row, then the rows.
    header: Sequence[str] = ()
    rows: Sequence[Sequence[str]] = ()
    text: str = ""


@dataclass
class Document:
    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)
    footer: str = ""


def _cells(values: Sequence[str]) -> list[Paragraph]:
    return [Paragraph(escape(str(value)), _CELL) for value in values]


def render(document: Document) -> bytes:
    buffer = io.BytesIO()
    pdf = SimpleDocTemplate(buffer, pagesize=A4, title=document.title, leftMargin=15 * mm,
                            rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=18 * mm)
    story: list[object] = [Paragraph(escape(document.title), _TITLE)]
    if document.subtitle:
        story.append(Paragraph(escape(document.subtitle), _TEXT))
    grid = TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                       ("VALIGN", (0, 0), (-1, -1), "TOP")])
    for section in document.sections:
        story.append(Paragraph(escape(section.heading), _HEADING))
        if section.text:
            story.append(Paragraph(escape(section.text), _TEXT))
        if section.facts:
            table = Table([_cells(pair) for pair in section.facts], colWidths=[55 * mm, None])
            table.setStyle(grid)
            story.append(table)
        if section.header:
            table = Table([_cells(section.header)] + [_cells(row) for row in section.rows],
                          repeatRows=1)
            table.setStyle(TableStyle([*grid.getCommands(),
                                       ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey)]))
            story.append(table)
        story.append(Spacer(1, 4 * mm))
    footer = document.footer

    def _page(canvas: object, doc: object) -> None:
        canvas.saveState()  # type: ignore[attr-defined]
        canvas.setFont(FONT, 7.5)  # type: ignore[attr-defined]
        canvas.drawString(15 * mm, 10 * mm,  # type: ignore[attr-defined]
                          f"{footer}  ·  {doc.page}")  # type: ignore[attr-defined]
        canvas.restoreState()  # type: ignore[attr-defined]

    pdf.build(story, onFirstPage=_page, onLaterPages=_page)
    return buffer.getvalue()
