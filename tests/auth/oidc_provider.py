"""A loopback OpenID Connect provider: discovery, JWKS, an authorization endpoint that signs in
whoever the test chose, and a token endpoint issuing RS256 ID tokens signed with joserfc.

It checks what a real provider checks (client secret, redirect URI, one use per code, the PKCE
verifier against the challenge) and can be told to misbehave: an expired token, a token signed
with another key, a foreign nonce or audience."""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from incident import clock

CLIENT_ID = "tocsin-test-client"
CLIENT_SECRET = "oidc-test-client-secret"
KID = "test-key-1"


@dataclass
class Person:
    """Who signs in at the provider next."""

    email: str
    groups: list[str] | None = None
    name: str = ""
    email_verified: bool = True


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    nonce: str | None
    challenge: str | None
    challenge_method: str | None
    claims: dict[str, Any]
    used: bool = False


@dataclass
class Misbehaviour:
    lifetime_seconds: int = 600       # negative: the token was already expired when issued
    forge: bool = False               # sign with a key the provider never published (same kid)
    nonce: str | None = None          # a foreign nonce instead of the one asked for
    audience: str | None = None       # another client's audience
    error: str | None = None          # answer the authorization request with ?error=…


@dataclass
class OidcProvider:
    person: Person | None = None
    misbehave: Misbehaviour = field(default_factory=Misbehaviour)
    token_requests: list[dict] = field(default_factory=list)
    authorize_requests: list[dict] = field(default_factory=list)

    def __post_init__(self):
        self.key = RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig", "alg": "RS256"})
        self.forger = RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig", "alg": "RS256"})
        self.grants: dict[str, Grant] = {}
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.provider = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> OidcProvider:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        self.person, self.misbehave = None, Misbehaviour()
        self.token_requests.clear()
        self.authorize_requests.clear()

    def discovery(self) -> dict:
        return {"issuer": self.issuer, "authorization_endpoint": self.issuer + "/authorize",
                "token_endpoint": self.issuer + "/token", "jwks_uri": self.issuer + "/jwks",
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"], "code_challenge_methods_supported": ["S256"]}

    def authorize(self, query: dict) -> str:
        """Sign in the chosen person: the redirect back to the client, with a code (or an error)."""
        self.authorize_requests.append(query)
        back = query["redirect_uri"]
        if self.misbehave.error:
            return back + "?" + urlencode({"error": self.misbehave.error, "state": query.get("state", "")})
        assert self.person is not None, "the test chose nobody to sign in"
        claims = {"sub": "sub-" + self.person.email, "email": self.person.email,
                  "email_verified": self.person.email_verified, "name": self.person.name}
        if self.person.groups is not None:
            claims["groups"] = self.person.groups
        code = secrets.token_urlsafe(16)
        with self.lock:
            self.grants[code] = Grant(query["client_id"], back, query.get("nonce"), query.get("code_challenge"),
                                      query.get("code_challenge_method"), claims)
        return back + "?" + urlencode({"code": code, "state": query.get("state", "")})

    def token(self, form: dict, authorization: str) -> tuple[int, dict]:
        """Swap a code for tokens, as the authorization code grant says."""
        self.token_requests.append(form)
        client_id, client_secret = _basic(authorization) or (form.get("client_id"), form.get("client_secret"))
        if (client_id, client_secret) != (CLIENT_ID, CLIENT_SECRET):
            return 401, {"error": "invalid_client"}
        with self.lock:
            grant = self.grants.get(form.get("code", ""))
            if grant is None or grant.used or grant.redirect_uri != form.get("redirect_uri"):
                return 400, {"error": "invalid_grant"}
            grant.used = True
        verifier = form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if grant.challenge_method != "S256" or digest != grant.challenge:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        now = int(clock.utcnow().timestamp())
        bad = self.misbehave
        claims = {**grant.claims, "iss": self.issuer, "aud": bad.audience or grant.client_id, "iat": now,
                  "exp": now + bad.lifetime_seconds, "nonce": bad.nonce or grant.nonce}
        signer = self.forger if bad.forge else self.key
        id_token = jwt.encode({"alg": "RS256", "kid": KID}, claims, signer)
        return 200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 600,
                     "id_token": id_token}

    def sign_in(self, client, start: str = "/login/oidc", **person: Any):
        """The whole round trip for `person`: Tocsin -> provider -> Tocsin's callback; the callback's answer."""
        if person:
            self.person = Person(**person)
        to_provider = client.get(start)
        assert to_provider.status_code == 302, to_provider.get_data(as_text=True)
        back = self.follow(to_provider.headers["Location"])
        return client.get(_path(back))

    def follow(self, url: str) -> str:
        """Visit the provider's authorization URL as the browser would; where it sends the browser back."""
        import requests

        answer = requests.get(url, allow_redirects=False, timeout=5)
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    from urllib.parse import unquote

    user, _, password = base64.b64decode(value).decode().partition(":")
    return unquote(user), unquote(password)


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, body: dict | None = None, location: str | None = None) -> None:
        data = json.dumps(body or {}).encode()
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        provider: OidcProvider = self.server.provider  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        if parts.path == "/.well-known/openid-configuration":
            self._send(200, provider.discovery())
        elif parts.path == "/jwks":
            self._send(200, KeySet([provider.key]).as_dict(private=False))
        elif parts.path == "/authorize":
            self._send(302, location=provider.authorize(dict(parse_qsl(parts.query))))
        else:
            self._send(404, {"error": "not_found"})

    def do_POST(self):
        provider: OidcProvider = self.server.provider  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode()))
        if urlsplit(self.path).path != "/token":
            self._send(404, {"error": "not_found"})
            return
        status, body = provider.token(form, self.headers.get("Authorization", ""))
        self._send(status, body)
