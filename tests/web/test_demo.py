"""`flask demo seed`: a working incident room for a first look, safe to run twice."""
from __future__ import annotations

from ..web_helpers import login


def test_demo_seed_gives_a_usable_room_and_is_idempotent(app, runner, client):
    first = runner.invoke(args=["demo", "seed"])
    assert first.exit_code == 0, first.output
    assert "|  Log in at http://tocsin.test/login" in first.output and "  +---" in first.output   # boxed
    password = first.output.split("password:")[1].split()[0]
    assert login(client, "ana@example.com", password).status_code == 302
    dashboard = client.get("/").get_data(as_text=True)
    assert "Login failing for EU customers" in dashboard and "Slow CSV exports" in dashboard

    second = runner.invoke(args=["demo", "seed"])
    assert second.exit_code == 0
    new_password = second.output.split("password:")[1].split()[0]
    assert new_password != password
    from ..conftest import count_rows
    counts = count_rows(app, "incidents", "tickets", "users", "broadcasts", "status_components", "maintenances")
    assert counts == {"incidents": 3, "tickets": 410, "users": 5, "broadcasts": 1, "status_components": 4,
                      "maintenances": 1}
    status_page = client.get("/status").get_data(as_text=True)
    assert "Login" in status_page and "Billing database upgrade" in status_page
    assert login(client, "ana@example.com", new_password).status_code == 302
    counts = count_rows(app, "reviews", "action_items", "known_issues")
    assert counts == {"reviews": 1, "action_items": 2, "known_issues": 2}
    assert "The mobile app signs in through another region" in status_page          # the open SEV1's workaround
    assert "Write the relay-quota runbook step" in client.get("/").get_data(as_text=True)   # overdue, on the dashboard
    on_call = client.get("/escalation").get_data(as_text=True)
    assert "on call now: <strong>cy@example.com</strong>" in on_call and "on Europe/Rome time" in on_call
