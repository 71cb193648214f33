"""The sandbox's parcel lives: deterministic, realistic, and each story as documented."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest

from sync.sandbox.stories import CODES, FORCED, KINDS, build_story, forced_kind, normalize

from .conftest import T0


def story(number: str, seed: int = 3, spread: float = 0.0):  # type: ignore[no-untyped-def]
    return build_story(number, seed=seed, epoch=T0, spread_hours=spread)


def codes(s) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.code for e in s.events]


def test_same_number_and_seed_same_story() -> None:
    a, b = story("1Z999AA10123456784"), story("1Z999AA10123456784")
    assert a == b
    assert story("1z999aa1-0123 456784") == a  # spaces, dashes and case do not matter


def test_another_seed_or_number_gives_another_story() -> None:
    base = story("ABC12345", seed=1)
    assert story("ABC12345", seed=2) != base
    assert story("ABC12346", seed=1) != base


def test_every_kind_is_drawn_roughly_as_often_as_documented() -> None:
    drawn = Counter(story(f"N{i:06d}", seed=5).kind for i in range(4000))
    assert set(drawn) == set(KINDS)
    for kind, weight in KINDS.items():
        share = drawn[kind] / 4000 * 100
        assert abs(share - weight) < max(3.0, weight * 0.4), (kind, share)


@pytest.mark.parametrize(("prefix", "kind"), sorted(FORCED.items()))
def test_a_number_can_ask_for_its_life(prefix: str, kind: str) -> None:
    assert forced_kind(normalize(f"sb-{prefix.lower()}-42")) == kind
    assert story(f"SB{prefix}42").kind == kind


def test_events_are_in_order_with_cities_and_local_offsets() -> None:
    for i in range(200):
        s = story(f"ORD{i}", spread=48)
        assert s.created <= T0
        times = [e.at for e in s.events]
        assert times == sorted(times)
        for event in s.events:
            assert event.code in CODES
            assert event.place is not None and event.place.city
            # Each scan is shown in its city's local time, with the offset.
            shown = datetime.fromisoformat(event.as_dict()["time"])
            assert shown == event.at
            assert shown.utcoffset() == event.at.astimezone(event.place.zone).utcoffset()


def test_delivered_keeps_its_promise() -> None:
    s = story("SBDELIVERED1")
    assert codes(s)[:2] == ["LC", "PU"]
    assert codes(s)[-2:] == ["OD", "DL"]
    assert {"DF", "AF"} <= set(codes(s))
    delivered = s.first("DL").at
    assert len(s.etas) == 1
    assert s.etas[0].eta is not None and delivered <= s.etas[0].eta


def test_failed_attempt_then_delivered_with_a_revised_estimate() -> None:
    s = story("SBFAILED1")
    tail = codes(s)[codes(s).index("OD") :]
    assert tail == ["OD", "FA", "OD", "DL"]
    assert s.first("FA").detail
    assert len(s.etas) == 2 and s.etas[1].eta is not None and s.etas[0].eta is not None
    assert s.etas[1].eta > s.etas[0].eta


def test_available_for_pickup_then_collected() -> None:
    s = story("SBPICKUP1")
    tail = codes(s)[codes(s).index("OD") :]
    assert tail == ["OD", "FA", "OD", "FA", "AP", "DL"]
    assert s.etas[-1].eta is None


def test_exception_then_back_in_transit_and_delivered() -> None:
    s = story("SBEXCEPTION1")
    ex = s.first("EX")
    after = s.events[s.events.index(ex) + 1]
    assert after.code == "IT" and after.at - ex.at >= timedelta(hours=24)
    assert codes(s)[-1] == "DL"
    assert s.etas[-1].eta is not None and s.etas[-1].eta >= s.first("DL").at


def test_stalled_has_days_without_a_scan() -> None:
    s = story("SBSTALLED1")
    gaps = [b.at - a.at for a, b in zip(s.events, s.events[1:], strict=False)]
    assert max(gaps) >= timedelta(days=6)
    assert codes(s)[-1] == "DL"
    # The promise made at pickup passes during the stall; a new one follows it.
    assert s.etas[0].eta is not None and s.etas[0].eta < s.first("DL").at
    assert s.etas[-1].eta is not None and s.etas[-1].eta >= s.first("DL").at


def test_returned_goes_back_to_the_sender() -> None:
    s = story("SBRETURNED1")
    assert "RS" in codes(s) and codes(s)[-1] == "RT"
    assert "DL" not in codes(s)
    assert s.first("RT").place == s.origin
    view = s.view(s.first("RS").at)
    assert view is not None and view["returned"] is True


def test_delayed_revises_the_estimate_later_before_it_passes() -> None:
    s = story("SBDELAYED1")
    delay = s.first("DE")
    assert len(s.etas) == 2
    first, revised = s.etas
    assert first.eta is not None and revised.eta is not None
    assert abs(revised.at - delay.at) <= timedelta(minutes=1)
    assert revised.at < first.eta  # revised before the first promise passed
    assert revised.eta > first.eta
    assert s.first("DL").at <= revised.eta


def test_missed_estimate_passes_unrevised() -> None:
    s = story("SBMISSED1")
    assert len(s.etas) == 1
    assert s.etas[0].eta is not None and s.etas[0].eta < s.first("DL").at


def test_never_picked_up_stays_a_label() -> None:
    s = story("SBNOPICKUP1")
    assert codes(s) == ["LC"]
    view = s.view(T0 + timedelta(days=60))
    assert view is not None and view["status"]["code"] == "LC"


def test_unknown_is_never_known() -> None:
    s = story("SBUNKNOWN1")
    assert s.view(T0 + timedelta(days=90)) is None


def test_the_view_shows_only_the_past_newest_first() -> None:
    s = story("SBDELIVERED2")
    assert s.view(s.created - timedelta(minutes=1)) is None
    middle = s.events[len(s.events) // 2]
    view = s.view(middle.at)
    assert view is not None
    shown = [e["code"] for e in view["events"]]
    assert shown == list(reversed(codes(s)[: len(s.events) // 2 + 1]))
    assert view["status"]["code"] == middle.code
