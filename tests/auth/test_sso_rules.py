"""Single sign-on settings checked at start, and the pure rules for who gets in with which role."""
from __future__ import annotations

import pytest

from incident import create_app
from incident.auth.policy import SsoDecision, decide_sso, groups_in
from incident.config import ConfigError, Settings, load_settings

TRIO = {"OIDC_ISSUER": "https://login.example.com/", "OIDC_CLIENT_ID": "tocsin", "OIDC_CLIENT_SECRET": "s3cret-value"}
MAP = {"oncall": "engineer", "support-leads": "lead"}


@pytest.fixture
def environ(monkeypatch):
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_sso_settings_are_parsed(environ):
    s = load_settings({**TRIO, "OIDC_ALLOWED_DOMAINS": " Example.com, @partner.org ",
                       "OIDC_ROLE_MAP": "oncall=engineer, support-leads = Lead", "OIDC_ROLE_CLAIM": "realm_access.roles",
                       "PASSWORD_LOGIN": "off"})
    assert s.OIDC_ISSUER == "https://login.example.com" and s.OIDC_CLIENT_SECRET.get_secret_value() == "s3cret-value"
    assert s.OIDC_ALLOWED_DOMAINS == {"example.com", "partner.org"}
    assert s.OIDC_ROLE_MAP == MAP and s.OIDC_ROLE_CLAIM == "realm_access.roles" and s.PASSWORD_LOGIN is False
    plain = load_settings()
    assert (plain.OIDC_ISSUER, plain.OIDC_ROLE_MAP, plain.OIDC_ROLE_CLAIM, plain.PASSWORD_LOGIN) == (
        None, {}, "groups", True)


@pytest.mark.parametrize(("values", "problem"), [
    ({"OIDC_ISSUER": TRIO["OIDC_ISSUER"]}, "OIDC_ISSUER set but OIDC_CLIENT_ID, OIDC_CLIENT_SECRET missing"),
    ({"OIDC_CLIENT_ID": "x", "OIDC_CLIENT_SECRET": "y"}, "OIDC_CLIENT_ID, OIDC_CLIENT_SECRET set but OIDC_ISSUER missing"),
    ({"OIDC_ROLE_MAP": "oncall=engineer"}, "OIDC_ROLE_MAP set but OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET missing"),
    ({"PASSWORD_LOGIN": "off"}, "PASSWORD_LOGIN=off needs single sign-on"),
    (TRIO, "single sign-on needs OIDC_ALLOWED_DOMAINS or OIDC_ROLE_MAP"),
    ({**TRIO, "OIDC_ROLE_MAP": "oncall=boss"}, "OIDC_ROLE_MAP: expected group=role pairs"),
    ({**TRIO, "OIDC_ROLE_MAP": "oncall"}, "OIDC_ROLE_MAP: expected group=role pairs"),
    ({**TRIO, "OIDC_ALLOWED_DOMAINS": "localhost"}, "OIDC_ALLOWED_DOMAINS: expected email domains"),
    ({**TRIO, "OIDC_ALLOWED_DOMAINS": "a.com", "OIDC_ISSUER": "login.example.com"}, "OIDC_ISSUER: expected an http"),
    ({**TRIO, "OIDC_ROLE_MAP": "a=lead", "PASSWORD_LOGIN": "maybe"}, "PASSWORD_LOGIN: expected on or off"),
])
def test_partial_or_bad_sso_configuration_stops_the_start(environ, values, problem):
    with pytest.raises(ConfigError) as raised:
        create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://", **values})
    assert problem in str(raised.value)
    assert "s3cret-value" not in str(raised.value)


def test_the_environment_configures_sso_at_start(environ):
    for name, value in {**TRIO, "OIDC_ALLOWED_DOMAINS": "example.com"}.items():
        environ.setenv(name, value)
    config = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"}).config
    assert config["OIDC_CLIENT_SECRET"] == "s3cret-value" and config["OIDC_ALLOWED_DOMAINS"] == {"example.com"}
    environ.delenv("OIDC_CLIENT_SECRET")
    with pytest.raises(ConfigError, match="OIDC_CLIENT_SECRET missing"):
        create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_groups_come_from_a_list_a_string_or_a_nested_claim():
    assert groups_in({"groups": ["a", "b"]}, "groups") == ["a", "b"]
    assert groups_in({"groups": "a b"}, "groups") == ["a", "b"]
    assert groups_in({"realm_access": {"roles": ["oncall"]}}, "realm_access.roles") == ["oncall"]
    assert groups_in({"email": "x@y.z"}, "groups") is None
    assert groups_in({"groups": 7}, "groups") is None


@pytest.mark.parametrize(("email", "groups", "decision"), [
    ("a@example.com", ["oncall", "support-leads", "x"], SsoDecision(role="lead")),
    ("a@other.org", ["oncall"], SsoDecision(role="engineer")),
    ("a@example.com", None, SsoDecision()),
    ("a@example.com", [], SsoDecision()),
    ("a@example.com", ["marketing"], SsoDecision(refused="None of your groups (marketing) has a role in Tocsin.")),
    ("a@other.org", None, SsoDecision(refused="Your email domain other.org is not allowed, and your sign-in "
                                              "carries no group with a role in Tocsin.")),
])
def test_who_gets_in_with_which_role(email, groups, decision):
    assert decide_sso(email, groups, allowed_domains={"example.com"}, role_map=MAP) == decision


def test_without_a_role_map_the_domain_decides_and_groups_do_not_matter():
    assert decide_sso("a@example.com", ["marketing"], allowed_domains={"example.com"}, role_map={}) == SsoDecision()
    refused = decide_sso("a@Other.org", ["marketing"], allowed_domains={"example.com"}, role_map={})
    assert refused.refused == "Your email domain other.org is not allowed."
