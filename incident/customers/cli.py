"""Command line for customers: `flask --app wsgi customers import FILE.csv` (a CRM export)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from ..tickets.cli import column_option, report_skipped, run_import
from .csv_import import field_name, import_csv

customers_cli = AppGroup("customers", help="Customers who hear from us during outages.")


def _columns(ctx, param, values) -> dict[str, str]:
    return column_option(field_name, 'email="Indirizzo email"')(ctx, param, values)


@customers_cli.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--skip-bad-rows", is_flag=True,
              help="Import the good rows and list the bad ones; without it one bad row stops the import.")
@click.option("--column", "column_map", multiple=True, metavar="FIELD=HEADER", callback=_columns,
              help="Read FIELD from the column named HEADER, e.g. --column email=\"Indirizzo email\". "
                   "Fields: external_id, name, email, phone, slack_channel, locale, segment, channels, services.")
def import_command(file, skip_bad_rows, column_map):
    """Create or update customers from a CSV (upsert on external_id, else email), in one transaction, with progress."""
    result = run_import(lambda progress: import_csv(
        file, column_map=column_map, on_error="skip" if skip_bad_rows else "abort", progress=progress), "customers")
    report_skipped(result)
