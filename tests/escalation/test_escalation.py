"""Escalation end to end: the 60-minute / 4-hour scenario on a moved clock, acknowledgement, no double pages."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from incident import clock, worker
from incident.escalation.models import EscalationStep
from incident.extensions import db
from incident.outbox.models import Delivery

from ..conftest import TEST_DATABASE_URL, count_rows
from ..factories import ticket
from ..helpers import POLICY, declare, deliveries, ingest


def kinds(api, incident_id):
    return [e["kind"] for e in api.get(f"/api/v1/incidents/{incident_id}/timeline").get_json()["items"]]


def test_the_classic_sixty_minutes_then_four_hours(app, api, api_as, setup, channels):
    incident_id = declare(api)["id"]
    response = api.post(f"/api/v1/incidents/{incident_id}/escalate", json={"reason": "L1 cannot reproduce"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["level"] == "L1"
    assert response.get_json()["next_deadline_at"] == "2026-11-22T10:00:00+00:00"
    assert [d[:3] for d in deliveries(app)] == [("slack", "UAMY", "queued"), ("sms", "+393471111111", "queued")]
    assert not channels["slack"].sent  # a web request never sends

    worker.tick(app)
    assert [d[2] for d in deliveries(app)] == ["sent", "sent"]
    slack_to, slack_message = channels["slack"].sent[0]
    button = slack_message.blocks[-1]["elements"][0]
    assert (slack_to, button["action_id"], button["value"]) == ("UAMY", "acknowledge", str(incident_id))
    assert channels["sms"].sent[0][1].text.endswith(f"Reply ACK {incident_id}")

    clock.advance(minutes=59, seconds=59)
    worker.tick(app)
    assert len(deliveries(app)) == 2  # not yet

    clock.advance(seconds=1)
    worker.tick(app)
    assert {(c, r) for c, r, _, _ in deliveries(app, status="sent")} >= {
        ("slack", "UBOB"), ("sms", "+393472222222"), ("email", "bob@example.com")}
    body = api.get(f"/api/v1/incidents/{incident_id}").get_json()
    assert body["escalation"]["level"] == "L2"
    assert body["escalation"]["next_deadline_at"] == "2026-11-22T14:00:00+00:00"
    assert kinds(api, incident_id)[-2:] == ["escalation_breached", "paged"]

    clock.advance(hours=4)
    worker.tick(app)
    worker.tick(app)  # twice: nothing twice
    assert api.get(f"/api/v1/incidents/{incident_id}").get_json()["escalation"]["level"] == "engineering"
    assert len(deliveries(app, recipient="UDAN")) == 1

    engineer = api_as("engineer", "eve@example.com")
    first = engineer.post(f"/api/v1/incidents/{incident_id}/acknowledge")
    assert first.get_json()["outcome"] == "first"
    assert first.get_json()["acknowledged_at"] == "2026-11-22T14:00:00+00:00"
    again = engineer.post(f"/api/v1/incidents/{incident_id}/acknowledge")
    assert again.get_json()["outcome"] == "duplicate"
    assert kinds(api, incident_id).count("acknowledged") == 1

    worker.tick(app)  # the Slack pages are edited to say who acknowledged
    assert len(channels["slack"].updated) == 3
    assert "Acknowledged by" in channels["slack"].updated[0][1].text
    sent_before = len(deliveries(app))
    clock.advance(hours=2)
    worker.tick(app)
    assert len(deliveries(app)) == sent_before  # the clock stopped
    view = api.get(f"/api/v1/incidents/{incident_id}/escalation").get_json()
    assert [(s["level"], bool(s["breached_at"]), bool(s["acknowledged_at"])) for s in view["steps"]] == [
        ("L1", True, False), ("L2", True, False), ("engineering", False, True)]
    assert [a["outcome"] for a in view["acknowledgements"]] == ["first", "duplicate"]


def test_policy_is_frozen_when_the_escalation_starts(app, api, setup, channels):
    incident_id = declare(api)["id"]
    api.post(f"/api/v1/incidents/{incident_id}/escalate", json={})
    changed = {**POLICY, "levels": [{**POLICY["levels"][0], "ack_timeout_seconds": 60}, *POLICY["levels"][1:]]}
    assert setup.put("/api/v1/escalation-policies/default", json=changed).status_code == 200
    clock.advance(minutes=5)
    worker.tick(app)
    assert api.get(f"/api/v1/incidents/{incident_id}").get_json()["escalation"]["level"] == "L1"


def test_straight_to_engineering_and_swarm(app, api, setup, channels):
    direct = declare(api)["id"]
    response = api.post(f"/api/v1/incidents/{direct}/escalate", json={"level": "engineering", "reason": "data loss"})
    assert response.get_json()["level"] == "engineering"
    swarm = declare(api, mode="swarm")["id"]
    api.post(f"/api/v1/incidents/{swarm}/escalate", json={})
    view = api.get(f"/api/v1/incidents/{swarm}/escalation").get_json()
    assert [s["level"] for s in view["steps"]] == ["L1", "L2", "engineering"]
    assert view["next_deadline_at"] == "2026-11-22T09:15:00+00:00"
    assert api.post(f"/api/v1/incidents/{direct}/escalate", json={"level": "L9"}).status_code == 422


def test_acknowledgement_needs_engineer_and_is_recorded_when_refused(app, api_as, api, setup, channels):
    incident_id = declare(api)["id"]
    api.post(f"/api/v1/incidents/{incident_id}/escalate", json={})
    agent = api_as("agent")
    assert agent.post(f"/api/v1/incidents/{incident_id}/acknowledge").status_code == 403
    view = api.get(f"/api/v1/incidents/{incident_id}/escalation").get_json()
    assert view["state"] == "paging" and view["acknowledgements"][0]["outcome"] == "refused"


@pytest.mark.parametrize("change, field", [
    ({"levels": []}, "levels"),
    ({"levels": [{**POLICY["levels"][0], "ack_timeout_seconds": -5}]}, "levels.0.ack_timeout_seconds"),
    ({"levels": [{**POLICY["levels"][0], "targets": [{"user": "ghost@example.com"}]}]}, "user:ghost@example.com"),
    ({"levels": [{**POLICY["levels"][1], "targets": [{"rotation": "nobody"}]}]}, "rotation:nobody"),
])
def test_bad_policies_are_refused_with_clear_errors(app, setup, change, field):
    before = count_rows(app, "escalation_policies")
    response = setup.put("/api/v1/escalation-policies/other", json={**POLICY, **change})
    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]
    assert count_rows(app, "escalation_policies") == before


def test_simulator_answers_before_anything_breaks(api, setup):
    body = api.post("/api/v1/escalation-policies/simulate",
                    json={"severity": "SEV2", "services": ["login"], "at": "2026-11-28T02:00:00+01:00"}).get_json()
    assert body["policy"] == "default"
    assert [(s["level"], s["at"], [r["value"] for r in s["recipients"]]) for s in body["steps"][:3]] == [
        ("L1", "2026-11-28T01:00:00+00:00", ["amy@example.com"]),
        ("L2", "2026-11-28T02:00:00+00:00", ["bob@example.com"]),
        ("engineering", "2026-11-28T06:00:00+00:00", ["dan@example.com"])]
    assert len(body["steps"]) == 6  # repeat 1: a second round


def test_a_rotation_on_local_time_through_the_api_and_frozen_with_the_policy(app, api, setup):
    admin = setup
    body = {"users": ["bob@example.com", "dan@example.com"], "shift_hours": 24,
            "starts_at": "2026-10-19T09:00:00+02:00", "timezone": "Europe/Rome"}
    response = admin.put("/api/v1/rotations/emea-daily", json=body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["timezone"] == "Europe/Rome"
    # 26 October, after the clocks went back: the hand-over is 09:00 Rome = 08:00 UTC.
    at = lambda t: api.get(f"/api/v1/rotations/emea-daily?at=2026-10-26T{t}%2B00:00").get_json()["on_call"]["user"]  # noqa: E731
    assert (at("07:59:00"), at("08:00:00")) == ("bob@example.com", "dan@example.com")
    bad = admin.put("/api/v1/rotations/emea-daily", json={**body, "timezone": "Europe/Atlantis"})
    assert bad.status_code == 422 and "timezone" in bad.get_json()["error"]["details"]
    assert api.get("/api/v1/rotations/emea-daily").get_json()["timezone"] == "Europe/Rome"   # unchanged
    from incident.escalation.service import _snapshot, get_policy_or_raise
    with app.app_context():
        assert _snapshot(get_policy_or_raise("default"))["rotations"]["emea-daily"]["timezone"] == "Europe/Rome"


def test_rotation_on_call_now_and_later(api, setup):
    body = api.get("/api/v1/rotations/backend-oncall?at=2026-11-28T02:00:00%2B00:00").get_json()
    assert body["on_call"] == {"at": "2026-11-28T02:00:00+00:00", "user": "dan@example.com"}
    cover = api.post("/api/v1/rotations/backend-oncall/overrides", json={
        "user": "amy@example.com", "starts_at": "2026-11-28T00:00:00+00:00", "ends_at": "2026-11-28T06:00:00+00:00"})
    assert cover.status_code == 201
    body = api.get("/api/v1/rotations/backend-oncall?at=2026-11-28T02:00:00%2B00:00").get_json()
    assert body["on_call"]["user"] == "amy@example.com"


def test_a_late_deadline_fires_once_and_is_flagged(app, api, setup, channels):
    incident_id = declare(api)["id"]
    api.post(f"/api/v1/incidents/{incident_id}/escalate", json={})
    clock.advance(hours=1, minutes=10)  # the worker was down for ten minutes past the deadline
    assert api.get("/healthz").get_json()["watchdog"]["overdue_escalations"] == 1
    worker.tick(app)
    worker.tick(app)
    assert api.get("/healthz").get_json()["watchdog"]["overdue_escalations"] == 0
    events = api.get(f"/api/v1/incidents/{incident_id}/timeline").get_json()["items"]
    late = [e for e in events if e["kind"] == "deadline_late"]
    assert len(late) == 1 and late[0]["data"]["late_seconds"] == 600
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(EscalationStep)) == 2


@pytest.mark.parametrize("where", ["_thaw", "_page_steps"])
def test_a_burst_is_one_batch_and_one_failure_holds_up_no_other(app, api, setup, channels, monkeypatch, caplog, where):
    """Deadlines due together advance together; one that cannot advance (its policy unreadable,
    or its pages failing to queue, which fails the whole batch) is logged, stays due, and
    advances on a later tick, while the rest are paged at once."""
    ids = [declare(api, title=f"Outage {n}")["id"] for n in range(5)]
    for incident_id in ids:
        api.post(f"/api/v1/incidents/{incident_id}/escalate", json={})
    clock.advance(hours=1, seconds=1)
    broken = ids[2]

    from incident.escalation import service as escalation
    real = getattr(escalation, where)

    def failing(esc, *args, **kwargs):
        if getattr(esc, "incident_id", getattr(esc, "id", None)) == broken:
            raise RuntimeError("cannot advance this one")
        return real(esc, *args, **kwargs)

    monkeypatch.setattr(escalation, where, failing)
    worker.tick(app)
    assert "could not advance" in caplog.text
    with app.app_context():
        levels = dict(db.session.execute(select(EscalationStep.incident_id, func.count())
                                         .group_by(EscalationStep.incident_id)).all())
    assert levels == {**{i: 2 for i in ids}, broken: 1}
    assert len([m for to, m in channels["slack"].sent if to == "UBOB"]) == 4
    monkeypatch.setattr(escalation, where, real)
    worker.tick(app)
    with app.app_context():
        levels = dict(db.session.execute(select(EscalationStep.incident_id, func.count())
                                         .group_by(EscalationStep.incident_id)).all())
    assert levels == {i: 2 for i in ids}
    assert len([m for to, m in channels["slack"].sent if to == "UBOB"]) == 5
    assert kinds(api, broken).count("escalation_breached") == 1


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="several workers at once need PostgreSQL")
def test_two_workers_page_each_level_once(app, api, setup, channels):
    ids = [declare(api, title=f"Outage {n}")["id"] for n in range(30)]
    for incident_id in ids:
        api.post(f"/api/v1/incidents/{incident_id}/escalate", json={})
    clock.advance(hours=1, seconds=1)
    barrier = threading.Barrier(2)

    def run():
        barrier.wait()
        worker.tick(app)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with app.app_context():
        steps = db.session.execute(select(EscalationStep.incident_id, func.count())
                                   .group_by(EscalationStep.incident_id)).all()
        assert {n for _, n in steps} == {2}
        pages = db.session.execute(
            select(Delivery.recipient, func.count()).where(Delivery.recipient == "UBOB").group_by(Delivery.recipient)
        ).all()
        assert pages == [("UBOB", 30)]
    assert len([m for to, m in channels["slack"].sent if to == "UBOB"]) == 30


def test_trigger_words_send_the_incident_straight_to_engineering(app, api, setup, channels):

    incident_id = declare(api)["id"]
    api.post(f"/api/v1/incidents/{incident_id}/link-rules", json={"tags": ["login"]})
    ingest(api, {"tickets": [ticket(1)]})
    assert api.get(f"/api/v1/incidents/{incident_id}").get_json()["escalation"]["state"] is None
    ingest(api, {"tickets": [ticket(2, description="After the outage we see DATA LOSS in our exports")]})
    body = api.get(f"/api/v1/incidents/{incident_id}").get_json()
    assert body["escalation"]["level"] == "engineering"
    events = api.get(f"/api/v1/incidents/{incident_id}/timeline").get_json()["items"]
    matched = [e for e in events if e["kind"] == "trigger_matched"]
    assert matched[0]["data"] == {"word": "data loss", "ticket": "ZD-2", "escalated": True}
    ingest(api, {"tickets": [ticket(3, subject="security breach?")]})  # already at engineering: no second page
    assert (
        len(
            [e for e in api.get(f"/api/v1/incidents/{incident_id}/timeline").get_json()["items"] if e["kind"] == "escalated"]
        )
        == 1
    )


def test_trigger_words_can_be_configured_or_off(app, api, setup, channels, monkeypatch):

    monkeypatch.setitem(app.config, "ESCALATION_TRIGGER_WORDS", [])
    incident_id = declare(api)["id"]
    ingest(api, {"tickets": [ticket(1, description="data loss")]})
    api.post(f"/api/v1/incidents/{incident_id}/tickets", json={"external_ids": ["ZD-1"]})
    assert api.get(f"/api/v1/incidents/{incident_id}").get_json()["escalation"]["state"] is None
    monkeypatch.setitem(app.config, "ESCALATION_TRIGGER_WORDS", ["ransomware", "data loss"])
    ingest(api, {"tickets": [ticket(2, subject="Ransomware note on screen")]})
    api.post(f"/api/v1/incidents/{incident_id}/tickets", json={"external_ids": ["ZD-2"]})
    assert api.get(f"/api/v1/incidents/{incident_id}").get_json()["escalation"]["level"] == "engineering"


def test_trigger_words_are_taken_literally_and_never_span_subject_and_description(app, api, setup, channels,
                                                                                  monkeypatch):
    monkeypatch.setitem(app.config, "ESCALATION_TRIGGER_WORDS", ["c++ core (dump)", "data loss"])
    incident_id = declare(api)["id"]

    def link(number: int, **fields) -> str | None:
        ingest(api, {"tickets": [ticket(number, **fields)]})
        api.post(f"/api/v1/incidents/{incident_id}/tickets", json={"external_ids": [f"ZD-{number}"]})
        return api.get(f"/api/v1/incidents/{incident_id}").get_json()["escalation"]["level"]

    assert link(1, subject="cxx core dump", description="c core  dump") is None     # no pattern meaning
    assert link(2, subject="Lost some data", description="loss of trust") is None
    assert link(3, subject="Where is my data", description="loss of trust") is None  # subject, then description
    assert link(4, subject="Crash", description="Our C++ CORE (DUMP) is attached") == "engineering"
    matched = [e for e in api.get(f"/api/v1/incidents/{incident_id}/timeline").get_json()["items"]
               if e["kind"] == "trigger_matched"]
    assert matched[0]["data"]["ticket"] == "ZD-4" and matched[0]["data"]["word"] == "c++ core (dump)"
