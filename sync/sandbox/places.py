"""Real cities the sandbox routes parcels through, grouped by network.

Each network has shipper cities (where labels are printed), sorting hubs and
delivery cities; a parcel goes origin -> one to three hubs -> destination, and
every scan carries the local time of the city it happened in.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Place:
    city: str
    region: str | None
    country: str
    tz: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def as_dict(self) -> dict[str, str | None]:
        return {"city": self.city, "region": self.region, "country": self.country}


@dataclass(frozen=True)
class Network:
    name: str
    cities: tuple[Place, ...]
    hubs: tuple[Place, ...]
    #: Hours a truck or plane takes between two stops.
    leg_hours: tuple[float, float]


def _us(city: str, state: str, tz: str) -> Place:
    return Place(city, state, "US", f"America/{tz}")


_ET, _CT, _MT, _PT, _AZ = "New_York", "Chicago", "Denver", "Los_Angeles", "Phoenix"

US = Network(
    "US",
    cities=(
        _us("New York", "NY", _ET),
        _us("Brooklyn", "NY", _ET),
        _us("Newark", "NJ", _ET),
        _us("Philadelphia", "PA", _ET),
        _us("Boston", "MA", _ET),
        _us("Baltimore", "MD", _ET),
        _us("Charlotte", "NC", _ET),
        _us("Atlanta", "GA", _ET),
        _us("Orlando", "FL", _ET),
        _us("Miami", "FL", _ET),
        _us("Columbus", "OH", _ET),
        _us("Detroit", "MI", "Detroit"),
        _us("Chicago", "IL", _CT),
        _us("Minneapolis", "MN", _CT),
        _us("Nashville", "TN", _CT),
        _us("Kansas City", "MO", _CT),
        _us("Dallas", "TX", _CT),
        _us("Houston", "TX", _CT),
        _us("Austin", "TX", _CT),
        _us("Denver", "CO", _MT),
        _us("Salt Lake City", "UT", _MT),
        _us("Phoenix", "AZ", _AZ),
        _us("Las Vegas", "NV", _PT),
        _us("Los Angeles", "CA", _PT),
        _us("San Diego", "CA", _PT),
        _us("San Francisco", "CA", _PT),
        _us("Portland", "OR", _PT),
        _us("Seattle", "WA", _PT),
    ),
    hubs=(
        _us("Memphis", "TN", _CT),
        _us("Louisville", "KY", "Kentucky/Louisville"),
        _us("Indianapolis", "IN", "Indiana/Indianapolis"),
        _us("Hodgkins", "IL", _CT),
        _us("Ontario", "CA", _PT),
        _us("Fort Worth", "TX", _CT),
        _us("Jacksonville", "FL", _ET),
        _us("Allentown", "PA", _ET),
    ),
    leg_hours=(5.0, 14.0),
)


def _uk(city: str, region: str) -> Place:
    return Place(city, region, "GB", "Europe/London")


UK = Network(
    "UK",
    cities=(
        _uk("London", "England"),
        _uk("Birmingham", "England"),
        _uk("Manchester", "England"),
        _uk("Leeds", "England"),
        _uk("Liverpool", "England"),
        _uk("Bristol", "England"),
        _uk("Sheffield", "England"),
        _uk("Newcastle upon Tyne", "England"),
        _uk("Brighton", "England"),
        _uk("Glasgow", "Scotland"),
        _uk("Edinburgh", "Scotland"),
        _uk("Aberdeen", "Scotland"),
        _uk("Cardiff", "Wales"),
        _uk("Swansea", "Wales"),
        Place("Belfast", "Northern Ireland", "GB", "Europe/London"),
    ),
    hubs=(
        _uk("Coventry", "England"),
        _uk("Northampton", "England"),
        _uk("Warrington", "England"),
        _uk("Heathrow", "England"),
        _uk("Bellshill", "Scotland"),
    ),
    leg_hours=(3.0, 9.0),
)


def _eu(city: str, country: str, tz: str, region: str | None = None) -> Place:
    return Place(city, region, country, f"Europe/{tz}")


EU = Network(
    "EU",
    cities=(
        _eu("Paris", "FR", "Paris", "Île-de-France"),
        _eu("Lyon", "FR", "Paris", "Auvergne-Rhône-Alpes"),
        _eu("Marseille", "FR", "Paris", "Provence-Alpes-Côte d'Azur"),
        _eu("Berlin", "DE", "Berlin", "Berlin"),
        _eu("Hamburg", "DE", "Berlin", "Hamburg"),
        _eu("München", "DE", "Berlin", "Bayern"),
        _eu("Köln", "DE", "Berlin", "Nordrhein-Westfalen"),
        _eu("Amsterdam", "NL", "Amsterdam", "Noord-Holland"),
        _eu("Rotterdam", "NL", "Amsterdam", "Zuid-Holland"),
        _eu("Bruxelles", "BE", "Brussels"),
        _eu("Madrid", "ES", "Madrid"),
        _eu("Barcelona", "ES", "Madrid", "Catalunya"),
        _eu("Milano", "IT", "Rome", "Lombardia"),
        _eu("Roma", "IT", "Rome", "Lazio"),
        _eu("Wien", "AT", "Vienna"),
        _eu("Warszawa", "PL", "Warsaw"),
        _eu("Praha", "CZ", "Prague"),
        _eu("København", "DK", "Copenhagen"),
        _eu("Stockholm", "SE", "Stockholm"),
        _eu("Dublin", "IE", "Dublin"),
        _eu("Lisboa", "PT", "Lisbon"),
    ),
    hubs=(
        _eu("Leipzig", "DE", "Berlin", "Sachsen"),
        _eu("Frankfurt am Main", "DE", "Berlin", "Hessen"),
        _eu("Roissy-en-France", "FR", "Paris", "Île-de-France"),
        _eu("Liège", "BE", "Brussels"),
        _eu("Venlo", "NL", "Amsterdam", "Limburg"),
    ),
    leg_hours=(4.0, 12.0),
)

NETWORKS: tuple[Network, ...] = (US, UK, EU)
#: How often each network is drawn, out of 100.
NETWORK_WEIGHTS: tuple[int, ...] = (50, 25, 25)
