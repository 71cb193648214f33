"""Made-up shop data: orders as a real Shopify order export, and their tracking file.

``orderdeck demo`` drops these files into its drop folder so the real ingest brings
them in; benchmarks can use them the same way. A small shop's mix: customers in the
US, the UK and Germany, one to three line items, most with a phone number, a few
orders not shipped yet. Tracking numbers are in their carrier's real format with a
valid check digit (``orderdeck detect`` agrees with the carrier column), and the
sandbox carrier serves every one of them: it draws each number's life from its
digits (docs/sandbox.md).
"""

from __future__ import annotations

import csv
import os
import random
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sync.carriers import checkdigits

#: The 79 columns of Shopify's order export ("Export orders" in the Shopify admin),
#: in Shopify's order.
SHOPIFY_EXPORT_HEADER: tuple[str, ...] = (
    "Name",
    "Email",
    "Financial Status",
    "Paid at",
    "Fulfillment Status",
    "Fulfilled at",
    "Accepts Marketing",
    "Currency",
    "Subtotal",
    "Shipping",
    "Taxes",
    "Total",
    "Discount Code",
    "Discount Amount",
    "Shipping Method",
    "Created at",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem compare at price",
    "Lineitem sku",
    "Lineitem requires shipping",
    "Lineitem taxable",
    "Lineitem fulfillment status",
    "Billing Name",
    "Billing Street",
    "Billing Address1",
    "Billing Address2",
    "Billing Company",
    "Billing City",
    "Billing Zip",
    "Billing Province",
    "Billing Country",
    "Billing Phone",
    "Shipping Name",
    "Shipping Street",
    "Shipping Address1",
    "Shipping Address2",
    "Shipping Company",
    "Shipping City",
    "Shipping Zip",
    "Shipping Province",
    "Shipping Country",
    "Shipping Phone",
    "Notes",
    "Note Attributes",
    "Cancelled at",
    "Payment Method",
    "Payment Reference",
    "Refunded Amount",
    "Vendor",
    "Outstanding Balance",
    "Employee",
    "Location",
    "Device ID",
    "Id",
    "Tags",
    "Risk Level",
    "Source",
    "Lineitem discount",
    "Tax 1 Name",
    "Tax 1 Value",
    "Tax 2 Name",
    "Tax 2 Value",
    "Tax 3 Name",
    "Tax 3 Value",
    "Tax 4 Name",
    "Tax 4 Value",
    "Tax 5 Name",
    "Tax 5 Value",
    "Phone",
    "Receipt Number",
    "Duties",
    "Billing Province Name",
    "Shipping Province Name",
    "Payment ID",
    "Payment Terms Name",
    "Next Payment Due At",
    "Payment References",
)

#: The columns of the tracking file (one row per shipment), as shops' tools write it.
TRACKING_HEADER: tuple[str, ...] = ("Order Number", "Tracking Number", "Carrier", "Ship Date")


# -- tracking numbers in each carrier's format, with valid check digits ------------------


def _digits(rnd: random.Random, n: int) -> str:
    return "".join(rnd.choice("0123456789") for _ in range(n))


def ups_number(rnd: random.Random) -> str:
    """1Z + shipper (6) + service (2) + package (7) + check: 18 characters."""
    shipper = "".join(rnd.choice("0123456789ABCDEFGHJKLMNPRSTUVWXY") for _ in range(6))
    body = shipper + rnd.choice(("01", "02", "03", "12", "13")) + _digits(rnd, 7)
    return f"1Z{body}{checkdigits.mod10(body, (1, 2))}"


def usps_number(rnd: random.Random) -> str:
    """IMpb: 94 (Priority Mail / First-Class with tracking), then 19 digits and a check."""
    body = "9400" + _digits(rnd, 17)
    return body + str(checkdigits.mod10(body))


def fedex_number(rnd: random.Random) -> str:
    """FedEx Express: 11 digits and a mod 11 check."""
    body = rnd.choice("3456789") + _digits(rnd, 10)
    return body + str(checkdigits.mod11_mod10(body))


