"""orderdeck's carrier codes: who moves parcels, their names, their public tracking pages.

A shipment's ``carrier`` is always one of these codes (or a code a third-party
adapter adds). Names found in shop exports ("UPS", "United Parcel Service",
"Royal Mail Tracked 24") are mapped here with :func:`carrier_code`.
"""

from __future__ import annotations

import re

from store.carriers import CARRIERS, carrier_name, tracking_url

__all__ = ["CARRIERS", "carrier_code", "carrier_name", "tracking_url"]

#: Lower-cased names and spellings seen in exports -> code.
_ALIASES: dict[str, str] = {
    "united parcel service": "ups",
    "ups ground": "ups",
    "ups mail innovations": "ups",
    "united states postal service": "usps",
    "us postal service": "usps",
    "u.s. postal service": "usps",
    "usps first class": "usps",
    "usps priority mail": "usps",
    "fed ex": "fedex",
    "federal express": "fedex",
    "fedex ground": "fedex",
    "fedex express": "fedex",
    "fedex smartpost": "fedex",
    "dhl express": "dhl",
    "dhl worldwide express": "dhl",
    "dhl ecommerce": "dhl_ecommerce",
    "dhl e-commerce": "dhl_ecommerce",
    "dhl global mail": "dhl_ecommerce",
    "dhl parcel": "deutsche_post",
    "dhl paket": "deutsche_post",
    "deutsche post dhl": "deutsche_post",
    "amazon": "amazon",
    "amazon logistics": "amazon",
    "amazon shipping": "amazon",
    "royal mail": "royal_mail",
    "royalmail": "royal_mail",
    "royal mail tracked 24": "royal_mail",
    "royal mail tracked 48": "royal_mail",
    "royal mail special delivery": "royal_mail",
    "parcel force": "parcelforce",
    "parcelforce worldwide": "parcelforce",
    "la poste": "la_poste",
    "colissimo": "la_poste",
    "chronopost": "la_poste",
    "china post": "china_post",
    "china ems": "china_post",
    "canada post": "canada_post",
    "postes canada": "canada_post",
    "australia post": "australia_post",
    "auspost": "australia_post",
    "japan post": "japan_post",
    "correos": "correos",
    "poste italiane": "poste_italiane",
    "postnl": "postnl",
    "post nl": "postnl",
    "bpost": "bpost",
    "swiss post": "swiss_post",
    "post ch": "swiss_post",
    "austrian post": "austrian_post",
    "österreichische post": "austrian_post",
    "postnord": "postnord",
    "an post": "an_post",
    "correios": "correios",
    "india post": "india_post",
    "korea post": "korea_post",
    "singapore post": "singapore_post",
    "singpost": "singapore_post",
    "hongkong post": "hongkong_post",
    "hong kong post": "hongkong_post",
    "nz post": "nz_post",
    "new zealand post": "nz_post",
    "posti": "posti",
    "poczta polska": "poczta_polska",
    "ceska posta": "ceska_posta",
    "česká pošta": "ceska_posta",
    "correos de mexico": "mexico_post",
    "correos de méxico": "mexico_post",
    "ontrac": "ontrac",
    "lasership": "lasership",
    "dpd": "dpd",
    "dpd uk": "dpd",
    "gls": "gls",
    "evri": "evri",
    "hermes": "evri",
    "hermes uk": "evri",
    "yodel": "yodel",
    "purolator": "purolator",
    "tnt": "tnt",
    "aramex": "aramex",
    "sandbox": "sandbox",
}


def _key(name: str) -> str:
    return re.sub(r"[\s_\-.]+", " ", name.strip().casefold()).strip()


def carrier_code(name: str | None) -> str | None:
    """An orderdeck carrier code from a name in a file, or None if it is not known."""
    if not name or not name.strip():
        return None
    key = _key(name)
    code = key.replace(" ", "_")
    if code in CARRIERS:
        return code
    if key in _ALIASES:
        return _ALIASES[key]
    # "UPS Ground Saver", "Royal Mail 1st Class": the longest known prefix wins.
    for alias in sorted(_ALIASES, key=len, reverse=True):
        if key.startswith(alias + " "):
            return _ALIASES[alias]
    for known in sorted(CARRIERS, key=len, reverse=True):
        if key.startswith(known.replace("_", " ") + " "):
            return known
    return None
