"""Command line for alert sources: `flask --app wsgi alerts token create NAME`, and the rules in force."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from ..errors import AppError
from .sources import create_source_token, list_sources, revoke_source

alerts_cli = AppGroup("alerts", help="Monitoring alerts in (Alertmanager, Grafana).")
token_cli = AppGroup("token", help="Alert sources' bearer tokens.")
alerts_cli.add_command(token_cli)


@token_cli.command("create")
@click.argument("name")
def token_create(name: str):
    """Print a new bearer token for the alert source NAME, alone on the last line (only its hash is kept)."""
    try:
        token = create_source_token(name)
    except AppError as error:
        raise click.ClickException(error.message) from None
    click.echo("Store this token now; it is not shown again:", err=True)
    click.echo(token)


@token_cli.command("revoke")
@click.argument("name")
def token_revoke(name: str):
    """Revoke the alert source NAME's token: what it sends is refused from now on."""
    try:
        revoke_source(name)
    except AppError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Revoked the token of {name}.")


@token_cli.command("list")
def token_list():
    """List alert sources: name, token prefix, live or revoked, last used."""
    for source in list_sources():
        state = f"revoked {source.revoked_at:%Y-%m-%d %H:%M}" if source.revoked_at else "live"
        used = f"{source.last_used_at:%Y-%m-%d %H:%M}" if source.last_used_at else "never"
        click.echo(f"{source.name}\t{source.prefix}…\t{state}\tlast used {used}")


@alerts_cli.command("rules")
def rules():
    """Print the ALERT_RULES in force, in the order they are tried."""
    found = current_app.config["ALERT_RULES"]
    if not found:
        click.echo("No alert rules (ALERT_RULES is unset): alerts never declare on their own.")
    for number, rule in enumerate(found, 1):
        click.echo(f"{number}. {rule}  →  declare {rule.severity}"
                   + (f", page {rule.level}" if rule.level else ", page nobody"))