def dhl_number(rnd: random.Random) -> str:
    """DHL Express waybill: 9 digits and a mod 7 check."""
    body = rnd.choice("123456789") + _digits(rnd, 8)
    return body + str(checkdigits.mod7(body))


def royal_mail_number(rnd: random.Random) -> str:
    """UPU S10 from GB (Royal Mail Tracked): two letters, 8 digits, check, GB."""
    body = _digits(rnd, 8)
    return f"{rnd.choice(('TT', 'RR', 'RB'))}{body}{checkdigits.s10(body)}GB"


@dataclass(frozen=True)
class DemoCarrier:
    #: orderdeck's carrier code (sync/carriers/names.py).
    code: str
    #: What the shop's tracking file calls it.
    label: str
    #: Where this carrier delivers for the shop, and how often it is picked there.
    weights: dict[str, float]
    make_number: Callable[[random.Random], str]


CARRIERS: tuple[DemoCarrier, ...] = (
    DemoCarrier("usps", "USPS", {"US": 0.45}, usps_number),
    DemoCarrier("ups", "UPS", {"US": 0.35, "GB": 0.10, "DE": 0.10}, ups_number),
    DemoCarrier("fedex", "FedEx", {"US": 0.20, "DE": 0.05}, fedex_number),
    DemoCarrier("dhl", "DHL Express", {"DE": 0.85, "GB": 0.15}, dhl_number),
    DemoCarrier("royal_mail", "Royal Mail Tracked 48", {"GB": 0.75}, royal_mail_number),
)

#: Every carrier code the demo data uses (what the sandbox must stand in for).
CARRIER_CODES: tuple[str, ...] = tuple(c.code for c in CARRIERS)


# -- customers and orders ---------------------------------------------------------


@dataclass(frozen=True)
class _Country:
    code: str
    share: float
    currency: str
    #: (city, province code, ZIP / postcode)
    cities: tuple[tuple[str, str, str], ...]
    phone: Callable[[random.Random], str]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]


