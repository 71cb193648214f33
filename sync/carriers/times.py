"""Reading carrier timestamps without losing or inventing an offset.

Providers send times three ways: with an offset (``2024-05-02T14:34:00-04:00``),
in UTC (``...Z``), or naive (``2024-05-02 14:34``). A naive time is local to
*somewhere*; each adapter says where its provider documents it to be (the
checkpoint's location, the recipient's address) and passes that zone, else it
is read as UTC. :func:`parse_time` returns the instant in UTC plus the offset
the time was written in, so the console can show "14:34 local" and the store
can sort by instant.

:func:`location_zone` finds the IANA zone of a place from its country (ISO
alpha-2, alpha-3 or English name) and, for the large countries that span
several zones, its state or province. It reads the system's ``zone.tab``, the
same tz database :mod:`zoneinfo` uses; a country with several zones and no
usable state gives ``None`` rather than a guess.
"""

from __future__ import annotations

import logging
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import cache
from pathlib import Path

log = logging.getLogger("orderdeck.carriers")


@dataclass(frozen=True)
class ParsedTime:
    #: The instant, in UTC.
    at: datetime
    #: Minutes east of UTC the time was written in; None when it came naive and
    #: no zone was known (it was read as UTC).
    utc_offset_minutes: int | None
    #: True when only a date was given (no time of day).
    date_only: bool = False


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SLASHED = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


