"""The life of a sandbox parcel, decided once from its number and the seed.

:func:`build_story` draws, from a generator seeded by (seed, tracking number),
which life the parcel leads and every detail of it: where it goes, through
which hubs, when each scan happens (in the local time of its city), what the
carrier promises and when it changes its mind. The same number and seed always
give the same story, and a story never looks at the clock: :meth:`Story.view`
shows what a carrier would know at a given moment.

A number can ask for a life: ``SB`` followed by a story name, e.g.
``SBSTALLED001`` or ``SB-RETURNED-7`` (see :data:`FORCED`).
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sync.sandbox.places import NETWORK_WEIGHTS, NETWORKS, Network, Place

#: Every life a parcel can lead, and how often each is drawn (out of 100).
KINDS: dict[str, int] = {
    "delivered": 50,
    "failed_attempt": 8,
    "available_for_pickup": 4,
    "exception": 6,
    "stalled": 6,
    "returned": 4,
    "delayed": 8,
    "missed_estimate": 6,
    "never_picked_up": 4,
    "unknown": 4,
}

#: ``SB<NAME>...`` numbers lead the life named here, whatever the draw says.
FORCED: dict[str, str] = {
    "DELIVERED": "delivered",
    "FAILED": "failed_attempt",
    "PICKUP": "available_for_pickup",
    "EXCEPTION": "exception",
    "STALLED": "stalled",
    "RETURNED": "returned",
    "DELAYED": "delayed",
    "MISSED": "missed_estimate",
    "NOPICKUP": "never_picked_up",
    "UNKNOWN": "unknown",
}

#: The sandbox carrier's event codes (its API documents these).
CODES: dict[str, str] = {
    "LC": "Shipping label created, awaiting item",
    "PU": "Picked up",
    "DF": "Departed facility",
    "IT": "In transit",
    "AF": "Arrived at facility",
    "DE": "Delayed",
    "OD": "Out for delivery",
    "FA": "Delivery attempted",
    "AP": "Available for pickup",
    "DL": "Delivered",
    "EX": "Exception",
    "RS": "Returning to sender",
    "RT": "Returned to sender",
}

_SERVICES = {
    "US": ("Ground", "Ground", "2nd Day Air", "Priority Mail"),
    "UK": ("Tracked 48", "Tracked 24", "Express 24", "Standard Parcel"),
    "EU": ("Standard", "Standard", "Express", "Economy Select"),
}
_DELIVERED = (
    "Left at front door",
    "Handed to resident",
    "Delivered to mailroom",
    "Delivered to neighbour",
    "Left in parcel locker",
    "Left in safe place",
)
_ATTEMPT = (
    "No one available to sign",
    "Business closed",
    "No safe place to leave the parcel",
    "Access to delivery location not possible",
)
_EXCEPTION = (
    "Damaged in transit, awaiting inspection",
    "Address information incomplete, contacting recipient",
    "Missorted, rerouting to the correct facility",
)
_DELAY = (
    "Severe weather in the region",
    "Late trailer arrival at the facility",
    "Exceptionally high parcel volumes",
)
_RETURN = (
    "Refused by recipient",
    "Undeliverable: address not found",
    "Not collected from the pickup point",
)

_NORMALIZE = re.compile(r"[\s\-]+")
VALID_NUMBER = re.compile(r"^[A-Z0-9]{4,40}$")

#: A promise is for the end of the local delivery day.
_END_OF_DAY = time(20, 0)


def normalize(number: str) -> str:
    return _NORMALIZE.sub("", number).upper()


def forced_kind(number: str) -> str | None:
    if not number.startswith("SB"):
        return None
    for name in sorted(FORCED, key=len, reverse=True):
        if number.startswith("SB" + name):
            return FORCED[name]
    return None


@dataclass(frozen=True)
class StoryEvent:
    at: datetime
    code: str
    description: str
    place: Place | None
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        zone = self.place.zone if self.place else UTC
        return {
            "time": self.at.astimezone(zone).isoformat(),
            "code": self.code,
            "description": self.description,
            "detail": self.detail,
            "location": self.place.as_dict() if self.place else None,
        }


@dataclass(frozen=True)
class EtaChange:
    #: From when the carrier says so.
    at: datetime
    eta: datetime | None


@dataclass(frozen=True)
class Story:
    tracking_number: str
    kind: str
    service: str
    origin: Place
    destination: Place
    #: The label's creation: before it the number is unknown (404).
    created: datetime
    events: tuple[StoryEvent, ...]
    etas: tuple[EtaChange, ...]
    weight_kg: float = 1.0

    def known(self, now: datetime) -> bool:
        return self.kind != "unknown" and now >= self.created

    def eta_at(self, now: datetime) -> datetime | None:
        eta = None
        for change in self.etas:
            if change.at <= now:
                eta = change.eta
        return eta

    def view(self, now: datetime) -> dict[str, Any] | None:
        """What the carrier's API says at ``now``; None while it does not know the number."""
        if not self.known(now):
            return None
        seen = [e for e in self.events if e.at <= now]
        latest = seen[-1]
        eta = self.eta_at(now)
        return {
            "tracking_number": self.tracking_number,
            "carrier": "sandbox",
            "service": self.service,
            "status": {"code": latest.code, "description": latest.description},
            "estimated_delivery": (
                eta.astimezone(self.destination.zone).isoformat() if eta else None
            ),
            "returned": any(e.code in ("RS", "RT") for e in seen),
            "weight_kg": self.weight_kg,
            "origin": self.origin.as_dict(),
            "destination": self.destination.as_dict(),
            "events": [e.as_dict() for e in reversed(seen)],
        }

    def as_dict(self) -> dict[str, Any]:
        """The whole life, future included (the sandbox's debug endpoint)."""
        return {
            "tracking_number": self.tracking_number,
            "story": self.kind,
            "service": self.service,
            "created": self.created.isoformat(),
            "origin": self.origin.as_dict(),
            "destination": self.destination.as_dict(),
            "events": [{"at": e.at.isoformat(), **e.as_dict()} for e in self.events],
            "estimates": [
                {"from": c.at.isoformat(), "eta": c.eta.isoformat() if c.eta else None}
                for c in self.etas
            ],
        }

    def first(self, code: str) -> StoryEvent:
        """The first event with ``code`` (tests and docs find moments with it)."""
        for event in self.events:
            if event.code == code:
                return event
        raise KeyError(f"{self.tracking_number} ({self.kind}) has no {code} event")


