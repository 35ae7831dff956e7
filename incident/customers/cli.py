"""Command line for customers: `flask --app wsgi customers import FILE.csv` (a CRM export)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from ..errors import AppError
from ..tickets.cli import _fail, _list_lines, column_option

customers_cli = AppGroup("customers", help="Customers who hear from us during outages.")


def _columns(ctx, param, values) -> dict[str, str]:
    from .csv_import import field_name

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
    from .csv_import import import_csv

    def progress(done: int, total: int) -> None:
        click.echo(f"  {done}/{total} customers processed", err=True)

    try:
        result = import_csv(file, column_map=column_map, on_error="skip" if skip_bad_rows else "abort",
                            progress=progress)
    except AppError as error:
        hint = " Name the column with --column FIELD=HEADER." if error.code == "csv_missing_column" else ""
        _fail(error.message + hint)
    if not result.written:
        _list_lines(result.errors)
        _fail(f"Nothing was imported: {len(result.errors)} bad row{'s' * (len(result.errors) != 1)}. "
              "Fix them or use --skip-bad-rows.")
    click.echo(result.summary() + ".")
    if result.skipped:
        click.echo(f"Skipped {len(result.skipped)} bad row{'s' * (len(result.skipped) != 1)}:", err=True)
        _list_lines(result.skipped)
