"""Single sign-on with OpenID Connect, any provider by its issuer URL.

Authlib's Flask client runs the authorization code flow: it keeps the state, the nonce and the
PKCE verifier in the session, swaps the code for tokens and checks the ID token's signature
against the provider's published keys. This module adds what Tocsin insists on (the issuer and
audience named in the configuration, expiry measured by `clock`) and turns every way a sign-in
can go wrong into one reason a person can read. Nothing here touches the database.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import requests
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from authlib.oidc.core import CodeIDToken
from flask import Flask, current_app
from joserfc.errors import BadSignatureError, ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError
from werkzeug.wrappers import Response

from ..clock import utcnow
from ..errors import AppError
from .policy import groups_in

logger = logging.getLogger(__name__)

CLIENT = "tocsin_oidc"
CALLBACK_PATH = "/login/oidc/callback"
TIMEOUT_SECONDS = 10


class SsoFailed(AppError):
    """A sign-in the provider or the ID token did not bear out; the message says why."""

    status, code = 401, "sso_failed"


@dataclass(frozen=True)
class Identity:
    """Who the provider vouched for."""

    email: str
    name: str
    groups: list[str] | None   # None: the token has no group claim at all


class _ClockedIDToken(CodeIDToken):
    """An ID token whose expiry and issue time are measured by Tocsin's clock."""

    def validate(self, now=None, leeway=0):
        super().validate(int(utcnow().timestamp()), leeway)


def init_app(app: Flask) -> None:
    """Register the provider with Authlib when single sign-on is configured."""
    if not app.config.get("OIDC_ISSUER"):
        return
    logging.getLogger("authlib").setLevel(logging.INFO)   # its debug lines carry the PKCE verifier
    oauth = OAuth(app)
    oauth.register(CLIENT, client_id=app.config["OIDC_CLIENT_ID"], client_secret=app.config["OIDC_CLIENT_SECRET"],
                   server_metadata_url=app.config["OIDC_ISSUER"] + "/.well-known/openid-configuration",
                   client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256",
                                  "default_timeout": TIMEOUT_SECONDS})


def enabled() -> bool:
    """True when single sign-on is configured."""
    return bool(current_app.config.get("OIDC_ISSUER"))


def _client():
    return current_app.extensions["authlib.integrations.flask_client"].create_client(CLIENT)


def _metadata() -> dict:
    """The provider's discovery document, fetched once; its issuer must be the configured one."""
    try:
        metadata = _client().load_server_metadata()
    except (requests.RequestException, ValueError):
        logger.warning("single sign-on: the provider's discovery document could not be read")
        raise SsoFailed("The sign-in provider could not be reached; try again shortly.",
                        code="sso_unavailable") from None
    if metadata.get("issuer", "").rstrip("/") != current_app.config["OIDC_ISSUER"]:
        raise SsoFailed("The sign-in provider's discovery document names another issuer.", code="sso_issuer")
    return metadata


def redirect_to_provider() -> Response:
    """Send the browser to the provider, with a fresh state, nonce and PKCE challenge."""
    _metadata()
    return _client().authorize_redirect(current_app.config["PUBLIC_BASE_URL"] + CALLBACK_PATH)


def identity_from_callback() -> Identity:
    """The verified identity in the provider's answer, or SsoFailed with the reason."""
    metadata = _metadata()
    options = {"iss": {"essential": True, "value": metadata["issuer"]},
               "aud": {"essential": True, "value": current_app.config["OIDC_CLIENT_ID"]}}
    try:
        token = _client().authorize_access_token(claims_cls=_ClockedIDToken, claims_options=options)
    except MismatchingStateError:
        raise SsoFailed("This sign-in was not started from this browser or was already used (the state "
                        "does not match). Start again.", code="sso_state") from None
    except OAuthError as error:
        said = ": ".join(str(part) for part in (error.error, error.description) if part)
        raise SsoFailed(f"The sign-in provider refused: {said}.", code="sso_refused_by_provider") from None
    except requests.RequestException:
        logger.warning("single sign-on: the provider's token endpoint could not be reached")
        raise SsoFailed("The sign-in provider could not be reached; try again shortly.",
                        code="sso_unavailable") from None
    except JoseError as error:
        raise SsoFailed(_token_problem(error), code="sso_bad_token") from None
    claims = token.get("userinfo")
    if not claims:
        raise SsoFailed("The sign-in provider sent no ID token.", code="sso_bad_token")
    return _identity(claims)


def _token_problem(error: JoseError) -> str:
    if isinstance(error, ExpiredTokenError):
        return "The ID token has expired."
    if isinstance(error, BadSignatureError):
        return "The ID token's signature does not verify: it was not signed by the sign-in provider."
    if isinstance(error, InvalidClaimError) and error.claim == "nonce":
        return "The ID token was issued for another sign-in (its nonce does not match)."
    if isinstance(error, (InvalidClaimError, MissingClaimError)):
        wrong = "is missing" if isinstance(error, MissingClaimError) else "is wrong"
        return f"The ID token's {error.claim} claim {wrong}."
    return f"The ID token was refused ({error.error})."


def _identity(claims: dict) -> Identity:
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise SsoFailed("The sign-in provider sent no email address (the email scope and claim are needed).",
                        code="sso_no_email")
    if claims.get("email_verified") is False:
        raise SsoFailed(f"The sign-in provider has not verified {email}.", code="sso_email_unverified")
    name = claims.get("name") if isinstance(claims.get("name"), str) else ""
    return Identity(email=email, name=name or "", groups=groups_in(claims, current_app.config["OIDC_ROLE_CLAIM"]))
