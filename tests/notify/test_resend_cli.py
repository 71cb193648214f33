"""Resend (a new linked row, audited), the CLI end to end, secrets kept out of logs and
the store, and a dispatcher killed with SIGKILL mid-batch — SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from notifiers import outbox
from store.engine import Store
from store.errors import NotFoundError, OrderdeckError
from store.models import AuditEntry, Notification
from tests.conftest import run_cli
from tests.notify.conftest import T0, TWILIO_TOKEN, Sink, channel, settings, twilio_url
from tests.notify.test_dispatch import Clock, queue, row, run

_n = Notification.__table__  # type: ignore[attr-defined]
_audit = AuditEntry.__table__  # type: ignore[attr-defined]


def test_resend_makes_a_linked_row_and_an_audit_entry(store: Store, sink: Sink) -> None:
    chat = channel("chat", f"json://{sink.url()}?:to={{email}}")
    other = channel("other", f"json://{sink.url('/other')}?:to={{email}}", ("delivered",))
    s = settings(chat, other)
    (nid,) = queue(store, s)
    run(store, s, Clock())
    before = row(store, nid)
    with store.write_connection() as conn:
        again = outbox.resend(conn, nid, requested_by="alice", settings=s, now=T0)
        elsewhere = outbox.resend(
            conn, nid, requested_by="bob", settings=s, channel="other", to="New@Example.com", now=T0
        )
    assert row(store, nid) == before  # history untouched
    first, second = row(store, again), row(store, elsewhere)
    assert (first.resend_of, first.requested_by, first.recipient, first.state) == (
        nid,
        "alice",
        "ada@example.com",
        "pending",
    )
    assert (second.channel, second.recipient) == ("other", "new@example.com")
    assert first.body == before.body
    with store.read_connection() as conn:
        audit = conn.execute(sa.select(_audit).order_by(_audit.c.id)).all()
    assert [(a.actor, a.action, a.notification_id, a.detail["resend_of"]) for a in audit] == [
        ("alice", "notify.resend", again, nid),
        ("bob", "notify.resend", elsewhere, nid),
    ]
    run(store, s, Clock())
    assert sorted(sink.ids()) == sorted([nid, again, elsewhere])
    with store.write_connection() as conn:
        outbox.suppress(conn, "new@example.com", reason="bounced", by="t", now=T0)
    with store.write_connection() as conn, pytest.raises(OrderdeckError, match="suppression list"):
        outbox.resend(conn, nid, requested_by="a", settings=s, to="new@example.com", now=T0)
    with store.write_connection() as conn, pytest.raises(OrderdeckError, match="no channel 'nope'"):
        outbox.resend(conn, nid, requested_by="a", settings=s, channel="nope", now=T0)
    with store.write_connection() as conn, pytest.raises(OrderdeckError, match="needs an e-mail"):
        outbox.resend(conn, nid, requested_by="a", settings=s, to="+15551234567", now=T0)
    with (
        store.write_connection() as conn,
        pytest.raises(NotFoundError, match="no notification 999"),
    ):
        outbox.resend(conn, 999, requested_by="a", settings=s, now=T0)
    with store.write_connection() as conn, pytest.raises(OrderdeckError, match="neither an e-mail"):
        outbox.suppress(conn, "not an address", reason=None, by="a", now=T0)


def test_secrets_stay_out_of_logs_and_store(
    store: Store, twilio: Sink, sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    secret_pw = "hunter2-Sup3rSecret"
    chat = channel("chat", f"json://user:{secret_pw}@{sink.url()}?:to={{email}}")
    sms = channel("sms", twilio_url(), ("shipped",), kind="sms")
    bad = channel(
        "bad",
        "twilio://ACnot-a-sid:not-a-valid-t0ken-Secret@+15550001111/{phone}",
        ("shipped",),
        kind="sms",
    )
    s = settings(chat, sms, bad, max_attempts=1)
    sink.status = 500
    twilio.status = 401
    twilio.body = {"code": 20003, "message": "Authenticate", "status": 401}
    caplog.set_level(logging.DEBUG)
    queue(store, s)
    run(store, s, Clock())
    assert all(r["headers"].get("Authorization") for r in sink.requests)  # the secret was used
    dump = []
    with store.read_connection() as conn:
        for table in (
            "notifications",
            "notification_attempts",
            "attention_items",
            "audit_log",
            "change_log",
        ):
            dump.extend(
                json.dumps(
                    [list(map(str, r)) for r in conn.execute(sa.text(f"SELECT * FROM {table}"))]
                )
            )
    text = "".join(dump) + caplog.text
    for secret in (secret_pw, TWILIO_TOKEN, "not-a-valid-t0ken-Secret"):
        assert secret not in text
    assert "****" in "".join(dump)


def write_config(tmp_path: Path, sink: Sink, *, kind: str = "chat", extra: str = "") -> Path:
    config = tmp_path / "orderdeck.toml"
    config.write_text(
        f"""
