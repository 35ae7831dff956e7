"""Staff login, sessions, CSRF, hashed passwords and tokens, and the user/token CLI."""
from __future__ import annotations

from sqlalchemy import select

from incident.auth import service as auth_service
from incident.auth.models import ApiToken, User
from incident.extensions import db

from .web_helpers import csrf_from, login

PASSWORD = "correct horse battery"


def test_passwords_and_tokens_are_stored_hashed(app, make_user, runner):
    make_user("ana@example.com", role="lead", password=PASSWORD)
    result = runner.invoke(args=["tokens", "create", "ana@example.com"])
    token = result.output.strip().splitlines()[-1]
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "ana@example.com"))
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        stored = db.session.scalar(select(ApiToken))
        assert token not in (stored.token_hash, stored.prefix) and len(stored.token_hash) == 64


def test_login_and_logout(client, make_user):
    make_user("ana@example.com", role="lead", password=PASSWORD)
    assert client.get("/").status_code == 302
    response = login(client, "Ana@Example.com", PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Open incidents" in client.get("/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_from(client, "/")})
    assert client.get("/").status_code == 302


def test_wrong_password_and_unknown_user_look_the_same(client, make_user, monkeypatch):
    make_user("ana@example.com", role="lead", password=PASSWORD)
    verified = []
    real = auth_service._hasher

    class Spy:
        def verify(self, stored, password):
            verified.append(stored)
            return real.verify(stored, password)

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(auth_service, "_hasher", Spy())
    wrong = login(client, "ana@example.com", "not the password")
    unknown = login(client, "nobody@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong email or password." in wrong.get_data(as_text=True)
    assert "Wrong email or password." in unknown.get_data(as_text=True)
    assert len(verified) == 2  # the unknown address cost a hash verification too
    assert client.get("/").status_code == 302


def test_login_slows_failures_down(app, client, make_user, monkeypatch):
    make_user("ana@example.com", role="lead", password=PASSWORD)
    slept = []
    monkeypatch.setattr("incident.web.routes.time.sleep", slept.append)
    monkeypatch.setitem(app.config, "LOGIN_FAILURE_MIN_SECONDS", 0.75)
    login(client, "ghost@example.com", "whatever")
    assert slept and 0 < slept[0] <= 0.75


def test_forms_need_the_csrf_token(client, make_user):
    make_user("ana@example.com", role="lead", password=PASSWORD)
    response = client.post("/login", data={"email": "ana@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302  # not logged in


def test_login_redirects_only_to_local_pages(client, make_user):
    make_user("ana@example.com", role="lead", password=PASSWORD)
    token = csrf_from(client)
    response = client.post("/login", data={"email": "ana@example.com", "password": PASSWORD,
                                           "csrf_token": token, "next": "//evil.example/"})
    assert response.headers["Location"] == "/"


def test_changing_the_password_ends_other_sessions(app, client, make_user):
    make_user("ana@example.com", role="lead", password=PASSWORD)
    login(client, "ana@example.com", PASSWORD)
    assert client.get("/").status_code == 200
    with app.app_context():
        auth_service.set_password(auth_service.get_user_by_email("ana@example.com"), "another long password")
    assert client.get("/").status_code == 302


def test_cli_users_create_and_tokens(app, runner, client):
    result = runner.invoke(args=["users", "create", "Bo@Example.com", "--role", "engineer", "--name", "Bo",
                                 "--phone", "+393471234567", "--slack-id", "U123"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        bo = auth_service.get_user_by_email("bo@example.com")
        assert (bo.role, bo.phone, bo.slack_id, bo.password_hash) == ("engineer", "+393471234567", "U123", None)
    result = runner.invoke(args=["tokens", "create", "bo@example.com"])
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("tcs_")
    assert client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    duplicate = runner.invoke(args=["users", "create", "bo@example.com", "--role", "engineer"])
    assert duplicate.exit_code == 1 and "exists already" in duplicate.output
    bad_phone = runner.invoke(args=["users", "create", "cy@example.com", "--role", "agent", "--phone", "12"])
    assert bad_phone.exit_code == 1 and "phone" in bad_phone.output
    bad_role = runner.invoke(args=["users", "create", "cy@example.com", "--role", "overlord"])
    assert bad_role.exit_code != 0
    assert runner.invoke(args=["tokens", "create", "ghost@example.com"]).exit_code == 1


def test_cli_password_prompt(app, runner):
    result = runner.invoke(args=["users", "create", "di@example.com", "--role", "lead", "--password-prompt"],
                           input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert auth_service.authenticate("di@example.com", PASSWORD) is not None
