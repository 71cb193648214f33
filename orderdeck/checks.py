"""Offline checks of the configuration (``orderdeck config check``)."""

from __future__ import annotations

from typing import Any

from orderdeck.config import Config


def carrier_report(cfg: Config) -> list[dict[str, Any]]:
    """For each ``[carriers.CODE]``: is it a known adapter, which required keys are missing."""
    from sync.carriers import registry

    report: list[dict[str, Any]] = []
    for code, settings in cfg.sync.tracking.carriers.items():
        factory = registry.factories().get(code)
        if factory is None:
            known = ", ".join(sorted(registry.factories())) or "none installed"
            report.append({"code": code, "name": None, "missing": [f"an adapter (known: {known})"]})
            continue
        required = getattr(factory, "required_keys", ())
        missing = [key for key in required if not settings.options.get(key)]
        report.append(
            {"code": code, "name": getattr(factory, "display_name", code), "missing": missing}
        )
    return report
