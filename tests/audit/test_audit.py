"""The audit trail: every kind of configuration change leaves who, when, before and after, in the
transaction of the change; filters, CSV, the page, and who may read it."""
from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select

from incident import audit, clock
from incident.audit.models import AuditEntry
from incident.extensions import db
from incident.uow import unit_of_work

from ..conftest import T0
from ..helpers import POLICY, logged_in
from ..web_helpers import post_form

ROTATION = {"users": ["amy@example.com"], "shift_hours": 24, "starts_at": "2026-11-01T00:00:00+00:00"}


def entries(app, **where) -> list[AuditEntry]:
    with app.app_context():
        query = select(AuditEntry).order_by(AuditEntry.id)
        for key, value in where.items():
            query = query.where(getattr(AuditEntry, key) == value)
        rows = db.session.scalars(query).all()
        db.session.expunge_all()
        return list(rows)


@pytest.fixture
def admin(api_as, make_user, frozen):
    make_user("amy@example.com", role="engineer", phone="+393471111111")
    make_user("bob@example.com", role="engineer")
    return api_as("admin", "root@example.com")


def test_policies_rotations_and_overrides_keep_before_and_after(app, admin):
    assert admin.put("/api/v1/rotations/support", json=ROTATION).status_code == 200
    clock.advance(minutes=5)
    assert admin.put("/api/v1/rotations/support", json={**ROTATION, "users": ["amy@example.com", "bob@example.com"]}
                     ).status_code == 200
    policy = {"levels": [{"name": "L1", "targets": [{"rotation": "support"}], "ack_timeout_seconds": 900}]}
    assert admin.put("/api/v1/escalation-policies/default", json=policy).status_code == 200
    policy["levels"][0]["ack_timeout_seconds"] = 600
    assert admin.put("/api/v1/escalation-policies/default", json=policy).status_code == 200
    assert admin.put("/api/v1/escalation-policies/default", json=policy).status_code == 200   # the same again
    override = {"user": "bob@example.com", "starts_at": "2026-11-22T10:00:00+00:00",
                "ends_at": "2026-11-22T18:00:00+00:00"}
    assert admin.post("/api/v1/rotations/support/overrides", json=override).status_code in (200, 201)

    created, changed = entries(app, kind="rotation")
    assert (created.action, created.actor, created.target, created.before) == ("created", "root@example.com",
                                                                               "support", None)
    assert created.after["users"] == ["amy@example.com"] and created.at == T0
    assert changed.action == "updated" and changed.at > created.at
    assert changed.changes == {"users": [["amy@example.com"], ["amy@example.com", "bob@example.com"]]}

    policies = entries(app, kind="escalation_policy")
    assert [p.action for p in policies] == ["created", "updated"]   # a PUT that changes nothing is not a change
    assert policies[0].after["definition"]["levels"][0]["ack_timeout_seconds"] == 900
    assert list(policies[1].changes) == ["definition"]
    before, after = policies[1].changes["definition"]
    assert before["levels"][0]["ack_timeout_seconds"] == 900 and after["levels"][0]["ack_timeout_seconds"] == 600

    [added] = entries(app, kind="rotation_override")
    assert added.action == "created" and added.target.startswith("support/override/")
    assert added.after == {"rotation": "support", "user": "bob@example.com", "starts_at": "2026-11-22T10:00:00+00:00",
                           "ends_at": "2026-11-22T18:00:00+00:00"}


def test_a_refused_change_leaves_no_entry(app, admin):
    bad = {"levels": [{"name": "L1", "targets": [{"user": "nobody@example.com"}], "ack_timeout_seconds": 900}]}
    assert admin.put("/api/v1/escalation-policies/default", json=bad).status_code == 422
    assert admin.put("/api/v1/rotations/support", json={**ROTATION, "users": ["ghost@example.com"]}).status_code == 422
    assert entries(app, kind="escalation_policy") == [] and entries(app, kind="rotation") == []


def test_an_entry_rolls_back_with_its_change(app, ctx):
    with pytest.raises(RuntimeError):
        with unit_of_work():
            audit.record("someone@example.com", "setting", "X", {"a": 1}, {"a": 2})
            raise RuntimeError("the change failed")
    assert db.session.scalar(select(AuditEntry.id)) is None


def test_status_components_created_edited_deleted(app, admin):
    made = admin.post("/api/v1/status/components", json={"name": "Login", "service": "login"}).get_json()
    assert admin.patch(f"/api/v1/status/components/{made['id']}", json={"name": "Sign-in",
                                                                        "description": "SSO too"}).status_code == 200
    assert admin.delete(f"/api/v1/status/components/{made['id']}").status_code == 200
    created, edited, deleted = entries(app, kind="status_component")
    assert created.action == "created" and created.after["name"] == "Login" and created.before is None
    assert edited.changes == {"name": ["Login", "Sign-in"], "description": ["", "SSO too"]}
    assert deleted.action == "deleted" and deleted.before["name"] == "Sign-in" and deleted.after is None
    assert {e.actor for e in (created, edited, deleted)} == {"root@example.com"}


