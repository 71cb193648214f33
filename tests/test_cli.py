"""The command line through its real entry point: output shapes, exit codes, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from store.migrate import open_store
from store.models import LineItem, Order, Shipment
from store.settings import StoreSettings
from store.summary import refresh_orders
from tests.conftest import run_cli


def test_version_and_help(cli_env: dict[str, str]) -> None:
    version = run_cli("--version", env=cli_env)
    assert version.returncode == 0 and version.stdout.startswith("orderdeck, version ")
    top = run_cli("--help", env=cli_env)
    assert top.returncode == 0
    for command in ("orders", "status", "db", "config"):
        assert f"  {command} " in top.stdout
    for sub in (
        ["db", "upgrade"],
        ["db", "current"],
        ["orders", "list"],
        ["orders", "show"],
        ["status"],
        ["config", "init"],
        ["config", "show"],
        ["config", "check"],
        ["config", "path"],
    ):
        result = run_cli(*sub, "--help", env=cli_env)
        assert result.returncode == 0, (sub, result.stderr)
        assert "Usage:" in result.stdout


def test_fresh_store_lists_nothing_and_reports_status(
    store_url: str, cli_env: dict[str, str]
) -> None:
    env = {**cli_env, "ORDERDECK_DB": store_url}
    upgrade = run_cli("db", "upgrade", env=env)
    assert upgrade.returncode == 0, upgrade.stderr
    current = run_cli("db", "current", "--json", env=env)
    assert json.loads(current.stdout)["up_to_date"] is True
    listed = run_cli("orders", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    status = run_cli("status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    for key in (
        "store",
        "schema",
        "orders",
        "workers",
        "due_polls",
        "pending_notifications",
        "attention",
    ):
        assert key in data
    assert data["orders"] == 0 and data["schema"]["up_to_date"] is True


def test_default_store_lands_under_user_data_dir(cli_env: dict[str, str]) -> None:
    result = run_cli("orders", "list", "--json", env=cli_env)
    assert result.returncode == 0, result.stderr
    assert (Path(cli_env["XDG_DATA_HOME"]) / "orderdeck" / "orderdeck.db").is_file()


def _seed(url: str) -> None:
    store = open_store(StoreSettings(url=url))
    with store.write() as s:
        order = Order(
            source="shopify-main",
            external_id="9001",
            number="#1001",
            customer_name="Zoë [bold]Ng[/bold]",
            email="zoe@example.com",
            phone="+15555550100",
            financial_status="paid",
            fulfillment_status="fulfilled",
            total="42.50",
            currency="USD",
        )
        s.add(order)
        s.flush()
        s.add(
            LineItem(order_id=order.id, sku="TEE-M", name="T-shirt", quantity=2, unit_price="21.25")
        )
        s.add(
            Shipment(
                order_id=order.id,
                carrier="ups",
                tracking_number="1Z999AA10123456784",
                status="in_transit",
            )
        )
        s.add(Order(source="shopify-main", external_id="9002", number="#1002", customer_name="Ana"))
        s.flush()
        refresh_orders(s.connection(), [order.id, order.id + 1])
    store.dispose()


def test_orders_json_shape(store_url: str, cli_env: dict[str, str]) -> None:
    _seed(store_url)
    env = {**cli_env, "ORDERDECK_DB": store_url}
    listed = json.loads(run_cli("orders", "list", "--json", env=env).stdout)
    assert {o["number"] for o in listed} == {"#1001", "#1002"}
    shown = run_cli("orders", "show", "1001", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    order = json.loads(shown.stdout)
    for key in (
        "number",
        "source",
        "customer_name",
        "email",
        "phone",
        "financial_status",
        "fulfillment_status",
        "created_at",
        "total",
        "currency",
        "line_items",
        "shipments",
    ):
        assert key in order
    assert order["line_items"] == [
        {"sku": "TEE-M", "name": "T-shirt", "quantity": 2, "price": "21.25"}
    ]
    shipment = order["shipments"][0]
    assert {k: shipment[k] for k in ("carrier", "tracking_number", "status")} == {
        "carrier": "ups",
        "tracking_number": "1Z999AA10123456784",
        "status": "in_transit",
    }
    for key in ("substatus", "estimated_delivery", "attention"):
        assert key in shipment
    found = json.loads(run_cli("orders", "list", "--search", "ZOE", "--json", env=env).stdout)
    assert [o["number"] for o in found] == ["#1001"]
    by_carrier = json.loads(run_cli("orders", "list", "--carrier", "ups", "--json", env=env).stdout)
    assert [o["number"] for o in by_carrier] == ["#1001"]
    by_status = json.loads(
        run_cli("orders", "list", "--status", "unfulfilled", "--json", env=env).stdout
    )
    assert [o["number"] for o in by_status] == ["#1002"]
    assert len(json.loads(run_cli("orders", "list", "--limit", "1", "--json", env=env).stdout)) == 1


def test_human_output_shows_markup_as_typed(sqlite_url: str, cli_env: dict[str, str]) -> None:
    _seed(sqlite_url)
    env = {**cli_env, "ORDERDECK_DB": sqlite_url}
    listed = run_cli("orders", "list", env=env)
    assert "Zoë [bold]Ng[/bold]" in listed.stdout
    shown = run_cli("orders", "show", "#1001", env=env)
    assert "Zoë [bold]Ng[/bold]" in shown.stdout and "T-shirt" in shown.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["orders", "show", "404"], 3, "orderdeck: error: no order '404'"),
        (["--config", "/nonexistent/x.toml", "status"], 2, "file (given by --config)"),
        (["--db", "mysql://x/y", "status"], 1, "unsupported database"),
        (["--db", "postgresql://postgres@127.0.0.1:1/none", "status"], 1, "cannot open the store"),
        (["orders", "list", "--attention", "bogus"], 2, "is not one of"),
    ],
)
def test_errors_are_one_line_without_traceback(
    sqlite_url: str, cli_env: dict[str, str], args: list[str], code: int, message: str
) -> None:
    result = run_cli(*args, env={**cli_env, "ORDERDECK_DB": sqlite_url})
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_store_locked_by_another_process_is_a_clear_error(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    import sqlite3

    db = tmp_path / "locked.db"
    config = tmp_path / "c.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{db}"\nbusy_timeout_ms = 200\n')
    assert run_cli("--config", str(config), "db", "upgrade", env=cli_env).returncode == 0
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        result = run_cli(
            "--config", str(config), "notify", "suppress", "ada@example.com", env=cli_env
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 1, result.stderr
    assert "orderdeck: error: the store is busy" in result.stderr, result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def test_missing_config_names_the_variable_that_gave_it(cli_env: dict[str, str]) -> None:
    result = run_cli("status", env={**cli_env, "ORDERDECK_CONFIG": "/nonexistent/y.toml"})
    assert result.returncode == 2
    assert "/nonexistent/y.toml: no such configuration file (given by ORDERDECK_CONFIG)" in (
        result.stderr
    )


def test_bad_config_file_error_names_file_and_key(tmp_path: Path, cli_env: dict[str, str]) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[notify.channels.sms]\nurl = "twilio://a:b@1/{phone}"\nevents = ["nope"]\n')
    result = run_cli("--config", str(path), "status", env=cli_env)
    assert result.returncode == 2
    assert str(path) in result.stderr and "[notify.channels.sms] events" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_config_init_path_check(tmp_path: Path, cli_env: dict[str, str]) -> None:
    path = run_cli("config", "path", env=cli_env).stdout.strip()
    assert path == str(Path(cli_env["XDG_CONFIG_HOME"]) / "orderdeck" / "config.toml")
    init = run_cli("config", "init", env=cli_env)
    assert init.returncode == 0 and Path(path).is_file()
    again = run_cli("config", "init", env=cli_env)
    assert again.returncode != 0 and "--force" in again.stderr
    check = run_cli("config", "check", env=cli_env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "valid" in check.stdout


def test_newer_store_is_refused_by_every_command(sqlite_url: str, cli_env: dict[str, str]) -> None:
    import sqlalchemy as sa

    store = open_store(StoreSettings(url=sqlite_url))
    with store.write_connection() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    store.dispose()
    env = {**cli_env, "ORDERDECK_DB": sqlite_url}
    for args in (["orders", "list"], ["status"], ["db", "upgrade"]):
        result = run_cli(*args, env=env)
        assert result.returncode != 0
        assert "9999" in result.stderr and "newer" in result.stderr
