"""Single sign-on against a loopback OpenID Connect provider: who gets in, with which role, and
every forged, stale or mismatched answer refused with its reason and nothing written."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from incident.auth.models import StaffSession, User
from incident.extensions import db

from ..conftest import count_rows
from ..web_helpers import csrf_from
from .oidc_provider import CLIENT_ID, Person

PASSWORD = "correct horse battery"


def user(app, email):
    with app.app_context():
        found = db.session.scalar(select(User).where(User.email == email))
        return None if found is None else (found.role, found.active, found.name)


def nothing_written(app):
    return count_rows(app, "users", "staff_sessions") == {"users": 0, "staff_sessions": 0}


def test_first_sign_in_creates_the_account_with_the_role_of_its_groups(sso, sso_app, provider):
    answer = provider.sign_in(sso, email="Omar@Example.com", name="Omar Oncall", groups=["everyone", "oncall"])
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    assert user(sso_app, "omar@example.com") == ("engineer", True, "Omar Oncall")
    page = sso.get("/")
    assert page.status_code == 200 and "Omar Oncall" in page.get_data(as_text=True)
    # The authorization code flow with state, nonce and PKCE (S256): the provider checked the verifier.
    asked = provider.authorize_requests[-1]
    assert asked["client_id"] == CLIENT_ID and asked["response_type"] == "code"
    assert asked["state"] and asked["nonce"] and asked["code_challenge_method"] == "S256"
    assert asked["redirect_uri"] == "http://tocsin.test/login/oidc/callback"
    assert provider.token_requests[-1]["code_verifier"]
    with sso_app.app_context():
        assert db.session.scalar(select(User.password_hash).where(User.email == "omar@example.com")) is None


def test_later_sign_ins_follow_the_groups_the_highest_role_winning(sso, sso_app, provider, make_user):
    make_user("lea@example.com", role="viewer", name="Lea")
    provider.sign_in(sso, email="lea@example.com", groups=["oncall", "support-leads"])
    assert user(sso_app, "lea@example.com") == ("lead", True, "Lea")
    provider.sign_in(sso_app.test_client(), email="lea@example.com", groups=["oncall"])
    assert user(sso_app, "lea@example.com")[0] == "engineer"
    assert count_rows(sso_app, "staff_sessions")["staff_sessions"] == 2


def test_someone_from_an_allowed_domain_without_groups_keeps_the_role_an_admin_gave(sso, sso_app, provider,
                                                                                  make_user):
    provider.sign_in(sso, email="new@example.com")
    assert user(sso_app, "new@example.com")[0] == "viewer"   # a new account starts as a viewer
    make_user("amy@example.com", role="lead")
    provider.sign_in(sso_app.test_client(), email="amy@example.com", groups=[])
    assert user(sso_app, "amy@example.com")[0] == "lead"


def test_a_mapped_group_lets_in_someone_from_another_domain(sso, sso_app, provider):
    answer = provider.sign_in(sso, email="contractor@partner.org", groups=["tocsin-admins"])
    assert answer.status_code == 302
    assert user(sso_app, "contractor@partner.org")[0] == "admin"


def test_a_disallowed_domain_is_refused_with_the_reason(sso, sso_app, provider):
    answer = provider.sign_in(sso, email="mallory@evil.test")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 403
    assert "Single sign-on failed: Your email domain evil.test is not allowed" in text
    assert nothing_written(sso_app) and sso.get("/").status_code == 302


def test_unknown_groups_are_refused_naming_them_and_nothing_is_written(sso, sso_app, provider):
    answer = provider.sign_in(sso, email="mark@example.com", groups=["marketing", "<b>all-staff</b>"])
    text = answer.get_data(as_text=True)
    assert answer.status_code == 403
    assert "None of your groups (&lt;b&gt;all-staff&lt;/b&gt;, marketing) has a role in Tocsin." in text
    assert "<b>all-staff" not in text
    assert nothing_written(sso_app)


def test_a_deactivated_account_cannot_sign_in(sso, sso_app, provider, make_user):
    from incident.auth.service import deactivate_staff, get_user_by_email

    make_user("gone@example.com", role="engineer")
    with sso_app.app_context():
        deactivate_staff(None, get_user_by_email("gone@example.com"))
    answer = provider.sign_in(sso, email="gone@example.com", groups=["oncall"])
    assert answer.status_code == 403 and "deactivated" in answer.get_data(as_text=True)
    assert count_rows(sso_app, "staff_sessions")["staff_sessions"] == 0


@pytest.mark.parametrize(("mischief", "reason"), [
    ({"lifetime_seconds": -600}, "The ID token has expired."),
    ({"forge": True}, "The ID token&#39;s signature does not verify"),
    ({"nonce": "a-nonce-from-another-sign-in"}, "its nonce does not match"),
    ({"audience": "another-client"}, "The ID token&#39;s aud claim is wrong."),
])
def test_bad_id_tokens_are_refused_with_the_reason(sso, sso_app, provider, frozen, mischief, reason):
    for name, value in mischief.items():
        setattr(provider.misbehave, name, value)
    answer = provider.sign_in(sso, email="omar@example.com", groups=["oncall"])
    assert answer.status_code == 401, answer.get_data(as_text=True)
    assert reason in answer.get_data(as_text=True)
    assert nothing_written(sso_app) and sso.get("/").status_code == 302


def test_expiry_is_measured_by_the_clock(sso, sso_app, provider, frozen):
    """The clock stands at T0, days before the real time: a token the provider issued at T0 for ten
    minutes is good by Tocsin's clock (by the wall clock it would long be stale)."""
    answer = provider.sign_in(sso, email="omar@example.com", groups=["oncall"])
    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert user(sso_app, "omar@example.com")[0] == "engineer"


