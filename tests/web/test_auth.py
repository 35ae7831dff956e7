"""Staff login, sessions, CSRF, hashed passwords and tokens, and the user/token CLI."""
from __future__ import annotations

import re
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from incident import clock
from incident.auth import service as auth_service
from incident.auth.models import ApiToken, User
from incident.auth.policy import login_retry_after
from incident.extensions import db

from ..conftest import T0
from ..web_helpers import csrf_from, login

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


def test_a_failed_login_never_sleeps_in_the_request_thread(client, make_user, monkeypatch):
    """A sleeping failure held a gunicorn thread: 24 parallel bad logins made /healthz take 4 s."""
    make_user("ana@example.com", role="lead", password=PASSWORD)

    def no_sleep(seconds):
        raise AssertionError(f"a login slept {seconds} s in the request thread")

    monkeypatch.setattr(time, "sleep", no_sleep)
    assert login(client, "ana@example.com", "not the password").status_code == 401
    assert login(client, "ghost@example.com", "not the password").status_code == 401


def test_forms_need_the_csrf_token(client, make_user):
    make_user("ana@example.com", role="lead", password=PASSWORD)
    response = client.post("/login", data={"email": "ana@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302  # not logged in


def as_a_browser_reads(location: str) -> str:
    """What a browser makes of a Location: C0 controls and spaces stripped at the ends, tabs and
    newlines removed anywhere, a backslash read as a slash (the WHATWG URL parser)."""
    location = location.strip("".join(map(chr, range(0x21))))
    return re.sub(r"[\t\n\r]", "", location).replace("\\", "/")


NASTY_NEXT = ["//evil.example/", "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "\t//evil.example",
              " //evil.example", "\x01//evil.example", "/\\evil.example", "\\\\evil.example", "/\t\\evil.example",
              "https://evil.example", "http:evil.example", "HTTPS:/\t/evil.example", "javascript:alert(1)",
              "java\tscript:alert(1)", "//[", "evil.example", "", "/\x00/evil.example"]


@pytest.mark.parametrize("target", NASTY_NEXT)
def test_login_redirects_only_to_same_site_paths(client, make_user, target):
    make_user("ana@example.com", role="lead", password=PASSWORD)
    response = client.post("/login", data={"email": "ana@example.com", "password": PASSWORD,
                                           "csrf_token": csrf_from(client), "next": target})
    assert response.status_code == 302
    seen = urlsplit(as_a_browser_reads(response.headers["Location"]))
    assert not seen.scheme and not seen.netloc and seen.path.startswith("/") and not seen.path.startswith("//")
    assert client.get("/").status_code == 200  # and the login itself went through


def test_login_keeps_a_same_site_next_page(client, make_user):
    make_user("ana@example.com", role="lead", password=PASSWORD)
    response = client.post("/login", data={"email": "ana@example.com", "password": PASSWORD,
                                           "csrf_token": csrf_from(client), "next": "/incidents?status=open"})
    assert response.headers["Location"] == "/incidents?status=open"


def test_changing_the_password_ends_other_sessions(app, client, make_user):
    make_user("ana@example.com", role="lead", password=PASSWORD)
    login(client, "ana@example.com", PASSWORD)
    assert client.get("/").status_code == 200
    with app.app_context():
        auth_service.set_password(auth_service.get_user_by_email("ana@example.com"), "another long password")
    assert client.get("/").status_code == 302


@pytest.fixture
def cheap_hashing(monkeypatch):
    """Argon2 at its cheapest, for tests that fail many logins (the default costs ~1 s on a busy CI box)."""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(auth_service, "_hasher", cheap)
    monkeypatch.setattr(auth_service, "_DUMMY_HASH", cheap.hash("dummy"))


def attempt(client, email, password, *, address="198.51.100.7"):
    """A login form posted from a client address."""
    return client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_from(client)},
                       environ_base={"REMOTE_ADDR": address})


def test_failures_per_account_lock_it_for_the_window(client, make_user, frozen, cheap_hashing):
    make_user("ana@example.com", role="lead", password=PASSWORD)
    for n in range(5):  # from five addresses: the account is what is counted
        assert attempt(client, "ana@example.com", "guess", address=f"203.0.113.{n}").status_code == 401
        clock.advance(minutes=1)
    locked = attempt(client, "Ana@Example.com", PASSWORD, address="192.0.2.1")  # even the right password
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == str(10 * 60)  # the first failure leaves the window then
    assert "Too many failed logins" in locked.get_data(as_text=True)
    assert client.get("/").status_code == 302
    clock.advance(minutes=10)
    assert attempt(client, "ana@example.com", PASSWORD, address="192.0.2.1").status_code == 302


def test_unknown_accounts_are_limited_the_same_way(client, frozen, cheap_hashing):
    for _ in range(5):
        assert attempt(client, "ghost@example.com", "guess").status_code == 401
    response = attempt(client, "ghost@example.com", "guess", address="192.0.2.1")
    assert response.status_code == 429 and response.headers["Retry-After"] == str(15 * 60)


def test_failures_per_client_address_are_limited(client, make_user, frozen, cheap_hashing):
    make_user("ana@example.com", role="lead", password=PASSWORD)
    for n in range(20):
        assert attempt(client, f"guess{n}@example.com", "guess").status_code == 401
    locked = attempt(client, "ana@example.com", PASSWORD)
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) == 15 * 60
    assert attempt(client, "ana@example.com", PASSWORD, address="192.0.2.1").status_code == 302
    clock.advance(minutes=15, seconds=1)
    assert attempt(client, "bo@example.com", "guess").status_code == 401  # the window has passed


