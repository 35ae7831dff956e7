"""Staff administration: the Staff page (admins only) and the service functions it shares with the CLI."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from incident import clock
from incident.auth import service
from incident.auth.models import ApiToken, User
from incident.errors import Conflict, NotAllowed
from incident.extensions import db

from ..conftest import count_rows
from ..web_helpers import csrf_from, login

PASSWORD = "correct horse battery"
LINK_RE = re.compile(r'id="password-link" value="http://tocsin\.test(/password/[^"]+)"')


@pytest.fixture
def admin(client, make_user):
    make_user("ada@example.com", role="admin", password=PASSWORD, name="Ada")
    login(client, "ada@example.com", PASSWORD)
    return client


def post(client, path, data=None):
    return client.post(path, data={**(data or {}), "csrf_token": csrf_from(client, "/staff")})


def staff_id(app, email):
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.email == email))


def row(app, email):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        return user.role, user.active


def test_an_invitation_gives_a_one_time_link_to_set_a_password(app, admin, frozen):
    answer = post(admin, "/staff/invite", {"email": "Ben@Example.com", "name": "Ben <b>", "role": "engineer"})
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "Ben &lt;b&gt;" in text and "Ben <b>" not in text
    link = LINK_RE.search(text).group(1)
    assert row(app, "ben@example.com") == ("engineer", True)
    guest = app.test_client()
    assert 'name="password"' in guest.get(link).get_data(as_text=True)
    form = {"password": "a new long password", "confirm": "a new long password", "csrf_token": csrf_from(guest, link)}
    assert guest.post(link, data=form).headers["Location"] == "/login"
    assert login(guest, "ben@example.com", "a new long password").status_code == 302
    assert guest.get("/").status_code == 200
    again = app.test_client()
    used = again.get(link)
    assert used.status_code == 404 and "used already" in used.get_data(as_text=True)


def test_a_link_expires_after_three_days_and_mismatched_passwords_change_nothing(app, admin, frozen):
    link = LINK_RE.search(post(admin, "/staff/invite", {"email": "cy@example.com", "role": "agent"})
                          .get_data(as_text=True)).group(1)
    guest = app.test_client()
    form = {"password": "a new long password", "confirm": "another long one", "csrf_token": csrf_from(guest, link)}
    assert guest.post(link, data=form).status_code == 422
    form = {"password": "short", "confirm": "short", "csrf_token": csrf_from(guest, link)}
    assert guest.post(link, data=form).status_code == 422
    with app.app_context():
        assert db.session.scalar(select(User.password_hash).where(User.email == "cy@example.com")) is None
    clock.advance(days=3)
    assert guest.get(link).status_code == 404
    assert app.test_client().get(link[:-3] + "abc").status_code == 404   # tampered


def test_bad_or_duplicate_invitations_are_refused_with_the_reason(app, admin):
    bad = post(admin, "/staff/invite", {"email": "not-an-email", "role": "wizard"})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "email:" in text and "role: one of viewer, agent, engineer, lead, admin" in text
    assert 'value="not-an-email"' in text                 # the form keeps what was typed
    assert count_rows(app, "users")["users"] == 1
    dup = post(admin, "/staff/invite", {"email": "ADA@example.com", "role": "agent"})
    assert dup.status_code == 409 and "exists already" in dup.get_data(as_text=True)


def test_with_password_login_off_an_invitation_just_allows_sso(app, admin, monkeypatch):
    monkeypatch.setitem(app.config, "PASSWORD_LOGIN", False)
    monkeypatch.setitem(app.config, "OIDC_ISSUER", "https://login.example.com")  # only the page's wording reads it
    text = post(admin, "/staff/invite", {"email": "dee@example.com", "role": "lead"}).get_data(as_text=True)
    assert "can sign in with single sign-on now" in text and "/password/" not in text
    assert row(app, "dee@example.com") == ("lead", True)
    assert post(admin, f"/staff/{staff_id(app, 'dee@example.com')}/password-link").status_code == 403


def test_change_a_role_but_never_take_away_the_last_admin(app, admin, make_user):
    make_user("eve@example.com", role="agent")
    assert post(admin, f"/staff/{staff_id(app, 'eve@example.com')}/role", {"role": "lead"}).status_code == 302
    assert row(app, "eve@example.com") == ("lead", True)
    last = post(admin, f"/staff/{staff_id(app, 'ada@example.com')}/role", {"role": "lead"})
    assert last.status_code == 409 and "last active admin" in last.get_data(as_text=True)
    assert post(admin, f"/staff/{staff_id(app, 'eve@example.com')}/role", {"role": "boss"}).status_code == 422
    assert row(app, "ada@example.com") == ("admin", True) and row(app, "eve@example.com") == ("lead", True)


def test_deactivation_ends_sessions_and_tokens_and_logins(app, admin, make_user, runner):
    make_user("finn@example.com", role="lead", password=PASSWORD)
    finn = app.test_client()
    login(finn, "finn@example.com", PASSWORD)
    token = runner.invoke(args=["tokens", "create", "finn@example.com"]).output.strip().splitlines()[-1]
    api = app.test_client()
    assert api.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert post(admin, f"/staff/{staff_id(app, 'finn@example.com')}/deactivate").status_code == 302
    assert row(app, "finn@example.com") == ("lead", False)
    assert finn.get("/").status_code == 302
    assert api.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert login(app.test_client(), "finn@example.com", PASSWORD).status_code == 401
    with app.app_context():
        assert db.session.scalar(select(ApiToken.revoked_at)) is not None   # reactivation does not revive it
    assert post(admin, f"/staff/{staff_id(app, 'finn@example.com')}/reactivate").status_code == 302
    assert login(app.test_client(), "finn@example.com", PASSWORD).status_code == 302
    assert api.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_an_admin_cannot_deactivate_themselves(app, admin):
    answer = post(admin, f"/staff/{staff_id(app, 'ada@example.com')}/deactivate")
    assert answer.status_code == 409 and row(app, "ada@example.com") == ("admin", True)


def test_revoke_one_token_or_all(app, admin, make_user):
    _, email = make_user("gil@example.com", role="engineer")
    with app.app_context():
        tokens = [service.create_token(email, name=f"t{i}") for i in range(3)]
    page = admin.get("/staff").get_data(as_text=True)
    assert all(t[:12] in page for t in tokens) and tokens[0] not in page
    with app.app_context():
        first = db.session.scalar(select(ApiToken.id).where(ApiToken.prefix == tokens[0][:12]))
    gil = staff_id(app, email)
    assert post(admin, f"/staff/{gil}/revoke-tokens", {"token_id": str(first)}).status_code == 302
    api = app.test_client()
    codes = [api.get("/api/v1/incidents", headers={"Authorization": f"Bearer {t}"}).status_code for t in tokens]
    assert codes == [401, 200, 200]
    assert post(admin, f"/staff/{gil}/revoke-tokens", {"token_id": "one"}).status_code == 400
    assert api.get("/api/v1/incidents", headers={"Authorization": f"Bearer {tokens[1]}"}).status_code == 200
    post(admin, f"/staff/{gil}/revoke-tokens")
    codes = [api.get("/api/v1/incidents", headers={"Authorization": f"Bearer {t}"}).status_code for t in tokens]
    assert codes == [401, 401, 401]


def test_a_password_link_for_an_existing_member(app, admin, make_user):
    make_user("hal@example.com", role="agent", password=PASSWORD)
    text = post(admin, f"/staff/{staff_id(app, 'hal@example.com')}/password-link").get_data(as_text=True)
    link = LINK_RE.search(text).group(1)
    hal = app.test_client()
    form = {"password": "hal's new password", "confirm": "hal's new password", "csrf_token": csrf_from(hal, link)}
    assert hal.post(link, data=form).status_code == 302
    assert login(app.test_client(), "hal@example.com", PASSWORD).status_code == 401
    assert login(app.test_client(), "hal@example.com", "hal's new password").status_code == 302


@pytest.mark.parametrize("role", ["viewer", "agent", "engineer", "lead"])
def test_only_admins_manage_staff(app, client, make_user, role):
    make_user("ivy@example.com", role=role, password=PASSWORD)
    make_user("jo@example.com", role="agent")
    login(client, "ivy@example.com", PASSWORD)
    assert client.get("/staff").status_code == 403
    assert "/staff" not in client.get("/").get_data(as_text=True)
    token = csrf_from(client, "/")
    jo = staff_id(app, "jo@example.com")
    for path, data in ((f"/staff/{jo}/role", {"role": "admin"}), (f"/staff/{jo}/deactivate", {}),
                       ("/staff/invite", {"email": "x@example.com", "role": "admin"})):
        assert client.post(path, data={**data, "csrf_token": token}).status_code == 403
    assert row(app, "jo@example.com") == ("agent", True) and count_rows(app, "users")["users"] == 2


def test_the_staff_page_needs_a_login_csrf_and_keeps_the_strict_csp(app, client, admin, make_user):
    make_user("kim@example.com", role="agent")
    assert app.test_client().get("/staff").status_code == 302
    answer = admin.get("/staff")
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
    assert "kim@example.com" in answer.get_data(as_text=True)
    forged = admin.post(f"/staff/{staff_id(app, 'kim@example.com')}/deactivate")
    assert forged.status_code == 400 and row(app, "kim@example.com") == ("agent", True)
    assert post(admin, f"/staff/{staff_id(app, 'kim@example.com')}/explode").status_code == 404
    assert post(admin, "/staff/99999/deactivate").status_code == 404


def test_service_functions_check_the_actor(app, make_user):
    make_user("lee@example.com", role="lead")
    make_user("max@example.com", role="agent")
    with app.app_context():
        lead, target = service.get_user_by_email("lee@example.com"), service.get_user_by_email("max@example.com")
        for call in (lambda: service.change_staff_role(lead, target, "admin"),
                     lambda: service.deactivate_staff(lead, target),
                     lambda: service.revoke_staff_tokens(lead, target),
                     lambda: service.create_password_link(lead, target),
                     lambda: service.invite_staff(lead, "new@example.com", role="admin")):
            with pytest.raises(NotAllowed):
                call()
        service.change_staff_role(None, target, "engineer")   # the command line (actor None) may
        assert service.get_user_by_email("max@example.com").role == "engineer"


def test_the_cli_shares_the_service_functions(app, make_user, runner):
    make_user("root@example.com", role="admin")
    make_user("nia@example.com", role="agent")
    assert runner.invoke(args=["users", "set-role", "nia@example.com", "lead"]).exit_code == 0
    assert row(app, "nia@example.com") == ("lead", True)
    assert runner.invoke(args=["users", "deactivate", "nia@example.com"]).exit_code == 0
    assert row(app, "nia@example.com") == ("lead", False)
    assert runner.invoke(args=["users", "reactivate", "nia@example.com"]).exit_code == 0
    assert row(app, "nia@example.com") == ("lead", True)
    last = runner.invoke(args=["users", "deactivate", "root@example.com"])
    assert last.exit_code == 1 and "last active admin" in last.output
    with app.app_context():
        with pytest.raises(Conflict):
            service.change_staff_role(None, service.get_user_by_email("root@example.com"), "viewer")
