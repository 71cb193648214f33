"""``orderdeck config``: where the file is, what is in force, whether it is valid."""

from __future__ import annotations

import os
from pathlib import Path

import click

from orderdeck import config as config_mod
from orderdeck import tomlout
from orderdeck.cli.common import AppContext, json_option, pass_app, print_json


@click.group("config")
def config_group() -> None:
    """Create, locate, show and check the configuration."""


@config_group.command("path")
@pass_app
def path(app: AppContext) -> None:
    """Print the configuration file in use (whether or not it exists)."""
    if app.config_path:
        click.echo(str(Path(app.config_path).expanduser()))
    elif os.environ.get(config_mod.ENV_CONFIG):
        click.echo(str(Path(os.environ[config_mod.ENV_CONFIG]).expanduser()))
    else:
        click.echo(str(config_mod.default_config_path()))


@config_group.command("init")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@pass_app
def init(app: AppContext, force: bool) -> None:
    """Write a commented example configuration to the configuration path."""
    target = Path(
        app.config_path or os.environ.get(config_mod.ENV_CONFIG) or config_mod.default_config_path()
    ).expanduser()
    if target.exists() and not force:
        raise click.ClickException(f"{target} exists; use --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(config_mod.example_config_text(), encoding="utf-8")
    target.chmod(0o600)
    click.echo(f"wrote {target}")


@config_group.command("show")
@json_option
@pass_app
def show(app: AppContext, as_json: bool) -> None:
    """Print the configuration in force, defaults included, secrets masked."""
    cfg = app.config
    data = config_mod.masked(config_mod.effective(cfg))
    if as_json:
        print_json({"path": str(cfg.path), "exists": cfg.exists, "config": data})
        return
    state = "" if cfg.exists else " (does not exist: defaults)"
    click.echo(f"# {cfg.path}{state}")
    click.echo(tomlout.dumps(data), nl=False)


@config_group.command("check")
@json_option
@pass_app
def check(app: AppContext, as_json: bool) -> None:
    """Validate the configuration without contacting anything; exit 2 if it is invalid."""
    cfg = app.config
    from orderdeck.checks import carrier_report

    carriers = carrier_report(cfg)
    problems = [c for c in carriers if c["missing"]]
    if as_json:
        print_json(
            {
                "path": str(cfg.path),
                "exists": cfg.exists,
                "valid": True,
                "warnings": list(cfg.warnings),
                "carriers": carriers,
                "channels": sorted(cfg.notify.channels),
                "drop_folders": [str(f.path) for f in cfg.sync.ingest.drop_folders],
            }
        )
        return
    click.echo(f"{cfg.path}: {'valid' if cfg.exists else 'no file; the defaults are valid'}")
    for warning in cfg.warnings:
        click.echo(f"warning: {warning}")
    for c in carriers:
        if c["missing"]:
            click.echo(f"carrier {c['code']}: missing {', '.join(c['missing'])}")
        else:
            click.echo(f"carrier {c['code']}: configured ({c['name']})")
    for folder in cfg.sync.ingest.drop_folders:
        exists = "" if folder.path.is_dir() else " (does not exist yet)"
        click.echo(
            f"drop folder {folder.path}: format {folder.format}, source {folder.source}{exists}"
        )
    for name, channel in cfg.notify.channels.items():
        click.echo(
            f"channel {name}: {channel.kind} to {channel.audience}, events {', '.join(channel.events) or 'none'}"
        )
    if problems:
        raise click.exceptions.Exit(2)


def register(cli: click.Group) -> None:
    cli.add_command(config_group)
