"""Command line for tickets: `flask --app wsgi tickets import FILE.csv` (a helpdesk export)."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from ..errors import AppError
from .csv_import import field_name, import_csv

tickets_cli = AppGroup("tickets", help="Helpdesk tickets.")
MAX_LISTED = 50


def column_option(field_name, example: str):
    """A click callback reading `--column FIELD=HEADER` (repeatable) as {field: header}."""
    def read(ctx, param, values) -> dict[str, str]:
        mapping = {}
        for value in values:
            name, sep, header = value.partition("=")
            if not sep or not name.strip() or not header.strip():
                raise click.BadParameter(f"{value!r}: use FIELD=HEADER, e.g. {example}.")
            try:
                mapping[field_name(name)] = header.strip()
            except AppError as error:
                raise click.BadParameter(error.message) from None
        return mapping

    return read


def run_import(run, noun: str):
    """Run a CSV import with progress on stderr; fail with every bad line when nothing was written."""
    def progress(done: int, total: int) -> None:
        click.echo(f"  {done}/{total} {noun} processed", err=True)

    try:
        result = run(progress)
    except AppError as error:
        hint = " Name the column with --column FIELD=HEADER." if error.code == "csv_missing_column" else ""
        _fail(error.message + hint)
    if not result.written:
        _list_lines(result.errors)
        _fail(f"Nothing was imported: {len(result.errors)} bad row{'s' * (len(result.errors) != 1)}. "
              "Fix them or use --skip-bad-rows.")
    click.echo(result.summary() + ".")
    return result


def report_skipped(result) -> None:
    if result.skipped:
        click.echo(f"Skipped {len(result.skipped)} bad row{'s' * (len(result.skipped) != 1)}:", err=True)
        _list_lines(result.skipped)


def _columns(ctx, param, values) -> dict[str, str]:
    return column_option(field_name, 'external_id="Ticket number"')(ctx, param, values)


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _list_lines(problems: list[tuple[int, str]]) -> None:
    for line, reason in problems[:MAX_LISTED]:
        click.echo(f"line {line}: {reason}", err=True)
    if len(problems) > MAX_LISTED:
        click.echo(f"... and {len(problems) - MAX_LISTED} more", err=True)


@tickets_cli.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--incident", "incident_id", metavar="ID", default=None,
              help="Link the imported tickets to this open incident (method \"import\").")
@click.option("--skip-bad-rows", is_flag=True,
              help="Import the good rows and list the bad ones; without it one bad row stops the import.")
@click.option("--source", default="csv", show_default=True,
              help="Source of tickets whose row has no source column (e.g. zendesk).")
@click.option("--column", "column_map", multiple=True, metavar="FIELD=HEADER", callback=_columns,
              help="Read FIELD from the column named HEADER, e.g. --column external_id=\"Numero ticket\". "
                   "Fields: external_id, source, subject, description, requester.name, requester.email, "
                   "requester.phone, tags, services, priority, status, created_at.")
def import_command(file, incident_id, skip_bad_rows, source, column_map):
    """Import tickets from a helpdesk CSV export, in one transaction, with progress."""
    result = run_import(lambda progress: import_csv(
        file, actor=None, incident=incident_id, column_map=column_map, on_error="skip" if skip_bad_rows else "abort",
        default_source=source, progress=progress), "tickets")
    if result.duplicates:
        examples = ", ".join(f"line {old} by line {new}" for old, new in result.duplicates[:5])
        click.echo(f"{len(result.duplicates)} rows repeated an earlier ticket id; the later row was kept "
                   f"({examples}{', ...' if len(result.duplicates) > 5 else ''}).")
    report_skipped(result)
