"""``orderdeck demo --headless`` in a subprocess, as a user or a script runs it: the
real ingest brings the orders in, the poller asks the sandbox, notifications reach
the in-process SMTP server and chat receiver, and however it ends (its time is up,
SIGINT, SIGTERM) it exits 0 and leaves no folder behind. The user's configuration
and store, named in the environment, are never touched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path) -> dict[str, str]:
    """TMPDIR in tmp_path (to see the demo's folder come and go), and a user's
    configuration and store that must stay untouched."""
    (tmp_path / "tmp").mkdir()
    (tmp_path / "user").mkdir()
    user_config = tmp_path / "user" / "config.toml"
    user_config.write_text('[store]\nurl = "sqlite:////nonexistent/never.db"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERDECK_")}
    env.update(
        TMPDIR=str(tmp_path / "tmp"),
        ORDERDECK_CONFIG=str(user_config),
        ORDERDECK_DB=f"sqlite:///{tmp_path / 'user' / 'user.db'}",
        PYTHONPATH=str(ROOT),
    )
    return env


def _orderdeck(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orderdeck", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )


def _untouched(tmp_path: Path) -> None:
    assert sorted(p.name for p in (tmp_path / "user").iterdir()) == ["config.toml"]


def test_headless_run_ingests_polls_notifies_and_cleans_up(tmp_path: Path) -> None:
    env = _env(tmp_path)
    done = _orderdeck(
        env,
        "demo",
        "--headless",
        "--seconds",
        "15",
        "--orders",
        "80",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["orders"] == summary["orders_generated"] == 80
    assert summary["files"] == {"imported": 16}, summary["files"]
    assert summary["shipments"] > 60
    assert summary["shipments_polled"] > 0 and summary["sandbox_requests"] > 0
    assert summary["tracking_events"] > 0
    assert summary["notifications_sent"] > 0
    received = summary["emails_received"] + summary["chat_posts_received"]
    assert received == summary["notifications_sent"]
    assert summary["emails_received"] > 0
    assert summary["engine_errors"] == {}
    assert summary["folder"] is None
    assert "orders" in done.stderr  # progress lines
    assert list((tmp_path / "tmp").iterdir()) == []
    _untouched(tmp_path)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_it_cleanly(tmp_path: Path, signum: int) -> None:
    env = _env(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "orderdeck", "demo", "--headless", "--orders", "40"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        # Wait for a progress line that shows orders in the store (no time asserted).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            if line.startswith("[") and "orders 0," not in line:
                break
        assert list((tmp_path / "tmp").iterdir()), "the demo's folder should exist while it runs"
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    # Stopped while the files were still arriving, perhaps: the summary says how far it got.
    assert out.startswith("orders: ") and " of 40 ingested" in out, out
    assert "attention: " in out
    assert "Traceback" not in err
    assert list((tmp_path / "tmp").iterdir()) == []
    _untouched(tmp_path)


def test_keep_leaves_the_folder_and_says_where(tmp_path: Path) -> None:
    env = _env(tmp_path)
    done = _orderdeck(
        env,
        "demo",
        "--headless",
        "--seconds",
        "4",
        "--orders",
        "10",
        "--keep",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    [folder] = (tmp_path / "tmp").iterdir()
    summary = json.loads(done.stdout)
    assert summary["folder"] == str(folder)
    assert f"demo kept in {folder}" in done.stderr
    assert {"config.toml", "orderdeck.db", "drop", "orderdeck.log"} <= {
        p.name for p in folder.iterdir()
    }
    # The kept store opens with the ordinary commands and the demo's own config.
    listed = _orderdeck(
        {k: v for k, v in env.items() if not k.startswith("ORDERDECK_")},
        "--config",
        str(folder / "config.toml"),
        "orders",
        "list",
        "--json",
    )
    assert listed.returncode == 0, listed.stderr
    # (A loaded machine may not have ingested anything in 4 s: what it has is what it said.)
    assert len(json.loads(listed.stdout)) == summary["orders"]


def test_options_are_checked(tmp_path: Path) -> None:
    env = _env(tmp_path)
    for args, message in (
        (["--seconds", "5"], "--seconds and --json go with --headless"),
        (["--headless", "--orders", "0"], "--orders"),
        (["--headless", "--speed", "0"], "--speed"),
    ):
        done = _orderdeck(env, "demo", *args)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    assert list((tmp_path / "tmp").iterdir()) == []
