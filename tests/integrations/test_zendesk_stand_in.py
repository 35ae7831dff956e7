"""Self-tests for the Zendesk stand-in: it must answer as Zendesk's API v2 documents, over real HTTP."""
from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timezone

import pytest
import requests

from ..zendesk_stand_in import ZD_EMAIL, ZD_TOKEN, ZendeskStandIn, decode_cursor, sign_webhook

AUTH = (f"{ZD_EMAIL}/token", ZD_TOKEN)
TIMEOUT = 5


def get(stand_in: ZendeskStandIn, path: str, **kwargs) -> requests.Response:
    return requests.get(stand_in.url + path, auth=AUTH, timeout=TIMEOUT, **kwargs)


def put(stand_in: ZendeskStandIn, path: str, body: dict, **kwargs) -> requests.Response:
    return requests.put(stand_in.url + path, json=body, auth=AUTH, timeout=TIMEOUT, **kwargs)


def post(stand_in: ZendeskStandIn, path: str, body: dict, **kwargs) -> requests.Response:
    return requests.post(stand_in.url + path, json=body, auth=AUTH, timeout=TIMEOUT, **kwargs)


def epoch_of(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def complete_job(stand_in: ZendeskStandIn, job_id: str) -> dict:
    for _ in range(stand_in.job_polls):
        status = get(stand_in, f"/api/v2/job_statuses/{job_id}.json").json()["job_status"]
    assert status["status"] == "completed"
    return status


def test_requests_without_the_api_token_are_refused(zendesk):
    zendesk.add_ticket(id=7)
    url = zendesk.url + "/api/v2/tickets/7.json"

    missing = requests.get(url, timeout=TIMEOUT)
    wrong = requests.get(url, auth=(f"{ZD_EMAIL}/token", "not-the-token"), timeout=TIMEOUT)
    password_style = requests.get(url, auth=(ZD_EMAIL, ZD_TOKEN), timeout=TIMEOUT)   # no "/token" suffix
    right = requests.get(url, auth=AUTH, timeout=TIMEOUT)

    for refused in (missing, wrong, password_style):
        assert refused.status_code == 401
        assert refused.json() == {"error": "Couldn't authenticate you"}
    assert right.status_code == 200
    assert right.json()["ticket"]["id"] == 7
    assert len(zendesk.calls("/tickets/7.json", "GET")) == 4


def test_create_problem_ticket_stores_it_with_its_comment(zendesk):
    response = post(zendesk, "/api/v2/tickets.json", {"ticket": {
        "subject": "Outage: logins failing", "type": "problem", "tags": ["tocsin", "outage", "tocsin"],
        "comment": {"body": "We are investigating.", "public": False}}})

    assert response.status_code == 201
    ticket = response.json()["ticket"]
    assert ticket["id"] == 1
    assert ticket["url"] == f"{zendesk.url}/api/v2/tickets/1.json"
    assert ticket["subject"] == "Outage: logins failing"
    assert ticket["description"] == "We are investigating."
    assert ticket["type"] == "problem"
    assert ticket["problem_id"] is None
    assert ticket["status"] == "new"
    assert ticket["tags"] == ["tocsin", "outage"]
    assert ticket["created_at"] == ticket["updated_at"] == "2026-12-01T09:00:00Z"
    assert zendesk.comments_on(1) == [{"body": "We are investigating.", "public": False}]
    assert zendesk.comments_on(1, public=True) == []
    assert get(zendesk, "/api/v2/tickets/1.json").json() == {"ticket": ticket}
    assert get(zendesk, "/api/v2/tickets/99.json").status_code == 404
    [call] = zendesk.calls("/tickets.json", "POST")
    assert call.body["ticket"]["type"] == "problem"


def test_add_ticket_defaults_are_ordered_and_type_is_null(zendesk):
    first = zendesk.add_ticket()
    second = zendesk.add_ticket(subject="Refund missing", tags=["billing"])

    assert (first["id"], second["id"]) == (1, 2)
    assert first["type"] is None
    assert first["created_at"] == "2026-12-01T09:00:00Z"
    assert second["updated_at"] == "2026-12-01T09:01:00Z"
    with zendesk.lock:
        assert zendesk.tickets[2]["tags"] == ["billing"]
        assert zendesk.tickets[2]["updated_at"] == datetime(2026, 12, 1, 9, 1, tzinfo=timezone.utc)


def test_update_many_job_goes_queued_working_completed_and_applies_only_at_completion(zendesk):
    for ticket_id in (1, 2, 3):
        zendesk.add_ticket(id=ticket_id, tags=["vpn", "stale"])
    zendesk.fail_ticket(2, details="Status: closed prevents ticket update")
    before_all = get(zendesk, "/api/v2/tickets/show_many.json?ids=1,2,3").json()["tickets"]
    before = before_all[0]

    response = put(zendesk, "/api/v2/tickets/update_many.json?ids=1,2,3,404", {"ticket": {
        "type": "incident", "problem_id": 50, "additional_tags": ["tocsin_incident", "vpn"],
        "remove_tags": ["stale"], "comment": {"body": "Linked to the outage.", "public": True}}})

    assert response.status_code == 200
    queued = response.json()["job_status"]
    assert queued["status"] == "queued"
    assert (queued["total"], queued["progress"], queued["message"], queued["results"]) == (4, 0, None, None)
    assert len(queued["id"]) == 32 and int(queued["id"], 16) >= 0
    assert queued["url"] == f"{zendesk.url}/api/v2/job_statuses/{queued['id']}.json"
    assert get(zendesk, "/api/v2/tickets/1.json").json()["ticket"] == before

    working = requests.get(queued["url"], auth=AUTH, timeout=TIMEOUT).json()["job_status"]
    assert working["status"] == "working"
    assert 0 < working["progress"] < 4
    assert working["results"] is None
    assert get(zendesk, "/api/v2/tickets/1.json").json()["ticket"] == before
    assert zendesk.comments_on(1) == []

    many = get(zendesk, "/api/v2/job_statuses/show_many.json", params={"ids": f"{queued['id']},unknown"}).json()
    [completed] = many["job_statuses"]
    assert completed["status"] == "completed"
    assert completed["progress"] == 4
    assert completed["message"].startswith("Completed at ")
    assert completed["results"] == [
        {"id": 1, "action": "update", "success": True, "status": "Updated"},
        {"id": 2, "index": 1, "error": "TicketUpdateFailed", "details": "Status: closed prevents ticket update"},
        {"id": 3, "action": "update", "success": True, "status": "Updated"},
        {"id": 404, "index": 3, "error": "RecordNotFound", "details": "Ticket 404 not found"},
    ]
    after = get(zendesk, "/api/v2/tickets/show_many.json?ids=1,2,3").json()["tickets"]
    assert [t["type"] for t in after] == ["incident", None, "incident"]
    assert [t["problem_id"] for t in after] == [50, None, 50]
    assert after[0]["tags"] == ["vpn", "tocsin_incident"]
    assert after[1]["tags"] == ["vpn", "stale"]
    assert after[0]["updated_at"] > before["updated_at"]
    assert after[1] == before_all[1]                   # the failing ticket is untouched
    assert zendesk.comments_on(1) == [{"body": "Linked to the outage.", "public": True}]
    assert zendesk.comments_on(2) == []

    again = requests.get(queued["url"], auth=AUTH, timeout=TIMEOUT).json()["job_status"]
    assert again == completed
    assert len(zendesk.comments_on(3)) == 1     # completing is not repeated


@pytest.mark.parametrize("polls", [1, 3])
def test_job_polls_sets_how_many_polls_a_job_takes(polls):
    stand_in = ZendeskStandIn(job_polls=polls).start()
    try:
        for _ in range(3):
            stand_in.add_ticket()
        job = put(stand_in, "/api/v2/tickets/update_many.json?ids=1,2,3",
                  {"ticket": {"status": "pending"}}).json()["job_status"]
        seen = [get(stand_in, f"/api/v2/job_statuses/{job['id']}.json").json()["job_status"] for _ in range(polls)]
        assert [s["status"] for s in seen] == ["working"] * (polls - 1) + ["completed"]
        progress = [s["progress"] for s in seen]
        assert progress == sorted(progress) and progress[-1] == 3
        with stand_in.lock:
            assert {t["status"] for t in stand_in.tickets.values()} == {"pending"}
    finally:
        stand_in.stop()


def test_update_many_refuses_too_many_or_no_ids_and_unknown_jobs_are_404(zendesk):
    too_many = put(zendesk, "/api/v2/tickets/update_many.json?ids=" + ",".join(str(i) for i in range(1, 102)),
                   {"ticket": {"status": "solved"}})
    none = put(zendesk, "/api/v2/tickets/update_many.json", {"ticket": {"status": "solved"}})
    exactly_100 = put(zendesk, "/api/v2/tickets/update_many.json?ids=" + ",".join(str(i) for i in range(1, 101)),
                      {"ticket": {"status": "solved"}})

    assert too_many.status_code == 400
    assert too_many.json()["error"] == "TooManyValues"
    assert none.status_code == 400
    assert "error" in none.json()
    assert exactly_100.status_code == 200
    assert exactly_100.json()["job_status"]["total"] == 100
    with zendesk.lock:
        assert len(zendesk.jobs) == 1
    assert get(zendesk, "/api/v2/job_statuses/0123456789abcdef0123456789abcdef.json").status_code == 404
    ids_101 = ",".join(f"{i:032x}" for i in range(101))
    assert get(zendesk, "/api/v2/job_statuses/show_many.json", params={"ids": ids_101}).status_code == 400


def test_show_many_tickets_sideloads_users_only_when_asked(zendesk):
    zendesk.add_ticket(requester={"name": "Ada", "email": "ada@example.com", "phone": "+4915112345678",
                                  "locale": "de"})
    zendesk.add_ticket(requester={"name": "Bo", "email": "bo@example.com", "phone": None, "locale": "en-US"})
    zendesk.add_ticket(requester={"name": "Ada", "email": "ada@example.com"})   # the same user again

    with_users = get(zendesk, "/api/v2/tickets/show_many.json?ids=1,2,3,999&include=users").json()
    without = get(zendesk, "/api/v2/tickets/show_many.json?ids=2").json()

    assert [t["id"] for t in with_users["tickets"]] == [1, 2, 3]
    assert with_users["tickets"][0]["requester_id"] == with_users["tickets"][2]["requester_id"]
    users = {u["id"]: u for u in with_users["users"]}
    assert len(users) == 2
    ada = users[with_users["tickets"][0]["requester_id"]]
    assert (ada["name"], ada["email"], ada["phone"], ada["locale"]) == ("Ada", "ada@example.com", "+4915112345678", "de")
    assert "users" not in without
    assert [t["id"] for t in without["tickets"]] == [2]
    assert len(zendesk.users) == 2


def test_cursor_export_pages_to_end_of_stream_and_later_changes_follow_the_saved_cursor(zendesk):
    for n in range(5):
        zendesk.add_ticket(subject=f"Ticket {n + 1}", requester={"name": f"U{n}", "email": f"u{n}@example.com"})
    path = "/api/v2/incremental/tickets/cursor.json"

    pages = [get(zendesk, path, params={"start_time": 0, "per_page": 2, "include": "users"}).json()]
    while not pages[-1]["end_of_stream"]:
        pages.append(get(zendesk, path, params={"cursor": pages[-1]["after_cursor"], "per_page": 2,
                                                "include": "users"}).json())

    assert [[t["id"] for t in p["tickets"]] for p in pages] == [[1, 2], [3, 4], [5]]
    assert [p["end_of_stream"] for p in pages] == [False, False, True]
    assert all(p["before_cursor"] is None for p in pages)
    assert [len(p["users"]) for p in pages] == [2, 2, 1]
    assert pages[0]["after_url"].startswith(zendesk.url + path + "?cursor=" + pages[0]["after_cursor"])
    assert decode_cursor(pages[-1]["after_cursor"]) == (epoch_of(pages[-1]["tickets"][-1]["updated_at"]), 5)
    saved = pages[-1]["after_cursor"]

    nothing_new = get(zendesk, path, params={"cursor": saved}).json()
    assert nothing_new["tickets"] == []
    assert nothing_new["end_of_stream"] is True
    assert nothing_new["after_cursor"] == saved

    job = put(zendesk, "/api/v2/tickets/update_many.json?ids=2", {"ticket": {"status": "solved"}}).json()
    complete_job(zendesk, job["job_status"]["id"])
    newer = get(zendesk, path, params={"cursor": nothing_new["after_cursor"]}).json()
    assert [(t["id"], t["status"]) for t in newer["tickets"]] == [(2, "solved")]
    assert newer["end_of_stream"] is True
    assert "users" not in newer

    since_third = get(zendesk, path, params={"start_time": epoch_of(pages[1]["tickets"][0]["updated_at"])}).json()
    assert [t["id"] for t in since_third["tickets"]] == [3, 4, 5, 2]     # ordered by (updated_at, id)
    assert get(zendesk, path).status_code == 400
    assert get(zendesk, path, params={"cursor": "not a cursor"}).status_code == 400


def test_rate_limit_follows_the_injected_clock():
    now = [1000.0]
    stand_in = ZendeskStandIn(requests_per_minute=2, clock=lambda: now[0]).start()
    try:
        first = get(stand_in, "/api/v2/tickets/show_many.json?ids=1")
        now[0] += 20
        second = get(stand_in, "/api/v2/tickets/show_many.json?ids=1")
        now[0] += 10
        limited = post(stand_in, "/api/v2/tickets.json", {"ticket": {"subject": "x", "comment": {"body": "y"}}})

        assert (first.headers["X-Rate-Limit"], first.headers["X-Rate-Limit-Remaining"]) == ("2", "1")
        assert second.headers["X-Rate-Limit-Remaining"] == "0"
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "30"     # the first request leaves the window at 1060
        assert limited.json() == {"error": "APIRateLimitExceeded"}
        assert stand_in.tickets == {}                      # refused: nothing created

        now[0] += 29.5
        still = get(stand_in, "/api/v2/tickets/show_many.json?ids=1")
        assert still.status_code == 429
        assert still.headers["Retry-After"] == "1"         # at least one second

        now[0] += 0.5
        freed = post(stand_in, "/api/v2/tickets.json", {"ticket": {"subject": "x", "comment": {"body": "y"}}})
        assert freed.status_code == 201
        assert freed.headers["X-Rate-Limit-Remaining"] == "0"
        assert len(stand_in.tickets) == 1
        assert len(stand_in.calls("/api/v2/", None)) == 5   # refused requests are still recorded
    finally:
        stand_in.stop()


def test_fail_next_scripts_failures_then_answers_normally(zendesk):
    zendesk.add_ticket(id=3)
    zendesk.fail_next(503, path_contains="/tickets/3.json")
    zendesk.fail_next(429, count=2, path_contains="/job_statuses/", retry_after=7)

    unavailable = get(zendesk, "/api/v2/tickets/3.json")
    ok = get(zendesk, "/api/v2/tickets/3.json")
    limited = [get(zendesk, "/api/v2/job_statuses/abc.json") for _ in range(3)]

    assert unavailable.status_code == 503
    assert "error" in unavailable.json()
    assert ok.status_code == 200
    assert [r.status_code for r in limited] == [429, 429, 404]
    assert limited[0].headers["Retry-After"] == "7"
    assert limited[0].json() == {"error": "APIRateLimitExceeded"}


def test_unknown_route_is_a_json_404(zendesk):
    response = get(zendesk, "/api/v2/nothing_here.json")
    wrong_method = requests.delete(zendesk.url + "/api/v2/tickets.json", auth=AUTH, timeout=TIMEOUT)

    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"] == "InvalidEndpoint"
    assert wrong_method.status_code == 404


def test_sign_webhook_matches_an_independent_hmac():
    secret = "dGhpcy1pcy1hLXNlY3JldA=="
    body = b'{"type":"zen:event-type:ticket.status_changed","detail":{"id":"42"}}'
    timestamp = "2026-12-01T09:00:00Z"
    expected = base64.b64encode(hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()).decode()

    assert sign_webhook(secret, body, timestamp) == expected
    assert sign_webhook(secret, body + b" ", timestamp) != expected
    assert sign_webhook(secret, body, "2026-12-01T09:00:01Z") != expected