@dataclass
class _Builder:
    rng: random.Random
    network: Network
    t: datetime
    events: list[StoryEvent] = field(default_factory=list)
    etas: list[EtaChange] = field(default_factory=list)

    def scan(
        self, code: str, place: Place, description: str | None = None, detail: str | None = None
    ) -> None:
        at = self.t.replace(second=0, microsecond=0)
        if self.events and at < self.events[-1].at:
            at = self.events[-1].at
        self.events.append(StoryEvent(at, code, description or CODES[code], place, detail))

    def wait(self, low_hours: float, high_hours: float) -> None:
        self.t += timedelta(hours=self.rng.uniform(low_hours, high_hours))

    def local_slot(
        self, place: Place, low: float, high: float, *, skip_sunday: bool = True
    ) -> datetime:
        """The next moment between ``low`` and ``high`` o'clock, local time, after ``t``."""
        zone = place.zone
        local = self.t.astimezone(zone)
        hours = self.rng.uniform(low, high)
        day = local.date()
        for _ in range(8):
            candidate = datetime.combine(day, time(0), tzinfo=zone) + timedelta(hours=hours)
            if candidate > local and not (skip_sunday and candidate.weekday() == 6):
                return candidate.astimezone(UTC)
            day += timedelta(days=1)
        raise AssertionError("no slot within a week")  # pragma: no cover

    def end_of_day(self, place: Place, when: datetime, extra_days: int = 0) -> datetime:
        local = when.astimezone(place.zone)
        day = local.date() + timedelta(days=extra_days)
        if day.weekday() == 6:
            day += timedelta(days=1)
        return datetime.combine(day, _END_OF_DAY, tzinfo=place.zone).astimezone(UTC)

    def promise(self, eta: datetime | None) -> None:
        if self.etas and self.etas[-1].eta == eta:
            return
        self.etas.append(EtaChange(self.t.replace(second=0, microsecond=0), eta))

    def travel(
        self,
        stops: list[Place],
        start: Place,
        on_arrival: Callable[[int, Place], None] | None = None,
    ) -> Place:
        here = start
        for index, stop in enumerate(stops):
            self.wait(0.5, 3.0)
            self.scan("DF", here)
            low, high = self.network.leg_hours
            self.wait(low, high)
            if high > 8 and self.rng.random() < 0.5:
                self.t -= timedelta(hours=self.rng.uniform(1.0, 3.0))
                self.scan("IT", here, "In transit to the next facility")
                self.wait(1.0, 3.0)
            is_last = index == len(stops) - 1
            self.scan("AF", stop, "Arrived at delivery facility" if is_last else None)
            here = stop
            if on_arrival is not None:
                on_arrival(index, stop)
        return here


