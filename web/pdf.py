"""Printable records as PDF (recall reports, delivery notes) with reportlab. Chinese text is
set in a TrueType CJK font embedded in the file (the glyphs used), so any reader shows it and the
record stands alone: GXPFLOW_PDF_FONT, or the first of FONT_FILES installed. With none, the PDF
names the Adobe CID font STSong-Light and the reader supplies it."""

from __future__ import annotations

import functools
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from flask import current_app, has_app_context
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

#: TrueType CJK fonts from Debian's packages, the first installed is embedded.
FONT_FILES = ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
              "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
              "/usr/share/fonts/truetype/arphic/uming.ttc")
CID_FONT = "STSong-Light"
log = logging.getLogger(__name__)


@functools.cache
def font(configured: str = "") -> str:
    """The name of the registered font PDFs are set in: the configured or first installed
    TrueType CJK font (embedded), else the CID font (named only)."""
    for path in (configured, *FONT_FILES) if configured else FONT_FILES:
        if Path(path).is_file():
            try:
                pdfmetrics.registerFont(TTFont("GxPFlowCJK", path, subfontIndex=0))
                return "GxPFlowCJK"
            except Exception as error:  # a font reportlab cannot read: try the next
                log.warning("PDF font %s cannot be used: %s", path, error)
    pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
    return CID_FONT


@functools.cache
def _styles(name: str) -> dict[str, ParagraphStyle]:
    return {
        "title": ParagraphStyle("title", fontName=name, fontSize=15, leading=20, spaceAfter=6),
        "heading": ParagraphStyle("heading", fontName=name, fontSize=11.5, leading=15,
                                  spaceBefore=8, spaceAfter=4),
        "text": ParagraphStyle("text", fontName=name, fontSize=9, leading=12),
        "cell": ParagraphStyle("cell", fontName=name, fontSize=8, leading=10),
    }


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


def _cells(values: Sequence[str], style: ParagraphStyle) -> list[Paragraph]:
    return [Paragraph(escape(str(value)), style) for value in values]


def render(document: Document) -> bytes:
    name = font(current_app.extensions["gxpflow.settings"].pdf_font if has_app_context() else "")
    styles = _styles(name)
    buffer = io.BytesIO()
    pdf = SimpleDocTemplate(buffer, pagesize=A4, title=document.title, leftMargin=15 * mm,
                            rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=18 * mm)
    story: list[object] = [Paragraph(escape(document.title), styles["title"])]
    if document.subtitle:
        story.append(Paragraph(escape(document.subtitle), styles["text"]))
    grid = TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                       ("VALIGN", (0, 0), (-1, -1), "TOP")])
    for section in document.sections:
        story.append(Paragraph(escape(section.heading), styles["heading"]))
        if section.text:
            story.append(Paragraph(escape(section.text), styles["text"]))
        if section.facts:
            table = Table([_cells(pair, styles["cell"]) for pair in section.facts],
                          colWidths=[55 * mm, None])
            table.setStyle(grid)
            story.append(table)
        if section.header:
            table = Table([_cells(section.header, styles["cell"])]
                          + [_cells(row, styles["cell"]) for row in section.rows],
                          repeatRows=1)
            table.setStyle(TableStyle([*grid.getCommands(),
                                       ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey)]))
            story.append(table)
        story.append(Spacer(1, 4 * mm))
    footer = document.footer

    def _page(canvas: object, doc: object) -> None:
        canvas.saveState()  # type: ignore[attr-defined]
        canvas.setFont(name, 7.5)  # type: ignore[attr-defined]
        canvas.drawString(15 * mm, 10 * mm,  # type: ignore[attr-defined]
                          f"{footer}  ·  {doc.page}")  # type: ignore[attr-defined]
        canvas.restoreState()  # type: ignore[attr-defined]

    pdf.build(story, onFirstPage=_page, onLaterPages=_page)
    return buffer.getvalue()
