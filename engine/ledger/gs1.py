"""GS1 / UDI capture: turn what a scanner typed into GTIN, lot, serial, expiry and production
date, with the biip library doing the GS1 parsing and check-digit validation.

Accepted forms: raw element strings with the GS separator (ASCII 29), the bracketed
human-readable form `(01)...(17)...`, either one with or without a symbology identifier
(`]d2`, `]C1`, `]Q3`, `]e0`), and keyboard-wedge scans where the scanner types the GS as another
character that cannot occur in GS1 data (`|`, `~`, `^`, `{`, `}` or `#`) or as the text `<GS>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Final

from biip import ParseConfig, ParseError, parse
from biip.gs1_element_strings import GS1ElementStrings
from biip.gs1_messages import GS1Message

from engine.errors import InvalidInput

GS: Final = "\x1d"
#: Characters outside the GS1 character set 82 that keyboard-wedge scanners are commonly set
#: to type instead of GS; none can occur inside a lot or serial, so reading them as GS is safe.
WEDGE_SEPARATORS: Final = ("|", "~", "^", "{", "}", "#")
_WEDGE_TOKENS = re.compile(r"<GS>|\{GS\}|\[GS\]|\\x1[dD]|\^\]", re.IGNORECASE)
_CONFIG = ParseConfig(separator_chars=(GS, *WEDGE_SEPARATORS))


@dataclass(frozen=True)
class Udi:
    """The production identifiers of one scanned label."""

    gtin: str
    lot: str | None
    serial: str | None
    expiry: date | None
    production_date: date | None
    symbology: str | None
    hri: str

    def summary(self) -> str:
        return self.hri or f"(01){self.gtin}"


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(message, fields={"scan": message})


def parse_udi(scan: str, expected_gtin: str | None = None) -> Udi:
    """Parse one scan; a bad check digit, a malformed string or a GTIN other than
    `expected_gtin` raises `InvalidInput` with a message the person at the scanner can act on.
    """
    value = _WEDGE_TOKENS.sub(GS, scan.replace("\r", "").replace("\n", "")).strip()
    if not value:
        raise _refuse("The scan is empty: scan the UDI barcode again.")
    symbology = None
    body = value
    if body.startswith("]") and len(body) >= 3:
        symbology, body = body[:3], body[3:]
    body = body.lstrip(GS + "".join(WEDGE_SEPARATORS))
    if not body:
        raise _refuse("The scan holds no data: scan the UDI barcode again.")
    if body.startswith("("):
        message = _parse_bracketed(body)
    else:
        message = _parse_raw(symbology + body if symbology else body)
    udi = _udi(message.element_strings, symbology, message.as_hri(), value)
    if expected_gtin is not None and udi.gtin != expected_gtin.zfill(14):
        raise InvalidInput(
            f"The scanned GTIN {udi.gtin} is not the expected product (GTIN "
            f"{expected_gtin.zfill(14)}): check that the right item is in hand.",
            fields={"scan": "Wrong product scanned.", "gtin": udi.gtin},
        )
    return udi


def _parse_bracketed(body: str) -> GS1Message:
    try:
        return GS1Message.parse_hri(body, config=_CONFIG)
    except ParseError as exc:
        raise _refuse(f"The bracketed GS1 string cannot be read: {exc}") from None


def _parse_raw(value: str) -> GS1Message:
    result = parse(value, config=_CONFIG)
    if result.gs1_message is not None:
        return result.gs1_message
    if result.gtin is not None:  # a plain GTIN barcode (EAN-13, ITF-14): no lot or serial
        return GS1Message.parse("01" + result.gtin.as_gtin_14(), config=_CONFIG)
    reason = result.gs1_message_error or result.gtin_error or "unknown format"
    raise _refuse(f"The scan is not a GS1 UDI: {reason}")


def _udi(elements: GS1ElementStrings, symbology: str | None, hri: str, raw: str) -> Udi:
    gtin_element = elements.get(ai="01")
    if gtin_element is None:
        raise _refuse(f"The scan {raw!r} has no GTIN (AI 01): scan the UDI barcode, "
                      "not a shipping label.")
    if gtin_element.gtin is None:
        raise _refuse(f"GTIN {gtin_element.value} is not valid: {gtin_element.gtin_error} "
                      "The label may be misprinted or the scan incomplete.")
    for ai, name in (("10", "lot"), ("21", "serial")):
        element = elements.get(ai=ai)
        if element is not None and not element.value:
            raise _refuse(f"The {name} (AI {ai}) in the scan is empty.")

    def text(ai: str) -> str | None:
        element = elements.get(ai=ai)
        return element.value if element is not None else None

    def day(ai: str) -> date | None:
        element = elements.get(ai=ai)
        return element.date if element is not None else None

    return Udi(gtin=gtin_element.gtin.as_gtin_14(), lot=text("10"), serial=text("21"),
               expiry=day("17"), production_date=day("11"), symbology=symbology, hri=hri)


def gtin_check_digit(data: str) -> int:
    """Check digit of the GTIN data digits (weights 3,1,3,1... from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(data)))
    return (10 - total % 10) % 10
