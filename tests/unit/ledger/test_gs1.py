"""GS1 / UDI capture: what a scanner types at the dock, parsed into GTIN, lot, serial, dates."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import InvalidInput
from engine.ledger.gs1 import GS, gtin_check_digit, parse_udi

GEL = "06901234000016"  # our demo implant's GTIN


def test_check_digit_of_the_gs1_test_vector() -> None:
    assert gtin_check_digit("730001100001") == 7
    assert gtin_check_digit(GEL[:-1]) == int(GEL[-1])


# Real-world label layouts: what GS1 DataMatrix, GS1-128, GS1 QR and DataBar labels on devices
# carry, as hand-held scanners deliver them.
LABELS = [
    pytest.param(  # implant box, GS1 DataMatrix, FNC1 sent as GS between variable fields
        f"]d201{GEL}1123050117280430102305A011{GS}21QY000123",
        (GEL, "2305A011", "QY000123", date(2028, 4, 30), date(2023, 5, 1), "]d2"),
        id="datamatrix-d2"),
    pytest.param(  # GS1-128 on a carton, lot last so no separator needed
        f"]C101{GEL}17280430102305A011",
        (GEL, "2305A011", None, date(2028, 4, 30), None, "]C1"), id="gs1-128-c1"),
    pytest.param(  # GS1 QR code, DD=00: the last day of the month (leap February)
        f"]Q301{GEL}1728020010LOT-7{GS}21A1",
        (GEL, "LOT-7", "A1", date(2028, 2, 29), None, "]Q3"), id="qr-q3-dd00-leap"),
    pytest.param(
        f"]e001{GEL}1727020010B9",
        (GEL, "B9", None, date(2027, 2, 28), None, "]e0"), id="databar-e0-dd00"),
    pytest.param(  # FDA UDI-style example in bracketed human-readable form
        "(01)00643169007222(17)141120(10)7654321D(21)10987654d321",
        ("00643169007222", "7654321D", "10987654d321", date(2014, 11, 20), None, None),
        id="bracketed-fda-style"),
    pytest.param(  # bracketed with a symbology identifier and spaces as printed under the code
        f"]d2(01){GEL} (11)230501 (17)280400 (10)2305A011 (21)QY000124",
        (GEL, "2305A011", "QY000124", date(2028, 4, 30), date(2023, 5, 1), "]d2"),
        id="bracketed-with-symbology"),
    pytest.param(  # raw, no symbology identifier, FNC1 in first position sent as GS, CR+LF
        f"{GS}01{GEL}10ABC-12{GS}17281231\r\n",
        (GEL, "ABC-12", None, date(2028, 12, 31), None, None), id="raw-leading-gs"),
    pytest.param(  # keyboard wedge set to type GS as '|'
        f"01{GEL}10ABC12|21SN-0001|17281231",
        (GEL, "ABC12", "SN-0001", date(2028, 12, 31), None, None), id="wedge-pipe"),
    pytest.param(  # keyboard wedge typing '~' for GS, with the ]d2 prefix
        f"]d201{GEL}10ABC12~21SN-0002",
        (GEL, "ABC12", "SN-0002", None, None, "]d2"), id="wedge-tilde"),
    pytest.param(  # a wedge macro that spells the separator out
        f"01{GEL}10ABC12<GS>21SN-0003",
        (GEL, "ABC12", "SN-0003", None, None, None), id="wedge-token"),
    pytest.param(  # a plain EAN-13 on a class I box: GTIN only
        "]E06901234000016",
        (GEL, None, None, None, None, "]E0"), id="ean13"),
]


@pytest.mark.parametrize(("scan", "expected"), LABELS)
def test_real_world_labels(scan: str, expected: tuple[object, ...]) -> None:
    udi = parse_udi(scan)
    assert (udi.gtin, udi.lot, udi.serial, udi.expiry, udi.production_date,
            udi.symbology) == expected


def test_the_result_reads_back_as_bracketed_text() -> None:
    udi = parse_udi(f"]d201{GEL}1728043010L1{GS}21S1")
    assert udi.hri == f"(01){GEL}(17)280430(10)L1(21)S1"


@pytest.mark.parametrize(("scan", "message"), [
    pytest.param(f"]d201{GEL[:-1]}7172804301012345", "not valid.*check digit",
                 id="bad-check-digit"),
    pytest.param("(01)06901234000017(10)A", "not valid.*check digit", id="bad-check-bracketed"),
    pytest.param("(01)06901234000016(17)281340", "cannot be read", id="month-13"),
    pytest.param(f"01{GEL}17280231", "not a GS1 UDI", id="february-31"),
    pytest.param("hello world", "not a GS1 UDI", id="garbage"),
    pytest.param("", "empty", id="empty"),
    pytest.param("   \r\n", "empty", id="whitespace"),
    pytest.param("]d2", "holds no data", id="only-symbology"),
    pytest.param("00069012340000000019", "no GTIN", id="sscc-pallet-label"),
    pytest.param("(10)ABC(21)123", "no GTIN", id="no-gtin"),
    pytest.param(f"01{GEL}0", "not a GS1 UDI", id="truncated"),
    pytest.param("(01)06901234000016(99)X", "", id="unknown-bracketed-ai-is-fine"),
])
def test_malformed_scans_are_clear_errors(scan: str, message: str) -> None:
    if not message:  # company-internal AI 99 is legal: the scan parses
        assert parse_udi(scan).gtin == GEL
        return
    with pytest.raises(InvalidInput, match=message) as refused:
        parse_udi(scan)
    assert "scan" in refused.value.fields


def test_a_gtin_that_is_not_the_expected_product_is_refused() -> None:
    other = "00643169007222"
    with pytest.raises(InvalidInput, match="not the expected product") as refused:
        parse_udi(f"(01){other}(10)A1", expected_gtin=GEL)
    assert refused.value.fields["gtin"] == other
    assert parse_udi(f"(01){GEL}(10)A1", expected_gtin=GEL[1:]).lot == "A1"  # GTIN-13 form


ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz0123456789"
IDENT = st.text(alphabet=ALNUM + "-./", min_size=1, max_size=20)


@st.composite
def gtins(draw: st.DrawFn) -> str:
    data = draw(st.text(alphabet="0123456789", min_size=13, max_size=13))
    return data + str(gtin_check_digit(data))


@given(gtin=gtins(), lot=IDENT, serial=IDENT,
       expiry=st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31)),
       made=st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31)),
       separator=st.sampled_from([GS, "|", "~", "^", "#", "<GS>"]),
       symbology=st.sampled_from(["", "]d2", "]C1", "]Q3"]))
def test_any_label_round_trips_in_every_form(gtin: str, lot: str, serial: str, expiry: date,
                                             made: date, separator: str,
                                             symbology: str) -> None:
    fields = {"11": made.strftime("%y%m%d"), "17": expiry.strftime("%y%m%d")}
    raw = f"{symbology}01{gtin}11{fields['11']}17{fields['17']}10{lot}{separator}21{serial}"
    bracketed = (f"{symbology}(01){gtin}(11){fields['11']}(17){fields['17']}(10){lot}"
                 f"(21){serial}")
    for scan in (raw, bracketed):
        udi = parse_udi(scan)
        assert (udi.gtin, udi.lot, udi.serial, udi.expiry, udi.production_date) == (
            gtin, lot, serial, expiry, made)
