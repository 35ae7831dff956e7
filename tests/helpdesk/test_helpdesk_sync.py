"""Links, unlinks, merges and solves land on the real helpdesk tickets (against the Zendesk stand-in)."""
from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from incident import clock
from incident.extensions import db
from incident.helpdesk import sync
from incident.helpdesk.models import HelpdeskSync
from incident.outbox import budget

from ..helpers import declare
from ..zendesk_stand_in import ZD_EMAIL, ZD_TOKEN
from .support import both_sides, helpdesk_rows, sync_until_idle


def link_all(api, incident_id, tags=("login",)):
    response = api.post(f"/api/v1/incidents/{incident_id}/tickets", json={"filter": {"tags": list(tags)}})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_link_makes_one_problem_ticket_and_every_linked_ticket_its_incident(app, api, connected):
    zendesk = connected
    incident = declare(api)
    ids = both_sides(api, zendesk, 250)
    assert link_all(api, incident["id"])["linked"] == 250

    # the request writes two rows, however many tickets: the parent ticket to make, and the plan
    assert [(r.recipient, r.headers["action"]) for r in helpdesk_rows(app)] == [("plan", "link")]
    assert sync.expand_plans(app) == 250                # the worker turns it into the parent ticket and jobs
    rows = helpdesk_rows(app)
    assert [(r.recipient, r.status) for r in rows] == [("plan", "delivered"), ("parent", "queued"),
                                                       *[("link", "queued")] * 3]
    assert sorted(len(r.headers["ids"]) for r in rows[2:]) == [50, 100, 100]
    assert zendesk.requests == []                      # nothing leaves from the web request

    sync_until_idle(app)
    problems = [t for t in zendesk.tickets.values() if t["type"] == "problem"]
    assert len(problems) == 1 and f"INC-{incident['id']}" in problems[0]["subject"]
    assert f"http://tocsin.test/incidents/{incident['id']}" in problems[0]["comments"][0]["body"]
    for i in ids:
        t = zendesk.tickets[i]
        assert (t["type"], t["problem_id"]) == ("incident", problems[0]["id"])
        assert f"tocsin_inc_{incident['id']}" in t["tags"]
    assert len(zendesk.calls("update_many", "PUT")) == 3
    assert all(len(c.query["ids"].split(",")) <= 100 for c in zendesk.calls("update_many"))

    view = api.get(f"/api/v1/incidents/{incident['id']}/helpdesk").get_json()
    assert view == {"problem_ticket_id": str(problems[0]["id"]), "linked": 250, "synced": 250, "pending": 0,
                    "failed_count": 0, "failed": [], "jobs_running": 0}
    events = [e for e in api.get(f"/api/v1/incidents/{incident['id']}/timeline?per_page=500").get_json()["items"]
              if e["kind"].startswith("helpdesk")]
    assert [e["kind"] for e in events] == ["helpdesk_queued", "helpdesk_parent_created", "helpdesk_synced"]
    assert events[-1]["data"] == {"action": "link", "synced": 250, "failed": 0}


def test_tickets_from_elsewhere_are_left_alone(app, api, connected):
    incident = declare(api)
    api.post("/api/v1/tickets", json={"external_id": "FD-1", "source": "freshdesk", "tags": ["login"]})
    link_all(api, incident["id"])
    assert helpdesk_rows(app) == []
    assert api.get(f"/api/v1/incidents/{incident['id']}/helpdesk").get_json()["linked"] == 0


def test_a_ticket_zendesk_refuses_fails_alone_with_its_reason_and_can_be_retried(app, api, connected):
    zendesk = connected
    incident = declare(api)
    ids = both_sides(api, zendesk, 5)
    zendesk.fail_ticket(ids[2], details="Ticket is closed")
    link_all(api, incident["id"])
    sync_until_idle(app)

    view = api.get(f"/api/v1/incidents/{incident['id']}/helpdesk").get_json()
    assert (view["synced"], view["failed_count"]) == (4, 1)
    assert view["failed"] == [{"external_id": str(ids[2]), "reason": "Ticket is closed"}]
    assert zendesk.tickets[ids[2]]["problem_id"] is None

    zendesk.heal_ticket(ids[2])
    retried = api.post(f"/api/v1/incidents/{incident['id']}/helpdesk/retry").get_json()
    assert retried["jobs"] == 1 and retried["pending"] == 1
    sync_until_idle(app)
    view = api.get(f"/api/v1/incidents/{incident['id']}/helpdesk").get_json()
    assert (view["synced"], view["failed_count"], view["failed"]) == (5, 0, [])
    assert zendesk.tickets[ids[2]]["type"] == "incident"


def test_the_retry_needs_a_lead(api_as, api, connected):
    incident = declare(api)
    assert api_as("agent", "agent@example.com").post(f"/api/v1/incidents/{incident['id']}/helpdesk/retry").status_code == 403
    assert api_as("viewer", "v@example.com").get(f"/api/v1/incidents/{incident['id']}/helpdesk").status_code == 200