[shop]
name = "Example Shop"
timezone = "Europe/London"

[notify]
concurrency = 8
send_timeout = 2
lease_seconds = 8
max_attempts = 2
{extra}

[notify.channels.chat]
url = "json://{sink.url()}?:to={{phone}}"
events = ["shipped", "delivered"]
audience = "customer"
kind = "{kind}"

[notify.channels.spare]
url = "json://{sink.url("/spare")}?:to={{email}}"
events = ["delivered"]
audience = "customer"
"""
    )
    return config


@pytest.mark.slow
def test_cli_list_show_preview_resend_suppress(
    store_url: str, store: Store, sink: Sink, cli_env: dict[str, str], tmp_path: Path
) -> None:
    config = write_config(tmp_path, sink)
    env = {**cli_env, "ORDERDECK_CONFIG": str(config), "ORDERDECK_DB": store_url}
    from orderdeck.config import load

    s = load(config).notify
    (nid,) = queue(store, s)

    out = run_cli("notify", "preview", "delivered", "--order", "1001", env=env)
    assert out.returncode == 0, out.stderr
    assert (
        "chat (chat) to +447700900123" in out.stdout
        and "spare (chat) to ada@example.com" in out.stdout
    )
    assert "was delivered" in out.stdout
    with store.read_connection() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(_n)).scalar_one() == 1

    out = run_cli("notify", "dispatch", "--once", "--json", env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["sent"] == 1

    listed = json.loads(run_cli("notify", "list", "--order", "#1001", "--json", env=env).stdout)
    assert [(r["id"], r["state"], r["event"]) for r in listed] == [(nid, "sent", "shipped")]
    shown = run_cli("notify", "show", str(nid), env=env)
    assert "state       sent" in shown.stdout and "JSON SUCCESS" in shown.stdout

    refused = run_cli("notify", "resend", str(nid), env=env, input="")
    assert refused.returncode != 0 and "--yes" in refused.stderr
    done = run_cli("notify", "resend", str(nid), "--channel", "spare", "--yes", env=env)
    assert done.returncode == 0, done.stderr
    assert "on spare to ada@example.com" in done.stdout

    sup = run_cli("notify", "suppress", "ADA@example.com", "--reason", "asked", env=env)
    assert (
        "ada@example.com added to the suppression list; 1 pending message(s) suppressed"
        in sup.stdout
    )
    assert run_cli("notify", "unsuppress", "ada@example.com", env=env).returncode == 0
    again = run_cli("notify", "unsuppress", "ada@example.com", env=env)
    assert again.returncode == 1 and "not on the suppression list" in again.stderr


@pytest.mark.slow
def test_dispatcher_killed_mid_batch_loses_nothing(
    store_url: str, store: Store, sink: Sink, cli_env: dict[str, str], tmp_path: Path
) -> None:
    sink.delay = 0.05
    config = write_config(tmp_path, sink, kind="sms")
    env = {**cli_env, "ORDERDECK_CONFIG": str(config), "ORDERDECK_DB": store_url}
    from orderdeck.config import load

    s = load(config).notify
    total = 120
    ids = [
        i
        for n in range(total)
        for i in queue(store, s, number=f"#{3000 + n}", phone_e164=f"+4477009{n:05d}")
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "orderdeck", "notify", "dispatch"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while len(sink.requests) < 30 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(sink.requests) >= 30
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    with store.read_connection() as conn:
        states = dict(
            conn.execute(sa.select(_n.c.state, sa.func.count()).group_by(_n.c.state)).all()
        )
    assert states.get("sending", 0) > 0, states  # it really died mid-batch
    time.sleep(8.5)  # the lease runs out
    out = run_cli("notify", "dispatch", "--once", "--json", env=env)
    assert out.returncode == 0, out.stderr
    with store.read_connection() as conn:
        final = {r.id: r.state for r in conn.execute(sa.select(_n.c.id, _n.c.state))}
    assert set(final) == set(ids)
    assert set(final.values()) <= {"sent", "unknown"}, final
    received = sink.ids()
    assert len(received) == len(set(received)), "a message was delivered twice"
    sent = {i for i, st in final.items() if st == "sent"}
    assert sent <= set(received)
    unknown = {i for i, st in final.items() if st == "unknown"}
    assert 0 < len(unknown) <= 8  # at most the in-flight batch (concurrency 8)
    assert set(received) | unknown == set(ids)
