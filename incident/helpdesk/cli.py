"""Command line for the helpdesk: `flask --app wsgi helpdesk backfill --since 2026-12-01`."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import click
from flask import current_app
from flask.cli import AppGroup

from ..tickets.ingest import IngestResult
from .intake import follow_export
from .sync import helpdesk_for

helpdesk_cli = AppGroup("helpdesk", help="The connected helpdesk (Zendesk).")


def _since(ctx, param, value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: use a date such as 2026-12-01 or a time with an offset.") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


@helpdesk_cli.command("backfill")
@click.option("--since", required=True, callback=_since, help="Load tickets changed since this date (UTC).")
def backfill(since: datetime):
    """Load the helpdesk's tickets changed since a date, as the webhook would have, with progress."""
    app = current_app._get_current_object()   # type: ignore[attr-defined]
    if helpdesk_for(app).sandbox:
        raise click.ClickException("ZENDESK_URL is not set: there is no helpdesk to load from.")
    totals = IngestResult()

    def progress(seen: int, result: IngestResult) -> None:
        totals.created += result.created
        totals.updated += result.updated
        totals.unchanged += result.unchanged
        totals.linked += result.linked
        click.echo(f"{seen:,} tickets read: {totals.created:,} new, {totals.updated:,} updated, "
                   f"{totals.unchanged:,} unchanged, {totals.linked:,} linked by rules", err=True)

    seen = follow_export(app, pages=1_000_000, name=f"backfill:{since.isoformat()}"[:40], start=since,
                         progress=progress, wait=time.sleep)
    click.echo(f"done: {seen:,} tickets since {since.date().isoformat()}")