COUNTRIES: tuple[_Country, ...] = (
    _Country(
        "US",
        0.55,
        "USD",
        (
            ("Denver", "CO", "80202"),
            ("Austin", "TX", "78701"),
            ("Portland", "OR", "97205"),
            ("Chicago", "IL", "60607"),
            ("Brooklyn", "NY", "11201"),
            ("Baltimore", "MD", "21202"),
            ("Atlanta", "GA", "30303"),
            ("Seattle", "WA", "98101"),
        ),
        lambda rnd: (
            f"+1 {rnd.choice(('303', '512', '503', '312', '718', '410'))} "
            f"{rnd.randrange(200, 999)} {rnd.randrange(10**4):04d}"
        ),
        ("Olivia", "Liam", "Emma", "Noah", "Ava", "Mateo", "Sofía", "Elijah", "Zoë", "Aiko"),
        ("Johnson", "García", "Nguyen", "Williams", "Brown", "O'Connor", "Patel", "Kim"),
    ),
    _Country(
        "GB",
        0.25,
        "GBP",
        (
            ("London", "ENG", "N1 9GU"),
            ("Leeds", "ENG", "LS1 4DY"),
            ("Manchester", "ENG", "M1 1AE"),
            ("Bristol", "ENG", "BS1 4DJ"),
            ("Glasgow", "SCT", "G1 1XQ"),
            ("Cardiff", "WLS", "CF10 1EP"),
        ),
        lambda rnd: f"07{rnd.randrange(400, 999)} {rnd.randrange(10**6):06d}",
        ("Oliver", "Amelia", "George", "Isla", "Harry", "Freya", "Siobhán", "Rhys"),
        ("Smith", "Jones", "Taylor", "Davies", "Evans", "Murphy", "Ó Briain", "Khan"),
    ),
    _Country(
        "DE",
        0.20,
        "EUR",
        (
            ("Berlin", "BE", "10115"),
            ("München", "BY", "80331"),
            ("Hamburg", "HH", "20095"),
            ("Köln", "NW", "50667"),
            ("Leipzig", "SN", "04109"),
        ),
        lambda rnd: f"0{rnd.choice(('30', '89', '40', '221'))} {rnd.randrange(10**6, 10**7)}",
        ("Lukas", "Mia", "Jürgen", "Hannah", "Felix", "Lea", "Ørjan", "Emilia"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Wagner"),
    ),
)

STREETS = {
    "US": ("Main St", "Elm Ave", "Oak Street", "Lincoln Blvd"),
    "GB": ("High Street", "Mill Lane", "Station Road", "Church Walk"),
    "DE": ("Hauptstraße", "Parkstraße", "Lindenallee", "Schillerstraße"),
}

PRODUCTS: tuple[tuple[str, str, float], ...] = (
    ("MUG-L", "Stoneware mug, large", 19.95),
    ("MUG-S", "Stoneware mug, small", 15.95),
    ("TEE-BLK-M", "Organic tee — black / M", 29.00),
    ("TEE-WHT-L", "Organic tee — white / L", 29.00),
    ("TOTE-01", "Canvas tote bag", 24.50),
    ("CAP-NVY", "Washed cap, navy", 27.00),
    ("PRINT-A3", "Risograph print A3", 38.00),
    ("SOCK-3PK", "Merino socks (3 pairs)", 32.00),
    ("CANDLE-FIG", "Fig & cedar candle", 34.00),
    ("NOTE-DOT", "Dot-grid notebook", 14.00),
    ("POUCH-XS", "Zip pouch ✨ limited", 18.00),
    ("BOTTLE-75", "Insulated bottle 750 ml", 36.00),
)

NOTES = (
    "Leave at the door, please",
    "Gift — please no invoice in the box",
    "Ring twice\nthe bell is broken",
    "",
)


@dataclass(frozen=True)
class DemoLine:
    sku: str
    name: str
    quantity: int
    price: float


@dataclass(frozen=True)
class DemoOrder:
    number: str  # "#1001"
    shop_id: int  # Shopify's order id
    created_at: datetime
    name: str
    email: str
    phone: str  # "" when the customer gave none
    address: str
    city: str
    province: str
    zip: str
    country: str
    currency: str
    lines: tuple[DemoLine, ...]
    shipping: float
    note: str
    tags: str
    #: None: not shipped yet (the attention queue calls it "unfulfilled" in time).
    carrier: DemoCarrier | None
    tracking_number: str | None
    shipped_at: datetime | None

    @property
    def subtotal(self) -> float:
        return round(sum(line.quantity * line.price for line in self.lines), 2)

    @property
    def total(self) -> float:
        return round(self.subtotal + self.shipping, 2)


def _ascii(text: str) -> str:
    """ "Zoë.Ó Briain" -> "zoe.obriain", for a made-up e-mail address."""
    plain = unicodedata.normalize("NFKD", text.lower().replace("ø", "o").replace("ß", "ss"))
    return "".join(ch for ch in plain if ch.isascii() and (ch.isalnum() or ch == "."))


def _pick_carrier(rnd: random.Random, country: str) -> DemoCarrier:
    choices = [c for c in CARRIERS if country in c.weights]
    return rnd.choices(choices, weights=[c.weights[country] for c in choices])[0]


@dataclass(frozen=True)
class Parcel:
    """What the carrier knows of a tracking number before it moves: when its label
    was created and where it goes (the sandbox's story of the number)."""

    label_at: datetime
    city: str
    region: str | None
    country: str


#: The first digit of a US ZIP code, by state (the national area).
_ZIP_AREA = {
    state: str(digit)
    for digit, states in enumerate(
        (
            "CT MA ME NH NJ PR RI VT",
            "DE NY PA",
            "DC MD NC SC VA WV",
            "AL FL GA MS TN",
            "IN KY MI OH",
            "IA MN MT ND SD WI",
            "IL KS MO NE",
            "AR LA OK TX",
            "AZ CO ID NM NV UT WY",
            "AK CA HI OR WA",
        )
    )
    for state in states.split()
}


def _zip(rnd: random.Random, country: str, region: str | None = None) -> str:
    if country == "US" and region in _ZIP_AREA:
        return f"{_ZIP_AREA[region]}{rnd.randrange(0, 10_000):04d}"
    if country == "GB":
        letters = "ABCDEFGHJKLMNPRSTUWXY"
        return f"{rnd.choice(letters)}{rnd.choice(letters)}{rnd.randrange(1, 20)} {rnd.randrange(10)}{rnd.choice(letters)}{rnd.choice(letters)}"
    return f"{rnd.randrange(10_000, 99_999):05d}"


def _shipment(
    rnd: random.Random, country: str, parcel: Callable[[str], Parcel] | None
) -> tuple[DemoCarrier, str, Parcel | None]:
    """A carrier and a number for a parcel to ``country``; with ``parcel``, a number
    the carrier sends to that country (numbers are drawn until one does)."""
    carrier = _pick_carrier(rnd, country)
    for _ in range(1000):
        number = carrier.make_number(rnd)
        if parcel is None:
            return carrier, number, None
        facts = parcel(number)
        if facts.country == country:
            return carrier, number, facts
    raise ValueError(f"the carrier sends no parcel to {country}")


def generate_orders(
    count: int,
    *,
    now: datetime,
    seed: int = 0,
    first_number: int = 1001,
    unshipped_share: float = 0.05,
    max_age_hours: float = 96.0,
    parcel: Callable[[str], Parcel] | None = None,
) -> list[DemoOrder]:
    """``count`` orders placed before ``now``, numbered oldest first.

    Each shipped order has one shipment; ``unshipped_share`` of them have none yet.
    Orders are placed over the ``max_age_hours`` before ``now`` and shipped 1-20
    hours later. ``parcel(number)``, when given, says what the carrier (the
    sandbox) has planned for a number: the order then ships to the parcel's city
    and is placed 1-20 hours before its label, so the shop's addresses and dates
    and the carrier's scans agree. The same seed gives the same orders.
    """
    if count < 0:
        raise ValueError("the number of orders cannot be negative")
    rnd = random.Random(seed)
    returning: list[tuple[_Country, str, str, str, tuple[str, str, str], str]] = []
    drafts: list[dict[str, Any]] = []
    for _ in range(count):
        if returning and rnd.random() < 0.3:
            country, name, email, phone, place, street = rnd.choice(returning)
        else:
            country = rnd.choices(COUNTRIES, weights=[c.share for c in COUNTRIES])[0]
            first, last = rnd.choice(country.first_names), rnd.choice(country.last_names)
            name = f"{first} {last}"
            email = f"{_ascii(f'{first}.{last}')}{len(returning) + 1}@example.com"
            phone = country.phone(rnd) if rnd.random() < 0.7 else ""
            place = rnd.choice(country.cities)
            street = f"{rnd.randrange(1, 240)} {rnd.choice(STREETS[country.code])}"
            returning.append((country, name, email, phone, place, street))
        picks = rnd.sample(PRODUCTS, rnd.choices((1, 2, 3), (6, 3, 1))[0])
        lines = tuple(
            DemoLine(sku, title, rnd.choices((1, 2, 3), weights=(6, 3, 1))[0], price)
            for sku, title, price in picks
        )
        carrier = number = facts = None
        if rnd.random() >= unshipped_share:
            carrier, number, facts = _shipment(rnd, country.code, parcel)
        if facts is not None:
            known = facts.city == place[0]
            place = (
                facts.city,
                facts.region or "",
                place[2] if known else _zip(rnd, country.code, facts.region),
            )
        lead = timedelta(hours=rnd.uniform(1.0, 20.0))
        shipped_at: datetime | None
        if facts is not None:
            created, shipped_at = facts.label_at - lead, facts.label_at
        else:
            created = now - timedelta(hours=rnd.uniform(0.0, max_age_hours))
            shipped_at = min(now, created + lead) if carrier else None
        drafts.append(
            {
                "created_at": created.replace(microsecond=0),
                "name": name,
                "email": email,
                "phone": phone,
                "address": street,
                "city": place[0],
                "province": place[1],
                "zip": place[2],
                "country": country.code,
                "currency": country.currency,
                "lines": lines,
                "shipping": rnd.choice((0.0, 4.95, 6.5, 12.0)),
                "note": rnd.choice(NOTES) if rnd.random() < 0.15 else "",
                "tags": "vip" if rnd.random() < 0.1 else "",
                "carrier": carrier,
                "tracking_number": number,
                "shipped_at": shipped_at.replace(microsecond=0) if shipped_at else None,
            }
        )
    drafts.sort(key=lambda d: d["created_at"])
    return [
        DemoOrder(number=f"#{first_number + i}", shop_id=5_400_000_000 + first_number + i, **d)
        for i, d in enumerate(drafts)
    ]


# -- files ---------------------------------------------------------------------------


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S %z")


def shopify_rows(order: DemoOrder) -> list[list[str]]:
    """The export's rows of one order: one per line item, order fields on the first."""
    col = {h: i for i, h in enumerate(SHOPIFY_EXPORT_HEADER)}
    rows = []
    for i, line in enumerate(order.lines):
        row = [""] * len(SHOPIFY_EXPORT_HEADER)
        row[col["Name"]] = order.number
        row[col["Email"]] = order.email
        row[col["Lineitem quantity"]] = str(line.quantity)
        row[col["Lineitem name"]] = line.name
        row[col["Lineitem price"]] = f"{line.price:.2f}"
        row[col["Lineitem sku"]] = line.sku
        row[col["Lineitem requires shipping"]] = "true"
        row[col["Lineitem taxable"]] = "true"
        row[col["Lineitem fulfillment status"]] = "fulfilled" if order.carrier else "pending"
        row[col["Vendor"]] = "Demo Goods Co."
        if i == 0:
            stamp = _stamp(order.created_at)
            values = {
                "Financial Status": "paid",
                "Paid at": stamp,
                "Fulfillment Status": "fulfilled" if order.carrier else "unfulfilled",
                "Fulfilled at": _stamp(order.shipped_at) if order.shipped_at else "",
                "Accepts Marketing": "no",
                "Currency": order.currency,
                "Subtotal": f"{order.subtotal:.2f}",
                "Shipping": f"{order.shipping:.2f}",
                "Taxes": "0.00",
                "Total": f"{order.total:.2f}",
                "Shipping Method": "Standard" if order.shipping < 10 else "Express",
                "Created at": stamp,
                "Billing Name": order.name,
                "Billing Street": order.address,
                "Billing Address1": order.address,
                "Billing City": order.city,
                "Billing Zip": order.zip,
                "Billing Province": order.province,
                "Billing Country": order.country,
                "Billing Phone": order.phone,
                "Shipping Name": order.name,
                "Shipping Street": order.address,
                "Shipping Address1": order.address,
                "Shipping City": order.city,
                "Shipping Zip": order.zip,
                "Shipping Province": order.province,
                "Shipping Country": order.country,
                "Shipping Phone": order.phone,
                "Notes": order.note,
                "Payment Method": "Shopify Payments",
                "Outstanding Balance": "0.00",
                "Id": str(order.shop_id),
                "Tags": order.tags,
                "Risk Level": "Low",
                "Source": "web",
                "Phone": order.phone,
            }
            for key, value in values.items():
                row[col[key]] = value
        rows.append(row)
    return rows


def _write_atomically(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Write under a ``.part`` name, then rename: a drop folder never takes half a file."""
    partial = path.with_name(path.name + ".part")
    with open(partial, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def write_shopify_export(path: Path, orders: Iterable[DemoOrder]) -> None:
    _write_atomically(
        path, SHOPIFY_EXPORT_HEADER, (row for order in orders for row in shopify_rows(order))
    )


def write_tracking_file(path: Path, orders: Iterable[DemoOrder]) -> int:
    """The shipped orders' tracking rows; returns how many were written."""
    rows = [
        (o.number, o.tracking_number, o.carrier.label, o.shipped_at.strftime("%Y-%m-%d"))
        for o in orders
        if o.carrier and o.tracking_number and o.shipped_at
    ]
    _write_atomically(path, TRACKING_HEADER, rows)
    return len(rows)
