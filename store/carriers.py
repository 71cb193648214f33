"""Carrier codes, display names and public tracking pages.

The table lives in ``store`` because every room shows carriers: the sync engine
maps names from exports to these codes (:mod:`sync.carriers.names`), and the
notifiers name the carrier and link its tracking page in customer messages.
"""

from __future__ import annotations

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


def carrier_name(code: str | None) -> str:
    if not code:
        return "unknown carrier"
    return CARRIERS.get(code, (code, ""))[0]


def tracking_url(code: str | None, number: str) -> str | None:
    if not code or code not in CARRIERS or not CARRIERS[code][1]:
        return None
    return CARRIERS[code][1].format(number=quote(number, safe=""))
