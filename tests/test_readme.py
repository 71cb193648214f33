"""The README's quick start is what CI runs, and what it documents exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    test_command = next(b for b in blocks if "pytest" in b)
    install = re.search(r"pip install -e '\.\[test\]'", test_command)
    assert install and "pip install -e '.[test]'" in ci
    assert test_command.rstrip().endswith("pytest") and re.search(r"^pytest$", ci, re.M)


def test_readme_commands_exist() -> None:
    from orderdeck.cli import cli

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in set(re.findall(r"`orderdeck ([a-z]+)", readme)):
        assert name in cli.commands, f"README documents `orderdeck {name}`, which does not exist"