def test_limits_are_settings(app, client, frozen, cheap_hashing, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FAILURES_PER_ACCOUNT", 2)  # typed: Settings parsed the environment at start
    monkeypatch.setitem(app.config, "LOGIN_FAILURE_WINDOW_MINUTES", 1.0)
    for _ in range(2):
        assert attempt(client, "ghost@example.com", "guess").status_code == 401
    assert attempt(client, "ghost@example.com", "guess").headers["Retry-After"] == "60"


def test_a_login_resets_the_account_counter(client, make_user, frozen, cheap_hashing):
    make_user("ana@example.com", role="lead", password=PASSWORD)
    for _ in range(4):
        attempt(client, "ana@example.com", "guess")
    assert attempt(client, "ana@example.com", PASSWORD).status_code == 302
    for _ in range(4):
        assert attempt(client, "ana@example.com", "guess", address="192.0.2.1").status_code == 401
    assert attempt(client, "ana@example.com", PASSWORD, address="192.0.2.1").status_code == 302


def test_a_locked_login_checks_no_password(client, make_user, frozen, cheap_hashing, monkeypatch):
    make_user("ana@example.com", role="lead", password=PASSWORD)
    for _ in range(5):
        attempt(client, "ana@example.com", "guess")

    class NoChecks:
        def verify(self, *args):
            pytest.fail("a locked login checked a password")

    monkeypatch.setattr(auth_service, "_hasher", NoChecks())
    assert attempt(client, "ana@example.com", PASSWORD).status_code == 429


def test_retry_after_is_when_enough_failures_have_left_the_window():
    window, now = timedelta(minutes=15), T0 + timedelta(minutes=20)
    failures = [now - timedelta(minutes=m) for m in (16, 14, 9, 3, 1)]  # the first is out of the window
    assert login_retry_after(failures, limit=5, window=window, now=now) is None
    assert login_retry_after(failures, limit=4, window=window, now=now) == 60  # when the 14-minute one leaves
    assert login_retry_after(failures, limit=2, window=window, now=now) == 12 * 60
    assert login_retry_after([now], limit=1, window=window, now=now) == 15 * 60


def test_attempts_still_running_count_against_the_limit(app, frozen):
    """Parallel guesses cannot slip past: an attempt is counted before its password is checked."""
    from incident.auth import throttle

    with app.app_context():
        for _ in range(5):
            throttle.begin_attempt("ana@example.com", client="198.51.100.7")
        with pytest.raises(throttle.TooManyLoginAttempts):
            throttle.begin_attempt("ana@example.com", client="198.51.100.8")
        db.session.remove()


def session_cookie(client) -> str:
    return client.get_cookie("session").value


def test_logout_ends_the_session_on_the_server(client, make_user):
    make_user("ana@example.com", role="lead", password=PASSWORD)
    login(client, "ana@example.com", PASSWORD)
    stolen = session_cookie(client)
    client.post("/logout", data={"csrf_token": csrf_from(client, "/")})
    client.set_cookie("session", stolen)  # the old cookie, replayed
    assert client.get("/").status_code == 302


def test_logging_out_ends_only_that_session(app, client, make_user):
    make_user("ana@example.com", role="lead", password=PASSWORD)
    laptop = app.test_client()
    login(laptop, "ana@example.com", PASSWORD)
    login(client, "ana@example.com", PASSWORD)
    client.post("/logout", data={"csrf_token": csrf_from(client, "/")})
    assert laptop.get("/").status_code == 200 and client.get("/").status_code == 302


def test_the_session_cookie_carries_nothing_from_the_password(app, client, make_user):
    make_user("ana@example.com", role="lead", password=PASSWORD)
    login(client, "ana@example.com", PASSWORD)
    cookie = session_cookie(client)
    data = app.session_interface.get_signing_serializer(app).loads(cookie)
    with app.app_context():
        stored = auth_service.get_user_by_email("ana@example.com").password_hash
    pieces = {stored[i:i + 8] for i in range(len(stored) - 7)}
    assert not any(piece in str(data) or piece in cookie for piece in pieces)


def test_sessions_end_after_the_idle_lifetime(client, make_user, frozen):
    make_user("ana@example.com", role="lead", password=PASSWORD)
    login(client, "ana@example.com", PASSWORD)
    clock.advance(hours=11)
    assert client.get("/").status_code == 200  # in use: it stays open
    clock.advance(hours=11)
    assert client.get("/").status_code == 200
    clock.advance(hours=12, minutes=1)  # left alone longer than PERMANENT_SESSION_LIFETIME
    assert client.get("/").status_code == 302


def test_deactivating_a_staff_member_ends_their_sessions(app, client, make_user, runner):
    make_user("ana@example.com", role="lead", password=PASSWORD)
    login(client, "ana@example.com", PASSWORD)
    result = runner.invoke(args=["users", "deactivate", "Ana@Example.com"])
    assert result.exit_code == 0, result.output
    assert client.get("/").status_code == 302
    assert login(client, "ana@example.com", PASSWORD).status_code == 401
    assert runner.invoke(args=["users", "deactivate", "ghost@example.com"]).exit_code == 1
    with app.app_context():
        auth_service.get_user_by_email("ana@example.com").active = True  # taken back: the old session stays ended
        db.session.commit()
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
