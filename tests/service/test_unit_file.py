"""The example systemd unit in docs/service.md is one systemd accepts, and it fits
what ``orderdeck sync`` does (notify protocol, reload by SIGHUP, room to drain)."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "service.md"


def _unit() -> str:
    text = DOC.read_text(encoding="utf-8")
    found = re.search(r"<!-- unit:start -->\n```ini\n(.*?)```\n<!-- unit:end -->", text, re.S)
    assert found, "docs/service.md lost its unit block"
    return found.group(1)


def _service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(_unit())
    return parser["Service"]


def test_unit_matches_the_service() -> None:
    from orderdeck.cli.sync_cmd import sync

    service = _service()
    assert service["Type"] == "notify"
    assert service["ExecStart"].endswith("/orderdeck sync")
    assert "-HUP" in service["ExecReload"]
    drain = next(p for p in sync.params if p.name == "drain_timeout").default
    assert float(service["TimeoutStopSec"]) > float(drain)  # type: ignore[arg-type]
    assert service["ProtectSystem"] == "strict" and service["NoNewPrivileges"] == "yes"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    orderdeck = Path(sys.executable).with_name("orderdeck")
    assert orderdeck.exists(), orderdeck
    unit = tmp_path / "orderdeck-sync.service"
    unit.write_text(_unit().replace("/opt/orderdeck/.venv/bin/orderdeck", str(orderdeck)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    complaints = [
        line for line in (result.stdout + result.stderr).splitlines() if unit.name in line
    ]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr
