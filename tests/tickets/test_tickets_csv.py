"""CSV import of helpdesk exports: column mapping, line numbers, all-or-nothing, skip mode, linking, the CLI."""
from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

import pytest

from incident.errors import ValidationFailed
from incident.tickets import csv_import
from incident.tickets.cli import tickets_cli
from incident.tickets.csv_import import import_csv, parse_time, read_rows

from ..conftest import count_rows
from ..helpers import declare

DATA = Path(__file__).resolve().parents[1] / "data"
ZENDESK = DATA / "zendesk-export.csv"      # 10 rows; 4102 is a quoted description over lines 3-6
ITALIAN = DATA / "italian-export.csv"      # BOM, CRLF, ';' and Italian headers
BAD = DATA / "bad-rows.csv"                # good rows on lines 2, 5, 13; six bad ones
ITALIAN_COLUMNS = {"external_id": "Numero ticket", "subject": "Oggetto", "requester_email": "Email richiedente",
                   "tags": "Etichette", "created_at": "Data creazione"}
BAD_LINES = [(4, "requester.email"), (6, "priority"), (9, "external_id"), (10, "created_at"),
             (11, "requester.phone"), (14, "tags.1")]
TABLES = ("tickets", "customers", "ticket_link_actions", "timeline_events")


def run(runner, *args):
    return runner.invoke(tickets_cli, ["import", *map(str, args)])


def all_tickets(api, query=""):
    body = api.get(f"/api/v1/tickets?per_page=500{query}").get_json()
    return {t["external_id"]: t for t in body["items"]}


def events(api, incident_id, kind):
    return [e for e in api.get(f"/api/v1/incidents/{incident_id}/timeline").get_json()["items"] if e["kind"] == kind]


def write(tmp_path, text: str, name="export.csv", bom=False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


# Reading: pure, no database.

def test_line_numbers_are_the_editors_even_after_multiline_fields():
    with BAD.open("rb") as stream:
        rows = list(read_rows(stream))
    assert [line for line, item, _ in rows if item] == [2, 5, 13]
    assert [(line, *problems) for line, item, problems in rows if not item] == [(n, f) for n, f in BAD_LINES]


def test_a_zendesk_export_reads_with_the_default_names():
    with ZENDESK.open("rb") as stream:
        rows = list(read_rows(stream, default_source="zendesk"))
    assert [line for line, _, _ in rows] == [2, 3, 7, 8, 9, 10, 11, 12, 13, 14]
    assert all(not problems for _, _, problems in rows)
    second = rows[1][1]
    assert second.description == 'Steps:\n1. open the app\n2. press "Log in"\nIt spins forever.'
    assert (second.subject, second.priority, second.status, second.source) == (
        "Login broken, again",
        "urgent",
        "new",
        "zendesk",
    )
    first = rows[0][1]
    assert first.requester.model_dump() == {
        "name": "Mara Rossi",
        "email": "mara.rossi@example.com",
        "phone": "+393471234567",
    }
    assert first.tags == ["login", "eu"]


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2026-11-22 09:14:00", datetime(2026, 11, 22, 9, 14, tzinfo=timezone.utc)),
        ("2026-11-22T09:14:00", datetime(2026, 11, 22, 9, 14, tzinfo=timezone.utc)),
        ("2026-11-22T09:14:00Z", datetime(2026, 11, 22, 9, 14, tzinfo=timezone.utc)),
        ("2026-11-22T10:14:00+01:00", datetime(2026, 11, 22, 9, 14, tzinfo=timezone.utc)),
    ],
)
def test_times_without_an_offset_are_utc(value, expected):
    parsed = parse_time(value)
    assert parsed == expected and parsed.utcoffset() is not None


@pytest.mark.parametrize("value", ["22/11/2026 09:14", "yesterday", "2026-13-01"])
def test_unreadable_times_are_refused(value):
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_time(value)


def test_semicolons_custom_headers_a_bom_and_crlf():
    with ITALIAN.open("rb") as stream:
        rows = list(read_rows(stream, column_map=ITALIAN_COLUMNS))
    assert [(line, item.external_id) for line, item, _ in rows] == [(2, "IT-1"), (3, "IT-2"), (4, "IT-3"), (5, "IT-4")]
    assert rows[0][1].subject == "Impossibile accedere, errore 502"
    assert rows[2][1].subject == "Pagamento rifiutato; la carta è valida"
    assert rows[2][1].tags == ["pagamenti", "eu"]
    assert rows[0][1].requester.email == "giulia@example.it"


@pytest.mark.parametrize("as_text", [False, True])
def test_a_bom_before_the_id_header_is_ignored(as_text):
    text = "\ufeffId,Subject\nA-1,Hello\n"
    stream = io.StringIO(text, newline="") if as_text else io.BytesIO(text.encode())
    assert [(line, item.external_id) for line, item, _ in read_rows(stream)] == [(2, "A-1")]
    assert not stream.closed  # the caller's stream stays theirs


def test_a_missing_id_column_is_a_file_error_naming_the_columns_found():
    with pytest.raises(ValidationFailed) as caught:
        list(read_rows(io.BytesIO(b"Numero ticket;Oggetto\n1;Ciao\n")))
    assert caught.value.code == "csv_missing_column"
    assert '"Numero ticket", "Oggetto"' in caught.value.message
    with pytest.raises(ValidationFailed, match='No column "Ticket No"'):
        list(read_rows(io.BytesIO(b"id,subject\n1,x\n"), column_map={"external_id": "Ticket No"}))


def test_priority_and_status_are_lowercased_and_unknown_values_are_row_errors():
    text = "id,priority,status\n1,HIGH,Pending\n2,Apocalyptic,open\n3,low,Escalated\n"
    rows = list(read_rows(io.BytesIO(text.encode())))
    assert (rows[0][1].priority, rows[0][1].status) == ("high", "pending")
    assert [(line, list(problems)) for line, _, problems in rows[1:]] == [(3, ["priority"]), (4, ["status"])]


# Importing.


def test_abort_mode_writes_nothing_and_reports_every_bad_line(app, ctx):
    before = count_rows(app, *TABLES)
    with BAD.open("rb") as stream:
        result = import_csv(stream, actor=None)
    assert not result.written and result.imported == 0 and result.rows == 9
    assert [line for line, _ in result.errors] == [n for n, _ in BAD_LINES]
    assert result.errors[0][1].startswith("requester.email: ")
    assert count_rows(app, *TABLES) == before


def test_skip_mode_imports_the_good_rows(app, api, ctx):
    with BAD.open("rb") as stream:
        result = import_csv(stream, actor=None, on_error="skip")
    assert result.written and (result.created, result.imported) == (3, 3)
    assert [line for line, _ in result.skipped] == [n for n, _ in BAD_LINES]
    assert set(all_tickets(api)) == {"B-1", "B-3", "B-8"}


def test_a_zendesk_export_lands_as_tickets(api, ctx):
    with ZENDESK.open("rb") as stream:
        result = import_csv(stream, actor=None, default_source="zendesk")
    assert (result.rows, result.created, result.updated, result.unchanged, result.linked) == (10, 10, 0, 0, 0)
    tickets = all_tickets(api)
    assert tickets["4102"]["description"].count("\n") == 3 and tickets["4102"]["source"] == "zendesk"
    assert tickets["4101"]["created_at"] == "2026-11-22T09:14:00+00:00"
    assert tickets["4103"]["created_at"] == "2026-11-22T09:16:00+00:00"
    assert tickets["4104"]["priority"] is None and tickets["4104"]["requester"]["phone"] == "+442079460958"


def test_importing_the_same_file_again_creates_nothing(app, ctx):
    with ZENDESK.open("rb") as stream:
        import_csv(stream, actor=None)
    before = count_rows(app, *TABLES)
    with ZENDESK.open("rb") as stream:
        again = import_csv(stream, actor=None)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 10)
    assert count_rows(app, *TABLES) == before


def test_progress_after_each_chunk(ctx):
    calls = []
    with ZENDESK.open("rb") as stream:
        result = import_csv(stream, actor=None, chunk_size=3, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(3, 10), (6, 10), (9, 10), (10, 10)]
    assert result.created == 10


def test_the_last_row_of_a_ticket_wins_across_chunks(api, tmp_path, ctx):
    path = write(tmp_path, "id,subject\nD-1,first\nD-2,other\nD-3,other\nD-1,second\nD-1,third\n")
    with path.open("rb") as stream:
        result = import_csv(stream, actor=None, chunk_size=2)
    assert (result.rows, result.created, result.updated, result.imported) == (5, 3, 0, 5)
    assert result.duplicates == [(2, 5), (5, 6)]
    assert all_tickets(api)["D-1"]["subject"] == "third"


def test_a_crash_mid_import_writes_nothing(app, ctx, monkeypatch):
    real, calls = csv_import.ingest_tickets, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(csv_import, "ingest_tickets", failing)
    with ZENDESK.open("rb") as stream, pytest.raises(RuntimeError):
        import_csv(stream, actor=None, chunk_size=4)
    assert count_rows(app, "tickets", "customers") == {"tickets": 0, "customers": 0}


def test_an_incident_gets_the_tickets_linked_with_method_import_in_one_event(api, runner):
    incident = declare(api)
    result = run(runner, ZENDESK, "--incident", incident["id"], "--source", "zendesk")
    assert result.exit_code == 0, result.output
    assert f"Imported 10 rows: 10 created, 0 updated, 0 unchanged, 10 linked to {incident['reference']}." in result.stdout
    linked = api.get(f"/api/v1/incidents/{incident['id']}/tickets?per_page=50").get_json()["items"]
    assert len(linked) == 10 and {t["link_method"] for t in linked} == {"import"}
    [event] = events(api, incident["id"], "tickets_linked")
    assert (event["data"]["count"], event["data"]["method"], event["actor"]) == (10, "import", "system")