def build_story(number: str, *, seed: int, epoch: datetime, spread_hours: float) -> Story:
    """The whole life of ``number``; deterministic in (number, seed, epoch, spread)."""
    number = normalize(number)
    digest = hashlib.sha256(f"{seed}\x1f{number}".encode()).digest()
    rng = random.Random(digest)
    kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
    kind = forced_kind(number) or kind
    created = (epoch - timedelta(hours=rng.uniform(0.0, spread_hours))).replace(
        second=0, microsecond=0
    )
    network = rng.choices(NETWORKS, weights=NETWORK_WEIGHTS)[0]
    origin, destination = rng.sample(network.cities, 2)
    hubs = rng.sample(network.hubs, rng.randint(1, min(3, len(network.hubs))))
    service = rng.choice(_SERVICES[network.name])
    weight = round(rng.uniform(0.2, 12.0), 1)
    b = _Builder(rng, network, created)
    b.scan("LC", origin)

    def story() -> Story:
        return Story(
            tracking_number=number,
            kind=kind,
            service=service,
            origin=origin,
            destination=destination,
            created=created,
            events=tuple(b.events),
            etas=tuple(b.etas),
            weight_kg=weight,
        )

    if kind in ("unknown", "never_picked_up"):
        return story()

    b.t = b.local_slot(origin, 13.0, 19.0)
    b.scan("PU", origin)
    pickup = b.t
    planned_legs = len(hubs) + 1
    planned = pickup + timedelta(hours=planned_legs * sum(network.leg_hours) / 2 + 30)
    b.promise(b.end_of_day(destination, planned))

    incident_leg = rng.randrange(0, planned_legs - 1) if planned_legs > 1 else 0

    mean_leg = sum(network.leg_hours) / 2

    def revise(index: int) -> None:
        """A new promise, from here: the legs still to go and a day to deliver."""
        remaining = (planned_legs - index - 1) * mean_leg + 30
        eta = b.end_of_day(destination, b.t + timedelta(hours=remaining))
        original = b.etas[0].eta
        if original is not None:
            eta = max(eta, b.end_of_day(destination, original, extra_days=1))
        b.promise(eta)

    def incident(index: int, place: Place) -> None:
        if index != incident_leg or index == planned_legs - 1:
            return
        if kind == "exception":
            b.wait(0.5, 4.0)
            b.scan("EX", place, detail=rng.choice(_EXCEPTION))
            b.wait(26.0, 70.0)
            b.scan("IT", place, "Exception resolved, back in transit")
            revise(index)
        elif kind == "stalled":
            b.wait(24 * 6, 24 * 9)
            revise(index)
        elif kind == "delayed":
            b.wait(1.0, 5.0)
            b.scan("DE", place, detail=rng.choice(_DELAY))
            revise(index)
            b.wait(20.0, 44.0)
        elif kind == "missed_estimate":
            b.wait(30.0, 54.0)

    route = [*hubs, destination]
    if kind in ("exception", "stalled", "delayed", "missed_estimate") and planned_legs == 1:
        # One leg leaves no hub to have the incident at: add one.
        route = [*hubs, *rng.sample([h for h in network.hubs if h not in hubs], 1), destination]
        planned_legs = len(route)
        incident_leg = 0
    b.travel(route, origin, incident)

    b.t = b.local_slot(destination, 7.0, 9.5)
    b.scan("OD", destination)
    b.wait(1.0, 8.0)

    if kind in ("failed_attempt", "available_for_pickup", "returned"):
        b.scan("FA", destination, detail=rng.choice(_ATTEMPT))
        b.promise(b.end_of_day(destination, b.t, extra_days=1))
        b.t = b.local_slot(destination, 7.0, 9.5)
        b.scan("OD", destination)
        b.wait(1.0, 8.0)
        if kind == "failed_attempt":
            b.scan("DL", destination, detail=rng.choice(_DELIVERED))
        else:
            b.scan("FA", destination, detail=rng.choice(_ATTEMPT))
            refused = kind == "returned" and rng.random() < 0.5
            if refused:
                # Refused at the door or no such address: straight back.
                b.t = b.local_slot(destination, 8.0, 12.0)
                b.scan("RS", destination, detail=rng.choice(_RETURN[:2]))
                b.promise(None)
            else:
                b.wait(1.0, 4.0)
                b.scan("AP", destination, detail=f"Post office, {destination.city}")
                b.promise(None)
            if kind == "available_for_pickup":
                b.t = b.local_slot(destination, 10.0, 18.0) + timedelta(days=rng.randint(0, 3))
                b.scan("DL", destination, "Delivered", detail="Collected from the pickup point")
            else:
                if not refused:
                    b.wait(24 * 5, 24 * 8)
                    b.scan("RS", destination, detail=_RETURN[2])
                b.travel([*reversed(hubs), origin], destination)
                b.t = b.local_slot(origin, 9.0, 17.0)
                b.scan("RT", origin, detail="Returned to the shipper")
        return _finish(b, story, kind, destination)

    b.scan("DL", destination, detail=rng.choice(_DELIVERED))
    return _finish(b, story, kind, destination)


