"""UPU S10 international mail numbers: who posted them and what kind of item they are.

An S10 number (``RB123456785GB``) is two service letters, eight digits, a check
digit and the ISO 3166 code of the country whose postal operator issued it.
"""

from __future__ import annotations

#: Every ISO 3166-1 alpha-2 country code, the only suffixes an S10 number may carry.
_ISO_BY_LETTER = (
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ",
    "BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ",
    "CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ",
    "DE DJ DK DM DO DZ",
    "EC EE EG EH ER ES ET",
    "FI FJ FK FM FO FR",
    "GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY",
    "HK HM HN HR HT HU",
    "ID IE IL IM IN IO IQ IR IS IT",
    "JE JM JO JP",
    "KE KG KH KI KM KN KP KR KW KY KZ",
    "LA LB LC LI LK LR LS LT LU LV LY",
    "MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ",
    "NA NC NE NF NG NI NL NO NP NR NU NZ",
    "OM",
    "PA PE PF PG PH PK PL PM PN PR PS PT PW PY",
    "QA",
    "RE RO RS RU RW",
    "SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ",
    "TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ",
    "UA UG UM US UY UZ",
    "VA VC VE VG VI VN VU",
    "WF WS",
    "YE YT",
    "ZA ZM ZW",
)
ISO_COUNTRIES: frozenset[str] = frozenset(" ".join(_ISO_BY_LETTER).split())

#: Country -> orderdeck carrier code of the postal operator that issues its S10 numbers.
OPERATORS: dict[str, str] = {
    "AT": "austrian_post",
    "AU": "australia_post",
    "BE": "bpost",
    "BR": "correios",
    "CA": "canada_post",
    "CH": "swiss_post",
    "CN": "china_post",
    "CZ": "ceska_posta",
    "DE": "deutsche_post",
    "DK": "postnord",
    "ES": "correos",
    "FI": "posti",
    "FR": "la_poste",
    "GB": "royal_mail",
    "HK": "hongkong_post",
    "IE": "an_post",
    "IN": "india_post",
    "IT": "poste_italiane",
    "JP": "japan_post",
    "KR": "korea_post",
    "MX": "mexico_post",
    "NL": "postnl",
    "NZ": "nz_post",
    "PL": "poczta_polska",
    "SE": "postnord",
    "SG": "singapore_post",
    "US": "usps",
}

#: First service letter -> kind of item (UPU S10 standard, annex on service indicators).
_KINDS: dict[str, str] = {
    "C": "parcel",
    "E": "EMS item",
    "H": "e-commerce parcel",
    "L": "express letter",
    "M": "M-bag",
    "Q": "business reply item",
    "R": "registered item",
    "U": "letter-post item",
    "V": "insured item",
}


def kind(service: str) -> str:
    """What an S10 service indicator (``RB``, ``EE``, ``CP``, ...) says the item is."""
    if service[0] in "BDNPZ" or service in {"AV", "AW", "AX", "AY", "AZ", "GA", "GD"}:
        return "domestic item"
    return _KINDS.get(service[0], "item")