def test_a_large_import_links_in_one_event_including_tickets_already_there(api, ctx):
    """Chunks do not multiply events, and tickets that arrived by API earlier are linked too."""
    incident = declare(api)
    with ZENDESK.open("rb") as stream:
        import_csv(stream, actor=None, default_source="zendesk", chunk_size=100)  # unlinked, before
    with ZENDESK.open("rb") as stream:
        result = import_csv(stream, actor=None, incident=incident["id"], default_source="zendesk", chunk_size=3)
    assert (result.unchanged, result.linked) == (10, 10)
    [event] = events(api, incident["id"], "tickets_linked")
    assert event["data"]["count"] == 10


# The command line.


def test_cli_imports_with_progress_and_a_summary(api, runner):
    result = run(runner, ZENDESK)
    assert result.exit_code == 0, result.output
    assert result.stdout == "Imported 10 rows: 10 created, 0 updated, 0 unchanged.\n"
    assert "10/10 tickets processed" in result.stderr
    assert {t["source"] for t in all_tickets(api).values()} == {"csv"}
    again = run(runner, ZENDESK)
    assert again.stdout == "Imported 10 rows: 0 created, 0 updated, 10 unchanged.\n"


def test_cli_italian_export_with_column_options(api, runner):
    columns = [arg for field, header in ITALIAN_COLUMNS.items() for arg in ("--column", f"{field}={header}")]
    result = run(runner, ITALIAN, *columns)
    assert result.exit_code == 0, result.output
    assert "Imported 4 rows: 4 created" in result.stdout
    assert all_tickets(api)["IT-3"]["created_at"] == "2026-11-22T10:30:00+00:00"


def test_cli_bad_rows_abort_with_exit_1_and_line_numbers(app, runner):
    before = count_rows(app, *TABLES)
    result = run(runner, BAD)
    assert result.exit_code == 1
    assert "line 4: requester.email: An email address must have an @-sign." in result.stderr
    assert "line 14: tags.1: not a tag" in result.stderr
    assert result.stderr.strip().endswith("Nothing was imported: 6 bad rows. Fix them or use --skip-bad-rows.")
    assert result.stdout == ""
    assert count_rows(app, *TABLES) == before


def test_cli_skip_bad_rows(api, runner):
    result = run(runner, BAD, "--skip-bad-rows")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Imported 3 rows: 3 created, 0 updated, 0 unchanged.\n"
    assert "Skipped 6 bad rows:" in result.stderr and "line 10: created_at: not a date and time" in result.stderr
    assert len(all_tickets(api)) == 3


def test_cli_lists_at_most_50_bad_lines(runner, tmp_path):
    path = write(tmp_path, "id,email\n" + "".join(f"X-{n},nobody\n" for n in range(60)))
    result = run(runner, path)
    assert result.exit_code == 1
    listed = [line for line in result.stderr.splitlines() if line.startswith("line ")]
    assert len(listed) == 50 and listed[0].startswith("line 2: requester.email:")
    assert "... and 10 more" in result.stderr and "60 bad rows" in result.stderr


def test_cli_file_level_errors_exit_1(runner, tmp_path):
    missing = run(runner, write(tmp_path, "Numero;Oggetto\n1;Ciao\n"))
    assert missing.exit_code == 1
    assert 'Columns found: "Numero", "Oggetto".' in missing.stderr and "--column FIELD=HEADER" in missing.stderr
    empty = run(runner, write(tmp_path, "", name="empty.csv"))
    assert empty.exit_code == 1 and "The file is empty" in empty.stderr
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("id,subject\n1,Perché\n".encode("latin-1"))
    assert "not UTF-8" in run(runner, latin1).stderr


def test_cli_bom_file(api, runner, tmp_path):
    result = run(runner, write(tmp_path, "Ticket ID,Title\r\nT-1,Hello\r\n", bom=True))
    assert result.exit_code == 0, result.output
    assert all_tickets(api)["T-1"]["subject"] == "Hello"


def test_cli_refuses_unknown_and_resolved_incidents(app, api, runner):
    assert run(runner, ZENDESK, "--incident", "999").exit_code == 1
    assert "No incident 999." in run(runner, ZENDESK, "--incident", "999").stderr
    incident = declare(api)
    api.post(f"/api/v1/incidents/{incident['id']}/updates", json={"status": "resolved", "message": "done"})
    resolved = run(runner, ZENDESK, "--incident", incident["id"])
    assert resolved.exit_code == 1 and "is resolved" in resolved.stderr
    assert count_rows(app, "tickets")["tickets"] == 0


def test_cli_bad_options(runner):
    assert run(runner, ZENDESK, "--column", "external_id").exit_code == 2
    unknown = run(runner, ZENDESK, "--column", "colour=Colore")
    assert unknown.exit_code == 2 and "Unknown field 'colour'" in unknown.output
    bad_source = run(runner, ZENDESK, "--source", "Help Desk")
    assert bad_source.exit_code == 1 and "Source 'Help Desk'" in bad_source.stderr
