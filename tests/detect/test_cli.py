"""``orderdeck detect`` through the real entry point."""

from __future__ import annotations

import json

from tests.conftest import run_cli
from tests.detect.test_rules import AS_DICT_KEYS

UPS = "1Z5R89390357567127"
IMPB_92 = "9261 2927 0076 8711 9480 21"
BAD_UPS = "1z5r89390357567128"
DHL = "3318810025"


def test_json_in_input_order_with_every_field(cli_env: dict[str, str]) -> None:
    result = run_cli("detect", "--json", IMPB_92, BAD_UPS, UPS, "", env=cli_env)
    assert result.returncode == 1, result.stderr
    assert result.stderr == ""
    data = json.loads(result.stdout)
    assert [d["input"] for d in data] == [IMPB_92, BAD_UPS, UPS, ""]
    assert all(list(d) == AS_DICT_KEYS for d in data)
    impb, bad, ups, empty = data
    assert impb["tracking_number"] == "9261292700768711948021"
    assert (impb["carrier"], impb["candidates"], impb["valid"]) == ("usps", ["usps", "fedex"], True)
    assert impb["tracking_url"].endswith("tLabels=9261292700768711948021")
    assert bad == {
        "tracking_number": "1Z5R89390357567128",
        "carrier": None,
        "valid": False,
        "candidates": [],
        "tracking_url": None,
        "service": None,
        "reason": "check digit fails: expected 7, got 8 (as UPS 1Z)",
        "input": BAD_UPS,
    }
    assert (ups["carrier"], ups["valid"]) == ("ups", True)
    assert empty["reason"] == "empty: no tracking number given"


def test_all_valid_exits_zero_and_prints_one_line_each(cli_env: dict[str, str]) -> None:
    result = run_cli("detect", UPS, IMPB_92, DHL, "RB123456785GB", env=cli_env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    assert lines[0].split()[:5] == [UPS, "UPS", "valid", "ups", "UPS"]
    assert lines[0].endswith(f"https://www.ups.com/track?tracknum={UPS}")
    assert lines[1].split()[:4] == ["9261292700768711948021", "USPS", "valid", "usps,fedex"]
    assert lines[2].split()[:4] == [DHL, "DHL", "Express", "valid"]
    assert "Royal Mail" in lines[3] and "UPU S10 registered item from GB" in lines[3]
    # Columns line up: every line's status word starts at the same place.
    assert len({line.index(" valid ") for line in lines}) == 1


def test_invalid_lines_give_the_reason_and_exit_one(cli_env: dict[str, str]) -> None:
    result = run_cli("detect", UPS, BAD_UPS, "hello", env=cli_env)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert "invalid" in lines[1] and "check digit fails: expected 7, got 8" in lines[1]
    assert lines[2].split()[:3] == ["HELLO", "-", "invalid"]
    assert lines[2].endswith("matches no known format (5 characters)")


def test_numbers_from_stdin_keep_their_place_among_arguments(cli_env: dict[str, str]) -> None:
    stdin = f"{IMPB_92}\n\n   \n  {DHL.lower()}  \r\n"
    result = run_cli("detect", "--json", UPS, "-", "TBA502887274000", env=cli_env, input=stdin)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [d["tracking_number"] for d in data] == [
        UPS,
        "9261292700768711948021",
        DHL,
        "TBA502887274000",
    ]


def test_usage_errors_exit_two(cli_env: dict[str, str]) -> None:
    result = run_cli("detect", env=cli_env)
    assert result.returncode == 2
    assert "Missing argument 'TRACKING...'" in result.stderr
    result = run_cli("detect", "-", env=cli_env, input="\n\n")
    assert result.returncode == 2
    assert "no tracking numbers given (standard input was empty)" in result.stderr


def test_help_documents_exit_status(cli_env: dict[str, str]) -> None:
    result = run_cli("detect", "--help", env=cli_env)
    assert result.returncode == 0
    assert "0 when every number is valid" in result.stdout
    assert "1 when any number is invalid" in result.stdout
    listing = run_cli("--help", env=cli_env).stdout
    assert "detect" in listing


def test_control_characters_never_reach_the_terminal(cli_env: dict[str, str]) -> None:
    result = run_cli("detect", "RB123456785GB\x1b]0;owned\x07", env=cli_env)
    assert result.returncode == 1
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "contains" in result.stdout