def test_message_templates_saved_and_reset_from_the_page(app, client, make_user):
    logged_in(client, make_user, role="lead", email="lea@example.com")
    path = "/templates/apology/sms/en"
    response = post_form(client, path, {"action": "save", "subject": "", "body": "Sorry, {{ customer_name }}."},
                         page=path)
    assert response.status_code == 302
    assert post_form(client, path, {"action": "reset"}, page=path).status_code == 302
    saved, reset = entries(app, kind="message_template")
    assert saved.actor == "lea@example.com" and saved.target == "apology.en.sms"
    assert saved.before is None and saved.after == {"subject": "", "body": "Sorry, {{ customer_name }}."}
    assert reset.action == "deleted" and reset.before == saved.after and reset.after is None


def test_staff_and_tokens_from_the_command_line_are_by_cli(app, runner):
    result = runner.invoke(args=["users", "create", "cy@example.com", "--role", "agent", "--phone", "+393471234567"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["tokens", "create", "cy@example.com", "--name", "zapier"])
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("tcs_")
    assert runner.invoke(args=["tokens", "revoke", token[:12]]).exit_code == 0
    assert runner.invoke(args=["users", "deactivate", "cy@example.com"]).exit_code == 0

    staff = entries(app, kind="staff")
    assert [(e.action, e.actor) for e in staff] == [("created", "cli"), ("deactivated", "cli")]
    assert staff[0].after["role"] == "agent" and staff[0].after["phone"] == "+39********67"   # never the whole number
    assert staff[1].changes == {"active": [True, False]}
    tokens = entries(app, kind="token")
    assert [(e.action, e.actor, e.target) for e in tokens] == [("created", "cli", token[:12]),
                                                               ("revoked", "cli", token[:12])]
    assert tokens[0].after["user"] == "cy@example.com" and tokens[0].after["name"] == "zapier"
    assert list(tokens[1].changes) == ["revoked_at"]
    everything = json.dumps([[e.before, e.after, e.changes] for e in entries(app)])
    assert token not in everything and token[12:] not in everything and "+393471234567" not in everything


def test_a_service_call_outside_a_request_or_command_is_by_system_and_a_password_change_says_so(app, ctx):
    from incident.auth.service import create_user, set_password

    user = create_user("dee@example.com", role="viewer")
    set_password(user, "a long enough password", actor="ops@example.com")
    created, changed = entries(app, kind="staff")
    assert created.actor == "system"
    assert (changed.actor, changed.action) == ("ops@example.com", "password_changed")
    assert "long enough" not in json.dumps([changed.before, changed.after])


@pytest.fixture
def history(app, admin):
    """Changes by two people on three days, of three kinds."""
    lead = _api_lead(admin)
    admin.put("/api/v1/rotations/support", json=ROTATION)
    clock.advance(days=1)
    lead.post("/api/v1/status/components", json={"name": "Login"})
    clock.advance(days=1)
    admin.put("/api/v1/escalation-policies/default", json=POLICY | {"levels": [
        {"name": "L1", "targets": [{"rotation": "support"}], "ack_timeout_seconds": 900}]})
    return admin, lead


def _api_lead(admin):
    from incident.auth.service import create_token, create_user

    from ..conftest import Api

    with admin.client.application.app_context():
        create_user("lead@example.com", role="lead")
        token = create_token("lead@example.com")
    return Api(admin.client, token, "lead@example.com")


def test_filters_since_until_actor_kind(history):
    admin, lead = history
    everything = admin.get("/api/v1/audit").get_json()
    # newest first; the setup's staff and tokens (by "system") are there too
    assert [i["kind"] for i in everything["items"][:3]] == ["escalation_policy", "status_component", "rotation"]
    assert lead.get("/api/v1/audit?kind=rotation,status_component").get_json()["total"] == 2
    assert lead.get("/api/v1/audit?kind=rotation&kind=escalation_policy").get_json()["total"] == 2
    by_lead = lead.get("/api/v1/audit?actor=LEAD@example.com").get_json()
    assert [i["kind"] for i in by_lead["items"]] == ["status_component"]
    day2 = lead.get("/api/v1/audit?since=2026-11-23&until=2026-11-23").get_json()   # that whole day
    assert [i["kind"] for i in day2["items"]] == ["status_component"]
    later = lead.get("/api/v1/audit?since=2026-11-23T12:00:00%2B00:00").get_json()
    assert [i["kind"] for i in later["items"]] == ["escalation_policy"]
    paged = lead.get("/api/v1/audit?per_page=1&page=2&kind=rotation,status_component,escalation_policy").get_json()
    assert paged["total"] == 3 and [i["kind"] for i in paged["items"]] == ["status_component"]
    item = paged["items"][0]
    assert set(item) == {"id", "at", "actor", "kind", "action", "target", "before", "after", "changes"}
    assert item["at"] == "2026-11-23T09:00:00+00:00"


@pytest.mark.parametrize("query, field", [
    ("since=yesterday", "since"), ("until=2026-13-01", "until"), ("since=2026-11-22T09:00:00", "since"),
    ("since=2026-11-23&until=2026-11-22", "until"), ("kind=policies", "kind"), ("kind=rotation,nope", "kind"),
    ("since=0001-01-01T00:00:00%2B14:00", "since"), ("actor=" + "a" * 300, "actor"), ("per_page=0", "per_page")])
def test_bad_filters_are_422_with_the_reason(history, query, field):
    admin, _ = history
    for path in ("/api/v1/audit", "/api/v1/audit.csv")[:1 if field == "per_page" else 2]:   # the CSV is not paged
        response = admin.get(f"{path}?{query}")
        assert response.status_code == 422, (path, query)
        assert field in response.get_json()["error"]["details"]


def test_csv_has_every_filtered_entry_oldest_first(history):
    admin, _ = history
    response = admin.get("/api/v1/audit.csv?kind=rotation,status_component")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="audit.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["kind"], r["actor"], r["action"]) for r in rows] == [
        ("rotation", "root@example.com", "created"), ("status_component", "lead@example.com", "created")]
    assert json.loads(rows[0]["after"])["users"] == ["amy@example.com"] and rows[0]["before"] == "null"


