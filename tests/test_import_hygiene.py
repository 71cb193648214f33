"""The headless rooms never pull in Textual or the console (the service stays light)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import importlib, pkgutil, sys
    for package in ("store", "sync", "notifiers"):
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, prefix=package + "."):
            if ".migrations.versions." in info.name or info.name.endswith("migrations.env"):
                continue
            importlib.import_module(info.name)
    bad = sorted(m for m in sys.modules if m.split(".")[0] in {"textual", "console", "orderdeck"})
    print(",".join(bad))
    """
)


def test_store_sync_notifiers_never_import_textual_or_console() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_store_imports_none_of_ours() -> None:
    script = textwrap.dedent(
        """
        import importlib, pkgutil, sys
        import store
        for info in pkgutil.walk_packages(store.__path__, prefix="store."):
            if ".migrations." in info.name:
                continue
            importlib.import_module(info.name)
        print(",".join(sorted(m for m in sys.modules if m.split(".")[0] in {"sync", "notifiers", "console", "orderdeck"})))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
