"""CSV import of customers: column mapping, line numbers, all-or-nothing, skip mode, re-imports, the CLI."""
from __future__ import annotations

import io

import pytest

from incident.customers.cli import customers_cli
from incident.customers.csv_import import import_csv, read_rows
from incident.errors import ValidationFailed

from ..conftest import count_rows

TABLES = ("customers", "customer_services", "services")
CRM = """external_id,Name,Email,Phone,Locale,Segment,Channels,Services
C-1,Acme Srl,ops@acme.example,+39 06 1234 5678,it-IT,enterprise,"email, sms",login api
C-2,"Bolt, Inc.",hello@bolt.example,,en,smb,email,billing
C-3,Corvo,corvo@example.com,,,,,
"""
ITALIAN = ("\ufeffCodice cliente;Ragione sociale;Indirizzo email;Cellulare;Lingua\r\n"
           "IT-1;Rossi SpA;info@rossi.example;+393471234567;it\r\n"
           "IT-2;Bianchi;bianchi@example.com;;it_IT\r\n")
ITALIAN_COLUMNS = {"external_id": "Codice cliente", "name": "Ragione sociale", "email": "Indirizzo email",
                   "phone": "Cellulare", "locale": "Lingua"}
# good rows on lines 2 and 6; bad ones on 3 (email), 4 (locale), 5 (sms without phone, found only at upsert),
# 7 (channels), 8 (no external_id or email)
BAD = """external_id,email,phone,locale,channels
B-1,b1@example.com,,,
B-2,not-an-email,,,
B-3,b3@example.com,,xx,
B-4,b4@example.com,,,sms

B-5,b5@example.com,+393471234567,,sms
B-6,b6@example.com,,,fax
,,+393471234567,,
"""


def write(tmp_path, text: str, name="customers.csv") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return str(path)


def stream(text: str):
    return io.BytesIO(text.encode())


def listed(api, query=""):
    return {c["external_id"]: c for c in api.get(f"/api/v1/customers?per_page=500{query}").get_json()["items"]}


def test_a_crm_export_reads_with_the_default_names():
    rows = list(read_rows(stream(CRM)))
    assert [line for line, _, _ in rows] == [2, 3, 4]
    assert all(not problems for _, _, problems in rows)
    first = rows[0][1]
    assert (first.phone, first.locale, first.channels, first.services) == (
        "+390612345678", "it-IT", ["email", "sms"], ["api", "login"])
    assert rows[1][1].name == "Bolt, Inc."
    assert rows[2][1].model_fields_set == {"external_id", "name", "email"}  # empty cells are left out


def test_bad_rows_are_reported_by_line():
    rows = list(read_rows(stream(BAD)))
    assert [(line, sorted(problems)) for line, item, problems in rows if item is None] == [
        (3, ["email"]), (4, ["locale"]), (8, ["channels"]), (9, ["body"])]
    assert [line for line, item, _ in rows if item] == [2, 5, 7]


def test_italian_headers_semicolons_a_bom_and_crlf(api, ctx):
    result = import_csv(stream(ITALIAN), column_map=ITALIAN_COLUMNS)
    assert (result.written, result.created) == (True, 2)
    customers = listed(api)
    assert (customers["IT-1"]["name"], customers["IT-1"]["phone"], customers["IT-2"]["locale"]) == (
        "Rossi SpA", "+393471234567", "it-IT")


def test_a_file_without_external_id_or_email_column_is_refused():
    with pytest.raises(ValidationFailed) as error:
        list(read_rows(stream("Name,Phone\nAcme,+393471234567\n")))
    assert error.value.code == "csv_missing_column"
    assert '"Name", "Phone"' in error.value.message


def test_abort_mode_writes_nothing_and_reports_every_bad_line(app, ctx):
    before = count_rows(app, *TABLES)
    result = import_csv(stream(BAD))
    assert not result.written
    assert [line for line, _ in result.errors] == [3, 4, 8, 9]
    assert count_rows(app, *TABLES) == before


def test_abort_mode_also_stops_on_problems_only_the_database_shows(app, api, ctx):
    import_csv(stream("external_id,email\nC-1,taken@example.com\n"))
    before = count_rows(app, *TABLES)
    result = import_csv(stream("external_id,email,phone,channels\nC-2,new@example.com,,\n"
                               "C-3,taken@example.com,,\nC-4,c4@example.com,,sms\n"))
    assert not result.written
    assert [line for line, _ in result.errors] == [3, 4]
    assert "external_id C-1" in result.errors[0][1] and "sms needs phone" in result.errors[1][1]
    assert count_rows(app, *TABLES) == before