def test_unlink_takes_the_ticket_off_the_problem_and_its_tag_off(app, api, connected):
    zendesk = connected
    incident = declare(api)
    ids = both_sides(api, zendesk, 3)
    link_all(api, incident["id"])
    sync_until_idle(app)
    assert api.delete(f"/api/v1/incidents/{incident['id']}/tickets/{ids[0]}").status_code == 200
    sync_until_idle(app)
    assert zendesk.tickets[ids[0]]["problem_id"] is None
    assert f"tocsin_inc_{incident['id']}" not in zendesk.tickets[ids[0]]["tags"]
    assert zendesk.tickets[ids[1]]["problem_id"] is not None


def test_merge_moves_the_tickets_to_the_parent_incidents_problem(app, api, connected):
    zendesk = connected
    duplicate, parent = declare(api, title="Login 502s"), declare(api, title="Login down")
    ids = both_sides(api, zendesk, 4)
    link_all(api, duplicate["id"])
    sync_until_idle(app)
    assert api.post(f"/api/v1/incidents/{duplicate['id']}/merge", json={"into": parent["id"]}).status_code == 200
    both_sides(api, zendesk, 2, tags=("billing",), start=100)
    link_all(api, parent["id"], tags=("billing",))
    sync_until_idle(app)

    problem = api.get(f"/api/v1/incidents/{parent['id']}/helpdesk").get_json()["problem_ticket_id"]
    for i in ids:
        tags = zendesk.tickets[i]["tags"]
        assert str(zendesk.tickets[i]["problem_id"]) == problem
        assert f"tocsin_inc_{parent['id']}" in tags and f"tocsin_inc_{duplicate['id']}" not in tags
    assert api.get(f"/api/v1/incidents/{parent['id']}/helpdesk").get_json()["synced"] == 6


def resolve(api, incident_id, solve=True):
    if solve:
        assert api.patch(f"/api/v1/incidents/{incident_id}", json={"solve_tickets_on_resolve": True}).status_code == 200
    response = api.post(f"/api/v1/incidents/{incident_id}/updates", json={"status": "resolved", "message": "Fixed."})
    assert response.status_code == 201, response.get_json()


def test_resolving_solves_each_ticket_with_one_reply_in_the_requesters_language(app, api, connected):
    zendesk = connected
    incident = declare(api)
    english = both_sides(api, zendesk, 3)
    italian = both_sides(api, zendesk, 2, start=50, locale="it")
    with app.app_context():  # the requesters' language, as the webhook or the export would have brought it
        from incident.helpdesk.intake import ingest_remote
        from incident.helpdesk.zendesk import parse_ticket
        with zendesk.lock:
            remote = [parse_ticket(zendesk.tickets[i], zendesk.users) for i in italian]
        ingest_remote(remote)
        db.session.commit()
    link_all(api, incident["id"])
    sync_until_idle(app)
    resolve(api, incident["id"])
    sync.expand_plans(app)
    solves = helpdesk_rows(app, recipient="solve")
    assert len(solves) == 2                               # one job per language, each with one text
    sync_until_idle(app)

    for i in english + italian:
        assert zendesk.tickets[i]["status"] == "solved"
        assert len(zendesk.comments_on(i, public=True)) == 1
    english_reply = zendesk.comments_on(english[0], public=True)[0]["body"]
    italian_reply = zendesk.comments_on(italian[0], public=True)[0]["body"]
    assert english_reply != italian_reply and f"INC-{incident['id']}" in english_reply
    assert "unsubscribe" not in english_reply.lower()


def test_a_worker_killed_after_zendesk_took_the_job_never_sends_a_reply_twice(app, api, connected):
    zendesk = connected
    zendesk.job_polls = 1
    incident = declare(api)
    ids = both_sides(api, zendesk, 120)
    link_all(api, incident["id"])
    sync_until_idle(app)
    resolve(api, incident["id"])

    def die(*args, **kwargs):   # the process dies here: Zendesk has the job, Tocsin has not written it down
        raise SystemExit("killed")

    sync.expand_plans(app)
    record = sync._record
    sync._record = die
    try:
        with pytest.raises(SystemExit):
            sync.submit_due(app)
    finally:
        sync._record = record
    assert {r.status for r in helpdesk_rows(app, recipient="solve")} == {"sending"}
    with zendesk.lock:
        taken = [job_id for job_id, job in zendesk.jobs.items() if job.status != "completed"]
    assert len(taken) == 2                                  # Zendesk has both jobs of 100 and 20 tickets ...
    for job_id in taken:                                    # ... and works them off on its own
        requests.get(f"{zendesk.url}/api/v2/job_statuses/{job_id}.json", auth=(f"{ZD_EMAIL}/token", ZD_TOKEN), timeout=5)

    clock.advance(seconds=app.config["DISPATCH_LEASE_SECONDS"] + 1)   # the lease runs out; another worker goes on
    sync_until_idle(app)
    for i in ids:
        assert len(zendesk.comments_on(i, public=True)) == 1, i
        assert zendesk.tickets[i]["status"] == "solved"
    view = api.get(f"/api/v1/incidents/{incident['id']}/helpdesk").get_json()
    assert (view["synced"], view["failed_count"]) == (120, 0)
    with app.app_context():
        reasons = set(db.session.scalars(select(HelpdeskSync.reason).where(HelpdeskSync.action == "solve")))
    assert reasons == {"done before a restart"}


