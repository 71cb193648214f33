"""orderdeck's carrier codes: who moves parcels, their names, their public tracking pages.

A shipment's ``carrier`` is always one of these codes (or a code a third-party
adapter adds). Names found in shop exports ("UPS", "United Parcel Service",
"Royal Mail Tracked 24") are mapped here with :func:`carrier_code`.
"""

from __future__ import annotations

import re
from urllib.parse import quote

#: code -> (display name, public tracking URL with {number}, or "")
CARRIERS: dict[str, tuple[str, str]] = {
    "ups": ("UPS", "https://www.ups.com/track?tracknum={number}"),
    "usps": ("USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}"),
    "fedex": ("FedEx", "https://www.fedex.com/fedextrack/?trknbr={number}"),
    "dhl": ("DHL Express", "https://www.dhl.com/global-en/home/tracking.html?tracking-id={number}"),
    "dhl_ecommerce": (
        "DHL eCommerce",
        "https://webtrack.dhlecs.com/orders?trackingNumber={number}",
    ),
    "amazon": ("Amazon Logistics", "https://track.amazon.com/tracking/{number}"),
    "royal_mail": (
        "Royal Mail",
        "https://www.royalmail.com/track-your-item#/tracking-results/{number}",
    ),
    "parcelforce": ("Parcelforce", "https://www.parcelforce.com/track-trace?trackNumber={number}"),
    "deutsche_post": (
        "Deutsche Post",
        "https://www.deutschepost.de/de/s/sendungsverfolgung.html?piececode={number}",
    ),
    "la_poste": (
        "La Poste / Colissimo",
        "https://www.laposte.fr/outils/suivre-vos-envois?code={number}",
    ),
    "china_post": ("China Post", "https://yjcx.ems.com.cn/qps/english/yjcx?mailNum={number}"),
    "canada_post": (
        "Canada Post",
        "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={number}",
    ),
    "australia_post": ("Australia Post", "https://auspost.com.au/mypost/track/#/details/{number}"),
    "japan_post": (
        "Japan Post",
        "https://trackings.post.japanpost.jp/services/srv/search/?requestNo1={number}&locale=en",
    ),
    "correos": (
        "Correos",
        "https://www.correos.es/es/en/tools/tracker/items/details?tracking-number={number}",
    ),
    "poste_italiane": (
        "Poste Italiane",
        "https://www.poste.it/cerca/index.html#/risultati-spedizioni/{number}",
    ),
    "postnl": ("PostNL", "https://postnl.nl/tracktrace/?B={number}"),
    "bpost": ("bpost", "https://track.bpost.cloud/btr/web/#/search?itemCode={number}"),
    "swiss_post": ("Swiss Post", "https://service.post.ch/ekp-web/ui/entry/search/{number}"),
    "austrian_post": ("Austrian Post", "https://www.post.at/s/sendungsdetails?snr={number}"),
    "postnord": ("PostNord", "https://www.postnord.com/track-and-trace?shipmentId={number}"),
    "an_post": ("An Post", "https://www.anpost.com/Post-Parcels/Track/History?item={number}"),
    "correios": ("Correios", "https://rastreamento.correios.com.br/app/index.php?objeto={number}"),
    "india_post": ("India Post", ""),
    "korea_post": ("Korea Post", ""),
    "singapore_post": (
        "Singapore Post",
        "https://www.singpost.com/track-items?trackingid={number}",
    ),
    "hongkong_post": ("Hongkong Post", ""),
    "nz_post": ("NZ Post", "https://www.nzpost.co.nz/tools/tracking/item/{number}"),
    "posti": ("Posti", "https://www.posti.fi/en/tracking#/lahetys/{number}"),
    "poczta_polska": ("Poczta Polska", ""),
    "ceska_posta": ("Česká pošta", ""),
    "mexico_post": ("Correos de México", ""),
    "ontrac": ("OnTrac", "https://www.ontrac.com/tracking/?number={number}"),
    "lasership": ("LaserShip", ""),
    "dpd": ("DPD", "https://tracking.dpd.de/status/en_US/parcel/{number}"),
    "gls": ("GLS", "https://gls-group.com/track/{number}"),
    "evri": ("Evri", "https://www.evri.com/track/parcel/{number}"),
    "yodel": ("Yodel", "https://www.yodel.co.uk/tracking/{number}"),
    "purolator": ("Purolator", "https://www.purolator.com/en/shipping/tracker?pin={number}"),
    "tnt": (
        "TNT",
        "https://www.tnt.com/express/en_gc/site/shipping-tools/tracking.html?cons={number}",
    ),
    "aramex": ("Aramex", "https://www.aramex.com/track/results?ShipmentNumber={number}"),
    "sandbox": ("Sandbox carrier", ""),
}

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


def carrier_name(code: str | None) -> str:
    if not code:
        return "unknown carrier"
    return CARRIERS.get(code, (code, ""))[0]


def tracking_url(code: str | None, number: str) -> str | None:
    if not code or code not in CARRIERS or not CARRIERS[code][1]:
        return None
    return CARRIERS[code][1].format(number=quote(number, safe=""))