def test_skip_mode_imports_the_good_rows(app, api, ctx):
    result = import_csv(stream(BAD), on_error="skip")
    assert result.written
    assert [line for line, _ in result.skipped] == [3, 4, 5, 8, 9]
    assert sorted(listed(api)) == ["B-1", "B-5"]
    assert result.summary() == "Imported 2 rows: 2 created, 0 updated, 0 unchanged"


def test_importing_the_same_file_again_changes_nothing_and_empty_cells_keep_values(app, api, ctx):
    first = import_csv(stream(CRM))
    assert (first.created, first.updated) == (3, 0)
    again = import_csv(stream(CRM))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    import_csv(stream("email,segment\nops@acme.example,smb\n"))
    acme = listed(api)["C-1"]
    assert (acme["segment"], acme["locale"], acme["channels"], acme["services"]) == (
        "smb", "it-IT", ["email", "sms"], ["api", "login"])


def test_progress_after_each_chunk_and_rows_of_one_customer_across_chunks(api, ctx):
    rows = "".join(f"C-{n},c{n}@example.com,first\n" for n in range(5)) + "C-0,,last\n"
    seen = []
    result = import_csv(stream("external_id,email,name\n" + rows), chunk_size=2,
                        progress=lambda done, total: seen.append((done, total)))
    assert seen == [(2, 6), (4, 6), (6, 6)]
    assert (result.created, result.updated) == (5, 1)
    assert listed(api)["C-0"]["name"] == "last"


def test_a_crash_mid_import_writes_nothing(app, ctx, monkeypatch):
    from incident.customers import csv_import

    calls = []
    real = csv_import.upsert_customers

    def failing(items, **kw):
        calls.append(len(items))
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(items, **kw)

    monkeypatch.setattr(csv_import, "upsert_customers", failing)
    with pytest.raises(RuntimeError):
        import_csv(stream(CRM), chunk_size=2)
    assert count_rows(app, *TABLES) == {"customers": 0, "customer_services": 0, "services": 0}


# The command line ------------------------------------------------------------------------------

def run(runner, *args):
    return runner.invoke(customers_cli, ["import", *map(str, args)])


def test_cli_imports_with_progress_and_a_summary(api, runner, tmp_path):
    result = run(runner, write(tmp_path, CRM))
    assert result.exit_code == 0, result.output
    assert "3/3 customers processed" in result.output
    assert "Imported 3 rows: 3 created, 0 updated, 0 unchanged." in result.output
    assert sorted(listed(api)) == ["C-1", "C-2", "C-3"]


def test_cli_column_options(api, runner, tmp_path):
    options = [x for field, header in ITALIAN_COLUMNS.items() for x in ("--column", f"{field}={header}")]
    result = run(runner, write(tmp_path, ITALIAN), *options)
    assert result.exit_code == 0, result.output
    assert listed(api)["IT-1"]["email"] == "info@rossi.example"


def test_cli_bad_rows_abort_with_exit_1_and_line_numbers(app, runner, tmp_path):
    result = run(runner, write(tmp_path, BAD))
    assert result.exit_code == 1
    assert "line 3: email:" in result.output and "line 9: body:" in result.output
    assert "Nothing was imported: 4 bad rows" in result.output
    assert count_rows(app, "customers")["customers"] == 0


def test_cli_skip_bad_rows(api, runner, tmp_path):
    result = run(runner, write(tmp_path, BAD), "--skip-bad-rows")
    assert result.exit_code == 0, result.output
    assert "Skipped 5 bad rows:" in result.output and "line 5: channels: sms needs phone" in result.output
    assert sorted(listed(api)) == ["B-1", "B-5"]


def test_cli_file_errors_and_bad_options(app, runner, tmp_path):
    missing = run(runner, write(tmp_path, "Name\nAcme\n"))
    assert missing.exit_code == 1 and "--column FIELD=HEADER" in missing.output
    not_utf8 = tmp_path / "latin1.csv"
    not_utf8.write_bytes("email,name\ncaf\xe9@example.com,Caf\xe9\n".encode("latin-1"))
    assert run(runner, not_utf8).exit_code == 1
    assert run(runner, write(tmp_path, CRM), "--column", "colour=Colour").exit_code == 2
    assert run(runner, write(tmp_path, CRM), "--column", "nonsense").exit_code == 2
    assert count_rows(app, "customers")["customers"] == 0