def test_zendesk_saying_429_is_waited_out_as_it_asks(app, api, connected):
    zendesk = connected
    incident = declare(api)
    both_sides(api, zendesk, 2)
    link_all(api, incident["id"])
    zendesk.fail_next(429, count=1, path_contains="tickets.json", retry_after=30)
    sync.run(app)
    parent = helpdesk_rows(app, recipient="parent")[0]
    assert parent.status == "queued" and "429" in parent.error
    assert (parent.next_attempt_at - clock.utcnow()).total_seconds() == 30
    clock.advance(seconds=29)
    sync.run(app)
    assert len(zendesk.calls("tickets.json", "POST")) == 1
    clock.advance(seconds=2)
    sync_until_idle(app)
    assert api.get(f"/api/v1/incidents/{incident['id']}/helpdesk").get_json()["synced"] == 2


def test_server_errors_are_retried_with_backoff(app, api, connected):
    zendesk = connected
    incident = declare(api)
    both_sides(api, zendesk, 2)
    link_all(api, incident["id"])
    zendesk.fail_next(503, count=1, path_contains="tickets.json")
    sync.run(app)
    assert helpdesk_rows(app, recipient="parent")[0].status == "queued"
    clock.advance(seconds=6)
    sync_until_idle(app)
    assert api.get(f"/api/v1/incidents/{incident['id']}/helpdesk").get_json()["synced"] == 2


def test_the_budget_paces_every_call_to_the_accounts_limit(app, api, connected, monkeypatch):
    zendesk = connected
    monkeypatch.setitem(app.config, "ZENDESK_REQUESTS_PER_MINUTE", 120)
    burst, refill = budget.burst(120), budget.refill_per_second(120)
    assert burst + 60 * refill <= 120          # any minute: the bucket's fill and a minute's refill
    incident = declare(api)
    both_sides(api, zendesk, 5000)             # 50 jobs: more than the budget lets through in the test
    link_all(api, incident["id"])
    sync.run(app)
    assert len(zendesk.requests) == burst      # the parent ticket, then jobs in the same step, until the burst is spent
    assert zendesk.requests[0].path == "/api/v2/tickets.json"
    sync.run(app)
    assert len(zendesk.requests) == burst      # nothing more this second
    for _ in range(10):
        clock.advance(seconds=1)
        sync.run(app)
    assert burst + 10 * refill - 2 <= len(zendesk.requests) <= burst + 10 * refill   # jobs and their follow-ups
    assert zendesk.calls("job_statuses")


def test_without_zendesk_the_calls_show_in_the_sandbox_outbox(app, api, frozen):
    incident = declare(api)
    api.post("/api/v1/tickets", json={"tickets": [{"external_id": str(n), "source": "zendesk", "tags": ["login"]}
                                                  for n in range(1, 4)]})
    link_all(api, incident["id"])
    sync_until_idle(app)
    rows = helpdesk_rows(app)
    assert [(r.recipient, r.status, r.sandbox) for r in rows] == [("plan", "delivered", False),
                                                                  ("parent", "delivered", True),
                                                                  ("link", "delivered", True)]
    view = api.get(f"/api/v1/incidents/{incident['id']}/helpdesk").get_json()
    assert view["synced"] == 3 and view["problem_ticket_id"].startswith("sandbox-")


def test_zd_prefixed_ids_are_zendesk_tickets_and_foreign_ids_are_said_to_be_none(app, api, connected):
    zendesk = connected
    zendesk.add_ticket(id=5, tags=["login"])
    incident = declare(api)
    api.post("/api/v1/tickets", json={"tickets": [{"external_id": "ZD-5", "source": "zendesk", "tags": ["login"]},
                                                  {"external_id": "CSV-row-9", "source": "zendesk", "tags": ["login"]}]})
    link_all(api, incident["id"])
    sync_until_idle(app)
    assert zendesk.tickets[5]["type"] == "incident"
    view = api.get(f"/api/v1/incidents/{incident['id']}/helpdesk").get_json()
    assert (view["synced"], view["failed"]) == (1, [{"external_id": "CSV-row-9", "reason": "not a Zendesk ticket id"}])
    assert api.post(f"/api/v1/incidents/{incident['id']}/helpdesk/retry").get_json()["jobs"] == 0