def test_a_formula_in_a_name_is_not_run_by_a_spreadsheet(app, admin):
    admin.post("/api/v1/status/components", json={"name": "=HYPERLINK(\"http://evil\")"})
    rows = list(csv.DictReader(io.StringIO(admin.get("/api/v1/audit.csv?kind=status_component").get_data(as_text=True))))
    assert rows[0]["target"].startswith("1 =HYPERLINK") and not rows[0]["after"].startswith("=")


@pytest.mark.parametrize("role, status", [("viewer", 403), ("agent", 403), ("engineer", 403), ("lead", 200),
                                          ("admin", 200)])
def test_leads_and_admins_read_the_audit(api_as, role, status):
    reader = api_as(role)
    assert reader.get("/api/v1/audit").status_code == status
    assert reader.get("/api/v1/audit.csv").status_code == status


def test_no_token_is_401(client):
    assert client.get("/api/v1/audit").status_code == 401
    assert client.get("/api/v1/audit.csv", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_the_audit_page_searches_and_links_its_csv(app, client, make_user, admin):
    admin.put("/api/v1/rotations/support", json=ROTATION)
    admin.post("/api/v1/status/components", json={"name": "<b>Login</b>"})
    logged_in(client, make_user, role="lead", email="lea@example.com")
    page = client.get("/audit?kind=status_component")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "&lt;b&gt;Login&lt;/b&gt;" in html and "<b>Login</b>" not in html
    assert 'data-entry="' in html and "rotation <strong>support" not in html
    assert 'href="/audit.csv?kind=status_component"' in html
    download = client.get("/audit.csv?kind=status_component")
    assert download.status_code == 200 and "status_component" in download.get_data(as_text=True)
    bad = client.get("/audit?since=whenever")
    assert bad.status_code == 422 and "not a date" in bad.get_data(as_text=True)


def test_the_audit_page_is_for_leads(client, make_user):
    logged_in(client, make_user, role="engineer", email="eng@example.com")
    assert client.get("/audit").status_code == 403
    assert client.get("/audit.csv").status_code == 403


def test_staff_administration_is_audited_by_the_admin_who_did_it(app, ctx):
    from incident.auth.service import (
        change_staff_role,
        create_token,
        create_user,
        deactivate_staff,
        invite_staff,
        reactivate_staff,
    )

    root = create_user("root@example.com", role="admin")
    invited = invite_staff(root, "eve@example.com", role="engineer", name="Eve").user
    token = create_token("eve@example.com", actor=root)
    change_staff_role(root, invited, "lead")
    deactivate_staff(root, invited)                      # her token goes with her access
    reactivate_staff(root, invited)
    staff = [(e.target, e.action, e.actor, e.changes) for e in entries(app, kind="staff", actor="root@example.com")]
    assert staff[0][:3] == ("eve@example.com", "created", "root@example.com")
    assert staff[1:] == [("eve@example.com", "updated", "root@example.com", {"role": ["engineer", "lead"]}),
                     ("eve@example.com", "deactivated", "root@example.com", {"active": [True, False]}),
                     ("eve@example.com", "reactivated", "root@example.com", {"active": [False, True]})]
    assert [(e.action, e.target) for e in entries(app, kind="token")] == [("created", token[:12]),
                                                                         ("revoked", token[:12])]