def _offset_minutes(value: datetime) -> int | None:
    delta = value.utcoffset()
    return None if delta is None else int(delta.total_seconds() // 60)


def parse_time(
    value: object, *, zone: tzinfo | None = None, end_of_day: bool = False
) -> ParsedTime | None:
    """Parse an ISO 8601-ish timestamp; ``None`` for empty or unreadable input.

    ``zone`` is where a naive time is local (None: UTC). A date without a time
    becomes the start of that day, or its last second with ``end_of_day`` (an
    estimated delivery *date* means "by the end of that day").
    """
    if not isinstance(value, str):
        return None
    # "2024-05-02 14:34:00 +0800": no space before the offset, "T" between date and time.
    text = re.sub(r"\s+(Z|[+-]\d{2}:?\d{2})$", r"\1", value.strip())
    if not text:
        return None
    parsed: datetime
    date_only = False
    if _DATE_ONLY.match(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return None
        parsed = datetime.combine(day, time(23, 59, 59) if end_of_day else time(0, 0))
        date_only = True
    else:
        try:
            parsed = datetime.fromisoformat(text.replace(" ", "T", 1) if " " in text else text)
        except ValueError:
            match = _SLASHED.match(text)
            if not match:
                return None
            y, m, d, hh, mm, ss = match.groups()
            try:
                parsed = datetime(int(y), int(m), int(d), int(hh or 0), int(mm or 0), int(ss or 0))
            except ValueError:
                return None
    if parsed.tzinfo is not None:
        return ParsedTime(parsed.astimezone(UTC), _offset_minutes(parsed), date_only)
    if zone is None:
        return ParsedTime(parsed.replace(tzinfo=UTC), None, date_only)
    local = parsed.replace(tzinfo=zone)
    return ParsedTime(local.astimezone(UTC), _offset_minutes(local), date_only)


def offset_zone(text: object) -> tzinfo | None:
    """A fixed zone from "+08:00", "-0400", "UTC+8" or an IANA name; None if unreadable."""
    if not isinstance(text, str) or not text.strip():
        return None
    raw = text.strip()
    match = re.fullmatch(r"(?:UTC|GMT)?\s*([+-])(\d{1,2}):?(\d{2})?", raw, re.I)
    if match:
        sign, hours, minutes = match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if delta >= timedelta(hours=24):
            return None
        return timezone(-delta if sign == "-" else delta)
    if raw.upper() in {"Z", "UTC", "GMT"}:
        return UTC
    try:
        return zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


# ISO 3166-1 alpha-2 + alpha-3, five characters a country.
_ISO_PAIRS = (
    "ADAND AEARE AFAFG AGATG AIAIA ALALB AMARM AOAGO AQATA ARARG ASASM ATAUT AUAUS AWABW "
    "AXALA AZAZE BABIH BBBRB BDBGD BEBEL BFBFA BGBGR BHBHR BIBDI BJBEN BLBLM BMBMU BNBRN "
    "BOBOL BQBES BRBRA BSBHS BTBTN BVBVT BWBWA BYBLR BZBLZ CACAN CCCCK CDCOD CFCAF CGCOG "
    "CHCHE CICIV CKCOK CLCHL CMCMR CNCHN COCOL CRCRI CUCUB CVCPV CWCUW CXCXR CYCYP CZCZE "
    "DEDEU DJDJI DKDNK DMDMA DODOM DZDZA ECECU EEEST EGEGY EHESH ERERI ESESP ETETH FIFIN "
    "FJFJI FKFLK FMFSM FOFRO FRFRA GAGAB GBGBR GDGRD GEGEO GFGUF GGGGY GHGHA GIGIB GLGRL "
    "GMGMB GNGIN GPGLP GQGNQ GRGRC GSSGS GTGTM GUGUM GWGNB GYGUY HKHKG HMHMD HNHND HRHRV "
    "HTHTI HUHUN IDIDN IEIRL ILISR IMIMN ININD IOIOT IQIRQ IRIRN ISISL ITITA JEJEY JMJAM "
    "JOJOR JPJPN KEKEN KGKGZ KHKHM KIKIR KMCOM KNKNA KPPRK KRKOR KWKWT KYCYM KZKAZ LALAO "
    "LBLBN LCLCA LILIE LKLKA LRLBR LSLSO LTLTU LULUX LVLVA LYLBY MAMAR MCMCO MDMDA MEMNE "
    "MFMAF MGMDG MHMHL MKMKD MLMLI MMMMR MNMNG MOMAC MPMNP MQMTQ MRMRT MSMSR MTMLT MUMUS "
    "MVMDV MWMWI MXMEX MYMYS MZMOZ NANAM NCNCL NENER NFNFK NGNGA NINIC NLNLD NONOR NPNPL "
    "NRNRU NUNIU NZNZL OMOMN PAPAN PEPER PFPYF PGPNG PHPHL PKPAK PLPOL PMSPM PNPCN PRPRI "
    "PSPSE PTPRT PWPLW PYPRY QAQAT REREU ROROU RSSRB RURUS RWRWA SASAU SBSLB SCSYC SDSDN "
    "SESWE SGSGP SHSHN SISVN SJSJM SKSVK SLSLE SMSMR SNSEN SOSOM SRSUR SSSSD STSTP SVSLV "
    "SXSXM SYSYR SZSWZ TCTCA TDTCD TFATF TGTGO THTHA TJTJK TKTKL TLTLS TMTKM TNTUN TOTON "
    "TRTUR TTTTO TVTUV TWTWN TZTZA UAUKR UGUGA UMUMI USUSA UYURY UZUZB VAVAT VCVCT VEVEN "
    "VGVGB VIVIR VNVNM VUVUT WFWLF WSWSM YEYEM YTMYT ZAZAF ZMZMB ZWZWE XKXKX"
)
ISO3_TO_ISO2: dict[str, str] = {pair[2:]: pair[:2] for pair in _ISO_PAIRS.split()}
ISO2_TO_ISO3: dict[str, str] = {two: three for three, two in ISO3_TO_ISO2.items()}

# Countries that span several zones: state/province code -> zone.
_US_STATES = {
    "AL": "America/Chicago", "AK": "America/Anchorage", "AZ": "America/Phoenix",
    "AR": "America/Chicago", "CA": "America/Los_Angeles", "CO": "America/Denver",
    "CT": "America/New_York", "DE": "America/New_York", "DC": "America/New_York",
    "FL": "America/New_York", "GA": "America/New_York", "HI": "Pacific/Honolulu",
    "ID": "America/Boise", "IL": "America/Chicago", "IN": "America/Indiana/Indianapolis",
    "IA": "America/Chicago", "KS": "America/Chicago", "KY": "America/Kentucky/Louisville",
    "LA": "America/Chicago", "ME": "America/New_York", "MD": "America/New_York",
    "MA": "America/New_York", "MI": "America/Detroit", "MN": "America/Chicago",
    "MS": "America/Chicago", "MO": "America/Chicago", "MT": "America/Denver",
    "NE": "America/Chicago", "NV": "America/Los_Angeles", "NH": "America/New_York",
    "NJ": "America/New_York", "NM": "America/Denver", "NY": "America/New_York",
    "NC": "America/New_York", "ND": "America/Chicago", "OH": "America/New_York",
    "OK": "America/Chicago", "OR": "America/Los_Angeles", "PA": "America/New_York",
    "RI": "America/New_York", "SC": "America/New_York", "SD": "America/Chicago",
    "TN": "America/Chicago", "TX": "America/Chicago", "UT": "America/Denver",
    "VT": "America/New_York", "VA": "America/New_York", "WA": "America/Los_Angeles",
    "WV": "America/New_York", "WI": "America/Chicago", "WY": "America/Denver",
    "PR": "America/Puerto_Rico", "GU": "Pacific/Guam", "VI": "America/St_Thomas",
    "AS": "Pacific/Pago_Pago", "MP": "Pacific/Saipan",
}  # fmt: skip
_US_NAMES = {
    "ALABAMA": "AL", "ALASKA": "AK", "ARIZONA": "AZ", "ARKANSAS": "AR", "CALIFORNIA": "CA",
    "COLORADO": "CO", "CONNECTICUT": "CT", "DELAWARE": "DE", "DISTRICT OF COLUMBIA": "DC",
    "FLORIDA": "FL", "GEORGIA": "GA", "HAWAII": "HI", "IDAHO": "ID", "ILLINOIS": "IL",
    "INDIANA": "IN", "IOWA": "IA", "KANSAS": "KS", "KENTUCKY": "KY", "LOUISIANA": "LA",
    "MAINE": "ME", "MARYLAND": "MD", "MASSACHUSETTS": "MA", "MICHIGAN": "MI",
    "MINNESOTA": "MN", "MISSISSIPPI": "MS", "MISSOURI": "MO", "MONTANA": "MT",
    "NEBRASKA": "NE", "NEVADA": "NV", "NEW HAMPSHIRE": "NH", "NEW JERSEY": "NJ",
    "NEW MEXICO": "NM", "NEW YORK": "NY", "NORTH CAROLINA": "NC", "NORTH DAKOTA": "ND",
    "OHIO": "OH", "OKLAHOMA": "OK", "OREGON": "OR", "PENNSYLVANIA": "PA",
    "RHODE ISLAND": "RI", "SOUTH CAROLINA": "SC", "SOUTH DAKOTA": "SD", "TENNESSEE": "TN",
    "TEXAS": "TX", "UTAH": "UT", "VERMONT": "VT", "VIRGINIA": "VA", "WASHINGTON": "WA",
    "WEST VIRGINIA": "WV", "WISCONSIN": "WI", "WYOMING": "WY", "PUERTO RICO": "PR",
}  # fmt: skip
_CA_PROVINCES = {
    "AB": "America/Edmonton", "BC": "America/Vancouver", "MB": "America/Winnipeg",
    "NB": "America/Moncton", "NL": "America/St_Johns", "NS": "America/Halifax",
    "NT": "America/Yellowknife", "NU": "America/Iqaluit", "ON": "America/Toronto",
    "PE": "America/Halifax", "QC": "America/Toronto", "SK": "America/Regina",
    "YT": "America/Whitehorse",
}  # fmt: skip
_AU_STATES = {
    "ACT": "Australia/Sydney", "NSW": "Australia/Sydney", "NT": "Australia/Darwin",
    "QLD": "Australia/Brisbane", "SA": "Australia/Adelaide", "TAS": "Australia/Hobart",
    "VIC": "Australia/Melbourne", "WA": "Australia/Perth",
}  # fmt: skip
_MX_STATES = {
    "BC": "America/Tijuana", "BCN": "America/Tijuana", "SON": "America/Hermosillo",
    "SO": "America/Hermosillo", "CHH": "America/Chihuahua", "CH": "America/Chihuahua",
    "SIN": "America/Mazatlan", "SI": "America/Mazatlan", "BCS": "America/Mazatlan",
    "NAY": "America/Mazatlan", "QR": "America/Cancun", "ROO": "America/Cancun",
}  # fmt: skip
_BY_STATE: dict[str, dict[str, str]] = {
    "US": _US_STATES,
    "CA": _CA_PROVINCES,
    "AU": _AU_STATES,
    "MX": _MX_STATES,
}
#: Where a state is not in the table: the zone most of the country keeps (None: no safe answer).
_STATE_FALLBACK: dict[str, str | None] = {"MX": "America/Mexico_City"}


def _tz_files(name: str) -> list[Path]:
    return [Path(base) / name for base in zoneinfo.TZPATH]


#: Multi-zone countries whose tz comments do not name a main zone, but have one.
#: Their other zones cover a small, outlying part (Büsingen, the Canaries, the Azores,
#: Xinjiang, the Chathams...): the mainland zone.
_MAIN_ZONE = {
    "CN": "Asia/Shanghai", "DE": "Europe/Berlin", "ES": "Europe/Madrid", "PT": "Europe/Lisbon",
    "NZ": "Pacific/Auckland", "CL": "America/Santiago", "EC": "America/Guayaquil",
    "UA": "Europe/Kyiv", "MY": "Asia/Kuala_Lumpur", "AR": "America/Argentina/Buenos_Aires",
    "UZ": "Asia/Tashkent", "CY": "Asia/Nicosia", "DK": "Europe/Copenhagen",
    "NO": "Europe/Oslo", "GB": "Europe/London",
}  # fmt: skip
_MAIN_COMMENT = re.compile(r"^most of |\(mainland\)", re.I)


@cache
def _zone_table() -> tuple[dict[str, str | None], dict[str, str]]:
    """country -> its zone (None when it spans zones with no main one), and
    upper-cased country name -> country, from the tz database."""
    rows: dict[str, list[tuple[str, str]]] = {}
    names: dict[str, str] = {}
    for path in _tz_files("zone.tab"):
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                fields = line.split("\t")
                if line.startswith("#") or len(fields) < 3:
                    continue
                rows.setdefault(fields[0], []).append(
                    (fields[2], fields[3] if len(fields) > 3 else "")
                )
            break
    else:
        log.warning(
            "no zone.tab in the tz database (%s): naive times are read as UTC", zoneinfo.TZPATH
        )
    for path in _tz_files("iso3166.tab"):
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.startswith("#") or "\t" not in line:
                    continue
                code, name = line.split("\t", 1)
                names[name.strip().upper()] = code
            break
    return {code: _main_zone(code, zones) for code, zones in rows.items()}, names


def _main_zone(country: str, zones: list[tuple[str, str]]) -> str | None:
    """One zone for a country: its only one, or all of them agree on the offset all
    year, or the tz database calls one "most of" / "mainland"."""
    if country in _MAIN_ZONE:
        return _MAIN_ZONE[country]
    if len(zones) == 1:
        return zones[0][0]
    year = datetime.now(UTC).year
    probes = (datetime(year, 1, 15, tzinfo=UTC), datetime(year, 7, 15, tzinfo=UTC))
    try:
        offsets = {
            tuple(p.astimezone(zoneinfo.ZoneInfo(z)).utcoffset() for p in probes) for z, _ in zones
        }
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        offsets = set()
    if len(offsets) == 1:
        return zones[0][0]
    for zone, comment in zones:
        if _MAIN_COMMENT.search(comment):
            return zone
    return None


def country_iso2(country: object) -> str | None:
    """ISO alpha-2 from alpha-2, alpha-3 or an English name; None if unknown."""
    if not isinstance(country, str) or not country.strip():
        return None
    key = country.strip().upper()
    if len(key) == 2 and key in ISO2_TO_ISO3:
        return key
    if len(key) == 3 and key in ISO3_TO_ISO2:
        return ISO3_TO_ISO2[key]
    aliases = {"UNITED STATES OF AMERICA": "US", "USA": "US", "UK": "GB", "UNITED KINGDOM": "GB"}
    if key in aliases:
        return aliases[key]
    return _zone_table()[1].get(key)


def is_us_state(state: object) -> bool:
    """True for a US state or territory code such as "TX" (or its full name)."""
    key = str(state or "").strip().upper()
    return key in _US_STATES or key in _US_NAMES


def location_zone(country: object, state: object = None) -> zoneinfo.ZoneInfo | None:
    """The zone of a place, or None when the country is unknown or spans zones we cannot pick."""
    code = country_iso2(country)
    if code is None:
        return None
    by_state = _BY_STATE.get(code)
    if by_state is not None:
        key = str(state or "").strip().upper()
        if code == "US":
            key = _US_NAMES.get(key, key)
        name = by_state.get(key, _STATE_FALLBACK.get(code))
        return zoneinfo.ZoneInfo(name) if name else None
    name = _zone_table()[0].get(code)
    if name is None:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