def test_a_mismatched_or_replayed_state_is_refused(sso, sso_app, provider):
    provider.person = Person(email="omar@example.com", groups=["oncall"])
    back = urlsplit(provider.follow(sso.get("/login/oidc").headers["Location"]))
    query = parse_qs(back.query)
    forged = sso.get(f"{back.path}?code={query['code'][0]}&state=attacker-state")
    assert forged.status_code == 401 and "state does not match" in forged.get_data(as_text=True)
    assert nothing_written(sso_app)
    # Another browser (without this sign-in's state in its session) cannot use the answer either.
    stranger = sso_app.test_client()
    assert stranger.get(f"{back.path}?{back.query}").status_code == 401
    assert nothing_written(sso_app)


def test_a_callback_is_good_once(sso, sso_app, provider):
    provider.person = Person(email="omar@example.com", groups=["oncall"])
    back = urlsplit(provider.follow(sso.get("/login/oidc").headers["Location"]))
    assert sso.get(f"{back.path}?{back.query}").status_code == 302
    again = sso_app.test_client()
    assert again.get(f"{back.path}?{back.query}").status_code == 401
    assert count_rows(sso_app, "staff_sessions")["staff_sessions"] == 1


def test_the_providers_refusal_is_shown(sso, sso_app, provider):
    provider.misbehave.error = "access_denied"
    answer = provider.sign_in(sso, email="omar@example.com")
    assert answer.status_code == 401 and "The sign-in provider refused: access_denied" in answer.get_data(as_text=True)
    assert nothing_written(sso_app)


def test_an_unverified_email_is_refused(sso, sso_app, provider):
    answer = provider.sign_in(sso, email="omar@example.com", groups=["oncall"], email_verified=False)
    assert answer.status_code == 401 and "has not verified omar@example.com" in answer.get_data(as_text=True)
    assert nothing_written(sso_app)


def test_the_page_asked_for_comes_after_sign_in(sso, provider):
    answer = provider.sign_in(sso, start="/login/oidc?next=/incidents%3Fstatus%3Dopen",
                              email="omar@example.com", groups=["oncall"])
    assert answer.headers["Location"] == "/incidents?status=open"
    answer = provider.sign_in(sso, start="/login/oidc?next=//evil.test/x")
    assert answer.headers["Location"] == "/" and sso.get("/").status_code == 200


def test_password_login_off_leaves_only_the_sso_button(sso, sso_app, provider, make_user, monkeypatch):
    make_user("ana@example.com", role="admin", password=PASSWORD)
    token = csrf_from(sso, "/login")   # taken while the form was still shown
    monkeypatch.setitem(sso_app.config, "PASSWORD_LOGIN", False)
    page = sso.get("/login").get_data(as_text=True)
    assert 'id="sso-login"' in page and 'name="password"' not in page
    refused = sso.post("/login", data={"email": "ana@example.com", "password": PASSWORD, "csrf_token": token})
    assert refused.status_code == 403 and "Password login is turned off" in refused.get_data(as_text=True)
    assert count_rows(sso_app, "staff_sessions")["staff_sessions"] == 0 and sso.get("/").status_code == 302
    assert provider.sign_in(sso, email="ana@example.com").status_code == 302
    assert sso.get("/").status_code == 200


def test_with_password_login_on_the_login_page_offers_both(sso):
    page = sso.get("/login?next=/incidents").get_data(as_text=True)
    assert 'href="/login/oidc?next=/incidents"' in page and 'name="password"' in page


def test_without_sso_configured_there_is_no_sso_route_or_button(client):
    assert client.get("/login/oidc").status_code == 404
    assert client.get("/login/oidc/callback?code=x&state=y").status_code == 404
    assert "sso-login" not in client.get("/login").get_data(as_text=True)


def test_an_unreachable_provider_is_a_clear_refusal(app, make_user):
    from incident import create_app

    from ..stand_ins import closed_port
    from .oidc_provider import CLIENT_SECRET

    keys = ("TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "PUBLIC_BASE_URL")
    down = create_app({**{key: app.config[key] for key in keys}, "OIDC_ISSUER": f"http://127.0.0.1:{closed_port()}",
                       "OIDC_CLIENT_ID": CLIENT_ID, "OIDC_CLIENT_SECRET": CLIENT_SECRET,
                       "OIDC_ALLOWED_DOMAINS": "example.com"})
    answer = down.test_client().get("/login/oidc")
    assert answer.status_code == 401 and "could not be reached" in answer.get_data(as_text=True)
    with down.app_context():
        db.engine.dispose()


def test_a_discovery_document_naming_another_issuer_is_refused(app, provider):
    from incident import create_app

    from .oidc_provider import CLIENT_SECRET

    keys = ("TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "PUBLIC_BASE_URL")
    port = provider.issuer.rsplit(":", 1)[1]
    other = create_app({**{key: app.config[key] for key in keys}, "OIDC_ISSUER": f"http://localhost:{port}",
                        "OIDC_CLIENT_ID": CLIENT_ID, "OIDC_CLIENT_SECRET": CLIENT_SECRET,
                        "OIDC_ALLOWED_DOMAINS": "example.com"})
    answer = other.test_client().get("/login/oidc")
    assert answer.status_code == 401 and "names another issuer" in answer.get_data(as_text=True)
    with other.app_context():
        db.engine.dispose()


def test_sessions_started_by_sso_end_on_logout(sso, sso_app, provider):
    provider.sign_in(sso, email="omar@example.com", groups=["oncall"])
    sso.post("/logout", data={"csrf_token": csrf_from(sso, "/")})
    assert sso.get("/").status_code == 302
    with sso_app.app_context():
        assert db.session.scalar(select(StaffSession)) is None
