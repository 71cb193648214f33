"""Configuration: defaults, the contract keys, errors that name file and key, masking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orderdeck import config
from orderdeck.config import ConfigError
from tests.conftest import run_cli

CONTRACT = """
[store]
url = "sqlite:////home/me/.local/share/orderdeck/orderdeck.db"

[[sync.drop_folders]]
path = "/srv/drop/shopify"
format = "auto"
source = "shopify-main"

[tracking]
aggregators = ["aftership", "17track"]

[carriers.sandbox]
base_url = "http://127.0.0.1:8765"

[carriers.aftership]
api_key = "as-secret-key-123"
base_url = "https://api.aftership.com"

[carriers.ups]
client_id = "ups-client"
client_secret = "ups-very-secret"
base_url = "https://onlinetools.ups.com"

[notify.channels.email]
url = "mailtos://user:smtp-pass-999@smtp.example.com?from=shop@example.com&to={email}"
events = ["shipped", "out_for_delivery", "delivered", "failed_attempt", "exception", "delayed"]
audience = "customer"

[notify.channels.team]
url = "slack://T000AAA/B000BBB/XXXXCCCC/#ops"
events = ["attention"]
audience = "team"
"""


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_empty_file_gives_working_defaults(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, ""), environ={})
    assert cfg.store.url.startswith("sqlite:///") and cfg.store.url.endswith("orderdeck.db")
    assert cfg.sync.ingest.drop_folders == ()
    assert cfg.sync.tracking.aggregators == ()
    assert cfg.notify.channels == {}
    assert cfg.sync.timezone == "UTC"
    assert cfg.warnings == ()


def test_no_file_at_default_location_is_fine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config, "default_config_path", lambda: tmp_path / "missing.toml")
    cfg = config.load(environ={})
    assert not cfg.exists and cfg.origin == "default"


def test_every_contract_key_is_read(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, CONTRACT), environ={})
    assert cfg.store.url == "sqlite:////home/me/.local/share/orderdeck/orderdeck.db"
    folder = cfg.sync.ingest.drop_folders[0]
    assert (str(folder.path), folder.format, folder.source) == (
        "/srv/drop/shopify",
        "auto",
        "shopify-main",
    )
    assert cfg.sync.tracking.aggregators == ("aftership", "17track")
    assert cfg.sync.tracking.carriers["sandbox"].base_url == "http://127.0.0.1:8765"
    assert cfg.sync.tracking.carriers["aftership"].options["api_key"] == "as-secret-key-123"
    ups = cfg.sync.tracking.carriers["ups"].options
    assert (ups["client_id"], ups["client_secret"]) == ("ups-client", "ups-very-secret")
    email = cfg.notify.channels["email"]
    assert email.kind == "email" and email.audience == "customer" and "delayed" in email.events
    team = cfg.notify.channels["team"]
    assert team.kind == "chat" and team.audience == "team" and team.events == ("attention",)
    # 17track is listed but not configured: said, not fatal.
    assert (
        len(cfg.warnings) == 1 and "'17track' has no [carriers.17track] section" in cfg.warnings[0]
    )


def test_example_file_is_valid_and_documents_the_contract(tmp_path: Path) -> None:
    text = config.example_config_text()
    cfg = config.load(write(tmp_path, text), environ={})
    assert cfg.warnings == ()
    for key in (
        "[store]",
        "[[sync.drop_folders]]",
        "[tracking]",
        "aggregators",
        "[carriers.sandbox]",
        "[carriers.aftership]",
        "[carriers.ups]",
        "[notify.channels.email]",
        "[notify.channels.team]",
    ):
        assert key in text
    root_example = Path(__file__).resolve().parents[1] / "config.example.toml"
    assert root_example.read_text(encoding="utf-8") == text


def test_db_override_wins(tmp_path: Path) -> None:
    path = write(tmp_path, CONTRACT)
    assert config.load(path, "sqlite:////tmp/x.db", environ={}).store.url == "sqlite:////tmp/x.db"
    assert (
        config.load(path, environ={"ORDERDECK_DB": "sqlite:////tmp/y.db"}).store.url
        == "sqlite:////tmp/y.db"
    )


def test_config_from_environment_variable(tmp_path: Path) -> None:
    path = write(tmp_path, '[shop]\nname = "Env Shop"\n')
    cfg = config.load(environ={"ORDERDECK_CONFIG": str(path)})
    assert cfg.notify.shop_name == "Env Shop" and cfg.origin == "ORDERDECK_CONFIG"


def test_env_references_are_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AS_KEY", "from-env")
    cfg = config.load(write(tmp_path, '[carriers.aftership]\napi_key = "${AS_KEY}"\n'), environ={})
    assert cfg.sync.tracking.carriers["aftership"].options["api_key"] == "from-env"
    monkeypatch.delenv("AS_KEY")
    with pytest.raises(
        ConfigError, match=r"\[carriers.aftership\] api_key: refers to \$\{AS_KEY\}"
    ):
        config.load(tmp_path / "config.toml", environ={})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[store]\nurl = 5\n", "[store] url: expected a string, got 5"),
        ('[shop]\ntimezone = "Mars/Olympus"\n', "[shop] timezone: expected an IANA time zone"),
        (
            '[[sync.drop_folders]]\nformat = "auto"\n',
            "[sync.drop_folders #1] path: expected the folder to watch",
        ),
        (
            '[[sync.drop_folders]]\npath = "/x"\nformat = "xlsx"\n',
            "[sync.drop_folders #1] format: expected one of auto",
        ),
        (
            '[tracking]\naggregators = "aftership"\n',
            "[tracking] aggregators: expected a list of strings",
        ),
        (
            '[tracking]\nshared_rate_limits = "yes"\n',
            '[tracking] shared_rate_limits: expected "auto", true or false',
        ),
        (
            '[carriers.ups]\nbase_url = "ftp://x"\n',
            "[carriers.ups] base_url: expected an http:// or https:// URL",
        ),
        (
            '[carriers.dhl]\nrate_limit = "fast"\n',
            "[carriers.dhl] rate_limit: expected requests per second",
        ),
        (
            '[notify.channels.sms]\nurl = "twilio://a:b@1/{phone}"\nevents = ["shipped", "teleported"]\n',
            "[notify.channels.sms] events: expected events among",
        ),
        (
            '[notify.channels.sms]\nurl = "twilio://a:b@1/{phone}"\nquiet_hours = "late"\n',
            "[notify.channels.sms] quiet_hours: expected a time range",
        ),
        ('[notify.channels.x]\nurl = "x"\n', "[notify.channels.x] url: expected an Apprise URL"),
        (
            "[attention]\nstalled_business_days = 0\n",
            "[attention] stalled_business_days: expected a whole number of at least 1",
        ),
        ("[store\nurl=1", "not valid TOML"),
    ],
)
def test_errors_name_the_file_and_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        config.load(path, environ={})
    assert str(err.value).startswith(str(path))
    assert expected in str(err.value)


def test_rate_limits_accept_units(tmp_path: Path) -> None:
    cfg = config.load(
        write(tmp_path, '[carriers.a]\nrate_limit = "120/min"\n[carriers.b]\nrate_limit = 2\n'),
        environ={},
    )
    assert cfg.sync.tracking.carriers["a"].rate_limit == 2.0
    assert cfg.sync.tracking.carriers["b"].rate_limit == 2.0


@pytest.mark.parametrize(
    ("value", "expected"), [('"auto"', None), ("true", True), ("false", False)]
)
def test_shared_rate_limits(tmp_path: Path, value: str, expected: bool | None) -> None:
    cfg = config.load(write(tmp_path, f"[tracking]\nshared_rate_limits = {value}\n"), environ={})
    assert cfg.sync.tracking.shared_rate_limits is expected
    assert config.load(write(tmp_path, ""), environ={}).sync.tracking.shared_rate_limits is None


def test_unknown_keys_are_warnings(tmp_path: Path) -> None:
    cfg = config.load(
        write(tmp_path, "[sync]\nscan_intervall = 5\n[nonsense]\nx = 1\n"), environ={}
    )
    assert any("[sync] scan_intervall: unknown key" in w for w in cfg.warnings)
    assert any("nonsense: unknown key" in w for w in cfg.warnings)


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        config.load(tmp_path / "nope.toml", environ={})


def test_show_masks_every_secret(tmp_path: Path, cli_env: dict[str, str]) -> None:
    path = write(tmp_path, CONTRACT)
    for args in (["config", "show"], ["config", "show", "--json"]):
        result = run_cli("--config", str(path), *args, env=cli_env)
        assert result.returncode == 0, result.stderr
        for secret in (
            "as-secret-key-123",
            "ups-very-secret",
            "smtp-pass-999",
            "T000AAA",
            "B000BBB",
            "XXXXCCCC",
        ):
            assert secret not in result.stdout
        assert "****" in result.stdout
        assert "ups-client" in result.stdout  # an id is not a secret
    data = json.loads(
        run_cli("--config", str(path), "config", "show", "--json", env=cli_env).stdout
    )
    assert data["config"]["carriers"]["aftership"]["api_key"] == "****"


def test_secrets_listed_for_log_masking(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, CONTRACT), environ={})
    secrets = set(cfg.secrets())
    assert {"as-secret-key-123", "ups-very-secret", "smtp-pass-999"} <= secrets
    assert "ups-client" not in secrets