def _finish(b: _Builder, story: Callable[[], Story], kind: str, destination: Place) -> Story:
    delivered = next((e.at for e in reversed(b.events) if e.code == "DL"), None)
    if delivered is not None and b.etas:
        first = b.etas[0]
        if kind == "missed_estimate":
            # The promise passes a day or two before the parcel arrives, unrevised.
            eta = b.end_of_day(destination, delivered - timedelta(days=b.rng.randint(1, 2)))
            eta = max(eta, first.at + timedelta(hours=12))
            b.etas[0] = EtaChange(first.at, eta)
        elif kind == "delivered":
            # A promise that holds: never earlier than the day it was kept.
            if first.eta is not None and delivered > first.eta:
                b.etas[0] = EtaChange(first.at, b.end_of_day(destination, delivered))
        elif kind in ("exception", "stalled", "delayed", "failed_attempt"):
            last = b.etas[-1]
            if last.eta is not None and delivered > last.eta:
                b.etas[-1] = EtaChange(last.at, b.end_of_day(destination, delivered))
    return story()


class World:
    """Every parcel's story under one seed, built on first use and kept."""

    def __init__(self, *, seed: int, epoch: datetime, spread_hours: float) -> None:
        self.seed = seed
        self.epoch = epoch
        self.spread_hours = spread_hours
        self._stories: dict[str, Story] = {}

    def story(self, number: str) -> Story:
        number = normalize(number)
        found = self._stories.get(number)
        if found is None:
            found = build_story(
                number, seed=self.seed, epoch=self.epoch, spread_hours=self.spread_hours
            )
            if len(self._stories) > 200_000:
                self._stories.clear()
            self._stories[number] = found
        return found
