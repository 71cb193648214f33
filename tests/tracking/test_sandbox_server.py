"""The sandbox over real HTTP: its API, its clock, and every fault knob."""

from __future__ import annotations

import threading
from datetime import timedelta

import httpx
import pytest

from sync.sandbox import Faults, SandboxClock, SandboxError, SandboxServer
from sync.sandbox.faults import FaultError, RateWindow, max_in_window

from .conftest import T0


@pytest.fixture
def client(sandbox: SandboxServer) -> httpx.Client:
    with httpx.Client(base_url=sandbox.url, timeout=5) as c:
        yield c  # type: ignore[misc]


def test_track_one_number(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.clock.set(T0 + timedelta(days=1))
    body = client.get("/v1/track/SBDELIVERED1").json()
    assert body["tracking_number"] == "SBDELIVERED1"
    assert body["carrier"] == "sandbox"
    assert body["events"][-1]["code"] == "LC"  # newest first, oldest last
    assert body["status"]["code"] == body["events"][0]["code"]
    assert body["events"][0]["location"]["city"]
    # The same question at the same moment gets the same answer.
    assert client.get("/v1/track/sb-delivered-1").json() == body


def test_unknown_and_invalid_numbers(client: httpx.Client) -> None:
    r = client.get("/v1/track/SBUNKNOWN1")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    r = client.get("/v1/track/no!")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_number"


def test_batch(sandbox: SandboxServer, client: httpx.Client) -> None:
    r = client.post("/v1/track", json={"tracking_numbers": ["SBFAILED1", "SBUNKNOWN2", "x"]})
    results = r.json()["results"]
    assert [x["found"] for x in results] == [True, False, False]
    assert results[0]["events"][0]["code"] == "LC"
    assert results[1]["error"]["code"] == "not_found"
    assert results[2]["error"]["code"] == "invalid_number"
    too_many = {"tracking_numbers": [f"N{i:05d}" for i in range(sandbox.max_batch + 1)]}
    assert client.post("/v1/track", json=too_many).status_code == 400
    assert client.post("/v1/track", json={"numbers": "x"}).status_code == 400
    assert (
        client.post(
            "/v1/track", content=b"{nope", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )


def test_wrong_routes_and_methods(client: httpx.Client) -> None:
    assert client.get("/v2/track/ABC123").status_code == 404
    assert client.post("/v1/track/ABC123", json={}).status_code == 405
    assert client.get("/v1/track").status_code == 405
    assert client.get("/_sandbox/nothing").status_code == 404


def test_the_clock_is_controlled_over_http(sandbox: SandboxServer, client: httpx.Client) -> None:
    assert client.get("/_sandbox/clock").json()["now"] == T0.isoformat()
    later = T0 + timedelta(days=2)
    assert (
        client.put("/_sandbox/clock", json={"now": later.isoformat()}).json()["now"]
        == later.isoformat()
    )
    assert sandbox.clock.now() == later
    client.put("/_sandbox/clock", json={"advance_seconds": 3600})
    assert sandbox.clock.now() == later + timedelta(hours=1)
    assert client.put("/_sandbox/clock", json={"now": "yesterday"}).status_code == 400
    assert client.put("/_sandbox/clock", json={"when": 1}).status_code == 400


def test_a_moving_clock_moves_parcels() -> None:
    clock = SandboxClock(T0, speed=0)
    s = SandboxServer(seed=1, clock=clock, spread_hours=0).start()
    try:
        story = s.story("SBDELIVERED1")
        with httpx.Client(base_url=s.url) as c:
            first = c.get("/v1/track/SBDELIVERED1").json()["status"]["code"]
            clock.set(story.first("DL").at)
            last = c.get("/v1/track/SBDELIVERED1").json()["status"]["code"]
        assert (first, last) == ("LC", "DL")
    finally:
        s.stop()


def test_faults_are_changed_over_http(client: httpx.Client) -> None:
    r = client.put("/_sandbox/faults", json={"error_rate": 1.0, "latency_ms": 5})
    assert r.json()["error_rate"] == 1.0
    assert client.get("/v1/track/ABC123").status_code in (500, 502, 503)
    assert client.put("/_sandbox/faults", json={"error_rate": 0}).status_code == 200
    assert client.get("/v1/track/SBDELIVERED1").status_code == 200
    bad = client.put("/_sandbox/faults", json={"error_rate": 2})
    assert bad.status_code == 400 and "between 0 and 1" in bad.json()["error"]["message"]
    assert client.put("/_sandbox/faults", json={"typo_rate": 1}).status_code == 400
    assert client.get("/_sandbox/faults").json()["error_rate"] == 0.0


def test_server_errors(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.faults.update(error_rate=1.0)
    statuses = {client.get(f"/v1/track/N{i}000").status_code for i in range(30)}
    assert statuses <= {500, 502, 503} and len(statuses) >= 2


def test_dropped_connections(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.faults.update(drop_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/v1/track/ABC123")
    sandbox.faults.update(drop_rate=0.0)
    assert client.get("/v1/track/SBDELIVERED1").status_code == 200


def test_timeouts_hang_then_close(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.faults.update(timeout_rate=1.0, hang_seconds=30)
    with pytest.raises(httpx.ReadTimeout):
        client.get("/v1/track/ABC123", timeout=0.2)
    assert sandbox.stats.answers["timeout"] == 1


def test_latency_beyond_the_client_timeout_times_out(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    sandbox.faults.update(latency_ms=5000)
    with pytest.raises(httpx.ReadTimeout):
        client.get("/v1/track/ABC123", timeout=0.2)


def test_malformed_bodies(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.faults.update(malformed_rate=1.0)
    kinds = set()
    for i in range(40):
        r = client.get(f"/v1/track/M{i}0000")
        assert r.status_code == 200
        try:
            body = r.json()
        except ValueError:
            kinds.add("unparseable")
            continue
        assert "events" not in body
        kinds.add("wrong shape")
    assert kinds == {"unparseable", "wrong shape"}
    assert {k for k in sandbox.stats.answers if k.startswith("malformed_")} == {
        "malformed_truncated",
        "malformed_html",
        "malformed_shape",
        "malformed_garbage",
    }


def test_rate_limit_answers_429_with_retry_after(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    sandbox.faults.update(rate_limit=3)
    answers = [client.get("/v1/track/SBDELIVERED1") for _ in range(5)]
    assert [r.status_code for r in answers[:3]] == [200, 200, 200]
    limited = answers[3]
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limited"


def test_api_key(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.faults.update(api_key="s3cret")
    assert client.get("/v1/track/SBDELIVERED1").status_code == 401
    ok = client.get("/v1/track/SBDELIVERED1", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200
    assert client.get("/v1/track/SBDELIVERED1", headers={"X-Api-Key": "s3cret"}).status_code == 200
    assert client.get("/_sandbox/faults").json()["api_key"] == "****"


def test_stats_count_requests_and_answers(sandbox: SandboxServer, client: httpx.Client) -> None:
    client.get("/v1/track/SBDELIVERED1")
    client.get("/v1/track/SBUNKNOWN1")
    stats = client.get("/_sandbox/stats?arrivals=1").json()
    assert stats["requests"] == 2
    assert stats["answers"] == {"200": 1, "404": 1}
    assert [a[1] for a in stats["arrivals"]] == ["200", "404"]
    assert client.delete("/_sandbox/stats").json()["requests"] == 0


def test_stats_count_lookups_per_number(sandbox: SandboxServer, client: httpx.Client) -> None:
    client.get("/v1/track/sb-delivered-1")
    client.post("/v1/track", json={"tracking_numbers": ["SBDELIVERED1", "SBUNKNOWN1", "!"]})
    stats = client.get("/_sandbox/stats?numbers=1").json()
    assert stats["lookups_per_number"] == {"SBDELIVERED1": 2, "SBUNKNOWN1": 1}
    assert stats["distinct_numbers"] == 2 and stats["max_lookups_per_number"] == 2
    times = sandbox.stats.lookups()["SBDELIVERED1"]
    assert len(times) == 2 and times[0] <= times[1]
    client.delete("/_sandbox/stats")
    assert sandbox.stats.lookups() == {}


def test_stop_ends_hanging_requests() -> None:
    s = SandboxServer(seed=1, faults=Faults(timeout_rate=1.0, hang_seconds=600)).start()
    failures: list[BaseException] = []

    def ask() -> None:
        try:
            httpx.get(f"{s.url}/v1/track/ABC123", timeout=600)
        except httpx.HTTPError as exc:
            failures.append(exc)

    asker = threading.Thread(target=ask)
    asker.start()
    while not s.stats.answers["timeout"]:
        threading.Event().wait(0.01)
    s.stop()
    asker.join(timeout=10)
    assert not asker.is_alive()
    assert failures and isinstance(failures[0], httpx.RemoteProtocolError)


def test_refuses_a_public_address_and_a_busy_port(sandbox: SandboxServer) -> None:
    with pytest.raises(SandboxError, match="loopback"):
        SandboxServer(host="0.0.0.0")
    with pytest.raises(SandboxError, match="cannot listen"):
        SandboxServer(port=sandbox.port).start()


def test_fault_knobs_are_validated() -> None:
    faults = Faults()
    with pytest.raises(FaultError):
        faults.update(error_rate=0.6, drop_rate=0.6)
    with pytest.raises(FaultError):
        faults.update(latency_ms=-1)
    with pytest.raises(FaultError):
        faults.update(latency_ms="fast")
    assert faults == Faults()  # nothing changed by a rejected update


def test_rate_window_admits_at_most_the_rate_in_any_second() -> None:
    window = RateWindow()
    admitted = [t / 100 for t in range(300) if window.admit(10, t / 100) is None]
    assert max_in_window(admitted, 1.0) == 10
    slow = RateWindow()
    assert slow.admit(0.5, 0.0) is None
    assert slow.admit(0.5, 1.0) == pytest.approx(1.0)
    assert slow.admit(0.5, 2.0) is None


def test_max_in_window() -> None:
    assert max_in_window([], 1.0) == 0
    assert max_in_window([0.0, 0.5, 0.99, 1.0, 1.5], 1.0) == 3
