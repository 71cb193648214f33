"""``orderdeck import`` through the real entry point."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import run_cli


def test_import_summary_and_json(store_url: str, cli_env: dict[str, str], files: Path) -> None:
    env = {**cli_env, "ORDERDECK_DB": store_url}
    done = run_cli(
        "import", str(files / "shopify_orders.csv"), str(files / "shopify_bad_rows.csv"), env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no progress bar on a pipe
    lines = done.stdout.splitlines()
    assert lines[0].startswith("✓ ") and "shopify_orders.csv (shopify -> shopify)" in lines[0]
    assert "5 orders created, 0 updated, 8 line items, 0 shipments" in lines[0]
    assert lines[1].startswith("! ") and "6 rows rejected" in lines[1]
    assert "    row 4, column 'Lineitem quantity': quantity -2 is negative" in lines
    assert lines[-1].startswith("2 files: 2 imported, 0 already imported, 0 rejected")

    again = run_cli(
        "import", str(files / "shopify_orders.csv"), "--json", "--source", "other", env=env
    )
    # --source names a new source, but the bytes were imported: skipped all the same.
    data = json.loads(again.stdout)
    for key in (
        "files",
        "orders_created",
        "orders_updated",
        "line_items",
        "shipments_created",
        "rows_rejected",
        "errors",
    ):
        assert key in data
    assert data["files"][0]["outcome"] == "duplicate"
    assert data["orders_created"] == 0 and again.returncode == 0

    later = run_cli("import", str(files / "shopify_orders_later.csv"), "--json", env=env)
    data = json.loads(later.stdout)
    assert (data["orders_created"], data["orders_updated"], data["line_items"]) == (1, 2, 4)


def test_folder_argument_rejections_and_exit_code(
    sqlite_url: str, cli_env: dict[str, str], files: Path, tmp_path: Path
) -> None:
    env = {**cli_env, "ORDERDECK_DB": sqlite_url}
    folder = tmp_path / "batch"
    folder.mkdir()
    for name in ("shopify_orders.csv", "empty.csv", "tracking.csv", "orders.json"):
        shutil.copy(files / name, folder / name)
    (folder / "skip.csv.part").write_text("Name\n")
    (folder / "sub").mkdir()
    done = run_cli("import", str(folder), "--json", "--source", "shop", env=env)
    assert done.returncode == 1, done.stderr  # a file was rejected whole
    data = json.loads(done.stdout)
    assert [Path(f["file"]).name for f in data["files"]] == [
        "empty.csv",
        "orders.json",
        "shopify_orders.csv",
        "tracking.csv",
    ]
    assert data["files_rejected"] == 1
    assert {"file": str(folder / "empty.csv"), "row": None, "column": None,
            "reason": "the file is empty"} in data["errors"]  # fmt: skip
    # The tracking file came after the orders it points at (sorted by name).
    assert data["shipments_created"] == 4
    assert {
        "file": str(folder / "tracking.csv"),
        "row": 5,
        "column": None,
        "reason": "no order #9999 in the store; import the order before its tracking number",
    } in data["errors"]
    # Files given on the command line stay where they are.
    assert (folder / "empty.csv").exists() and (folder / "tracking.csv").exists()
    text = run_cli("import", str(folder / "empty.csv"), env=env)
    assert text.returncode == 1
    assert "rejected: the file is empty" in text.stdout


def test_bad_arguments(sqlite_url: str, cli_env: dict[str, str], files: Path) -> None:
    env = {**cli_env, "ORDERDECK_DB": sqlite_url}
    missing = run_cli("import", "/nonexistent/orders.csv", env=env)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    fmt = run_cli("import", str(files / "tracking.csv"), "--format", "xml", env=env)
    assert fmt.returncode == 2 and "'xml' is not one of auto, shopify" in fmt.stderr
    forced = run_cli("import", str(files / "tracking.csv"), "--format", "woocommerce", env=env)
    assert forced.returncode == 1
    assert "not a WooCommerce order export" in forced.stdout
    assert "Traceback" not in forced.stderr


def test_drop_folder_settings_apply_to_files_given(
    sqlite_url: str, cli_env: dict[str, str], files: Path, tmp_path: Path
) -> None:
    drop = tmp_path / "erp-drop"
    drop.mkdir()
    shutil.copy(files / "erp_orders.csv", drop / "erp_orders.csv")
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[sync.formats.erp]
delimiter = ";"
date_format = "%d/%m/%Y %H:%M"
[sync.formats.erp.columns]
number = "Order No"
created_at = "Date"
customer_name = "Customer"
email = "E-mail"
sku = "Article"
name = "Description"
quantity = "Qty"
price = "Unit price"
tracking_number = "Parcel"
carrier = "Forwarder"

[[sync.drop_folders]]
path = "{drop}"
format = "erp"
source = "erp-main"
""",
        encoding="utf-8",
    )
    env = {**cli_env, "ORDERDECK_DB": sqlite_url, "ORDERDECK_CONFIG": str(config)}
    done = run_cli("import", str(drop / "erp_orders.csv"), "--json", env=env)
    assert done.returncode == 0, done.stderr
    (result,) = json.loads(done.stdout)["files"]
    assert (result["format"], result["source"]) == ("erp", "erp-main")
    shown = run_cli("orders", "show", "E-100", "--json", env=env)
    assert json.loads(shown.stdout)["line_items"][1]["price"] == "10.00"


def test_config_column_maps_are_checked(cli_env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[sync.formats.mine.columns]\nnumber = "No"\ncolour = "Colour"\n', encoding="utf-8"
    )
    env = {**cli_env, "ORDERDECK_CONFIG": str(config)}
    checked = run_cli("config", "check", env=env)
    assert checked.returncode != 0
    assert f"{config}: [sync.formats.mine.columns] colour: expected an orderdeck field" in (
        checked.stderr + checked.stdout
    )
    config.write_text(
        '[sync.formats.mine]\nkind = "tracking"\n[sync.formats.mine.columns]\nnumber = "No"\n',
        encoding="utf-8",
    )
    checked = run_cli("config", "check", env=env)
    assert "tracking_number: expected a column for tracking_number" in (
        checked.stderr + checked.stdout
    )
