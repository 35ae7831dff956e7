"""Command line: users, tokens, the worker and demo data (`flask --app wsgi ...`)."""
from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from . import worker
from .alerts.cli import alerts_cli
from .auth.models import User
from .auth.policy import PERMISSION_ROLES
from .auth.service import (
    change_staff_role,
    create_token,
    create_user,
    deactivate_staff,
    get_user_by_email,
    reactivate_staff,
    revoke_token,
    set_password,
    set_staff_locale,
)
from .customers.cli import customers_cli
from .demo import login_banner, seed
from .errors import AppError
from .extensions import db
from .helpdesk.cli import helpdesk_cli
from .tickets.cli import tickets_cli

users = AppGroup("users", help="Staff accounts.")
tokens = AppGroup("tokens", help="API tokens.")
demo = AppGroup("demo", help="Demo data for a local trial.")


def _fail(error: AppError) -> None:
    detail = "; ".join(f"{k}: {v}" for k, v in error.details.items())
    click.echo(f"Error: {error.message}" + (f" ({detail})" if detail else ""), err=True)
    sys.exit(1)


@users.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(PERMISSION_ROLES))
@click.option("--name", default="")
@click.option("--phone", default=None, help="International form, e.g. +393471234567.")
@click.option("--slack-id", default=None, help="Slack user id (U…), to acknowledge from Slack.")
@click.option("--locale", default=None, help="BCP 47 language their pages are read aloud in (e.g. fr, de-CH).")
@click.option("--password-prompt", is_flag=True, help="Ask for a password so they can log in to the web UI.")
def users_create(email, role, name, phone, slack_id, locale, password_prompt):
    """Add a staff member with a permission role."""
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True) if password_prompt else None
    try:
        user = create_user(email, role=role, name=name, phone=phone, slack_id=slack_id, password=password,
                           locale=locale)
    except AppError as error:
        _fail(error)
    click.echo(f"Created {user.email} ({user.role}).")


def _staff_member_or_exit(email: str) -> User:
    user = get_user_by_email(email)
    if user is None:
        click.echo(f"Error: no staff member {email}.", err=True)
        sys.exit(1)
    return user


@users.command("set-locale")
@click.argument("email")
@click.argument("locale", required=False)
def users_set_locale(email, locale):
    """Set the language a staff member's pages are read aloud in (none given: the default)."""
    try:
        set_staff_locale(None, _staff_member_or_exit(email), locale)
    except AppError as error:
        _fail(error)
    click.echo(f"{email} now hears pages in {locale or 'the default language'}.")


@users.command("set-password")
@click.argument("email")
def users_set_password(email):
    """Set a staff member's web password (asked for, never an argument)."""
    user = _staff_member_or_exit(email)
    try:
        set_password(user, click.prompt("Password", hide_input=True, confirmation_prompt=True))
    except AppError as error:
        _fail(error)
    click.echo(f"Password set for {user.email}.")


@users.command("deactivate")
@click.argument("email")
def users_deactivate(email):
    """Take a staff member's access away: no more logins; their web sessions end, their tokens are revoked."""
    user = _staff_member_or_exit(email)
    try:
        deactivate_staff(None, user)
    except AppError as error:
        _fail(error)
    click.echo(f"Deactivated {user.email}.")


@users.command("reactivate")
@click.argument("email")
def users_reactivate(email):
    """Let a deactivated staff member log in again."""
    user = _staff_member_or_exit(email)
    reactivate_staff(None, user)
    click.echo(f"Reactivated {user.email}.")


@users.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(PERMISSION_ROLES))
def users_set_role(email, role):
    """Give a staff member another permission role."""
    user = _staff_member_or_exit(email)
    try:
        change_staff_role(None, user, role)
    except AppError as error:
        _fail(error)
    click.echo(f"{user.email} is now {role}.")


@users.command("list")
def users_list():
    """List staff members and their permission roles."""
    for user in db.session.scalars(select(User).order_by(User.email)):
        click.echo(f"{user.email}\t{user.role}\t{'active' if user.active else 'inactive'}\t{user.name}")


@tokens.command("create")
@click.argument("email")
@click.option("--name", default="", help="What the token is for.")
def tokens_create(email, name):
    """Print a new API token for a staff member, alone on the last line."""
    try:
        token = create_token(email, name=name)
    except AppError as error:
        _fail(error)
    click.echo("Store this token now; it is not shown again:", err=True)
    click.echo(token)


@tokens.command("revoke")
@click.argument("token_or_prefix")
def tokens_revoke(token_or_prefix):
    """Revoke a token, by the whole token or its 12-character prefix."""
    count = revoke_token(token_or_prefix)
    click.echo(f"Revoked {count} token(s).")
    if not count:
        sys.exit(1)


@click.command("worker")
def worker_command():
    """Run the scheduler: every timer fires here, every message leaves from here."""
    worker.run(current_app._get_current_object())


@demo.command("seed")
def demo_seed():
    """Load demo data (idempotent) and print the demo login."""
    email, password = seed()
    click.echo(login_banner(current_app.config["PUBLIC_BASE_URL"], email, password))


def init_app(app: Flask) -> None:
    for command in (users, tokens, demo, worker_command, tickets_cli, customers_cli, helpdesk_cli,
                    alerts_cli):
        app.cli.add_command(command)
