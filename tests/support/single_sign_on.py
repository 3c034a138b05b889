"""Identity providers for the single sign-on tests, over real HTTP on loopback ports:

- :func:`mock_provider`: oidc-provider-mock (PyPI), a real OpenID provider built on authlib,
  whose users and claims are set through its own HTTP API (``PUT /users/<sub>``);
- :class:`ForgingProvider`: a small provider of ours for what a real one never sends (a token
  signed with another key, for another audience, expired, with another nonce, from another
  issuer). It also checks the PKCE verifier, as a strict provider does.

And the client side: :func:`sso_config` (the dashboard's settings for a provider) and
:func:`sso_sign_in` (the browser's round trip, with the Flask test client and requests).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from . import csrf_token

CLIENT_ID = "rm-sms-dashboard"
CLIENT_SECRET = "client-secret-of-the-dashboard"  # noqa: S105 # nosec B105 # a test value
ROLE_MAP = "sms-support=support,sms-auditors=auditor,sms-admins=admin"


def sso_config(issuer: str, **overrides: object) -> dict[str, object]:
    """The settings that turn single sign-on on against ``issuer`` (add base_config's)."""
    return {
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_ROLE_MAP": ROLE_MAP,
        **overrides,
    }


@dataclass
class MockProvider:
    """oidc-provider-mock serving at ``url`` (its issuer)."""

    url: str

    def set_user(self, sub: str, **claims: Any) -> None:
        """Give the user ``sub`` these claims (they replace the ones it had)."""
        answer = requests.put(f"{self.url}/users/{sub}", json=claims, timeout=5)
        assert answer.status_code == 204, answer.text

    def staff(self, sub: str, email: str, *groups: str, **claims: Any) -> None:
        """A member of staff with a verified email in ``groups``."""
        self.set_user(sub, email=email, email_verified=True, groups=list(groups), **claims)

    def authorize(self, authorization_url: str, sub: str, *, deny: bool = False) -> str:
        """Answer the provider's own form as the person would (choose ``sub``, or deny);
        the callback URL it sends the browser back to."""
        data = {"action": "deny"} if deny else {"sub": sub}
        answer = requests.post(authorization_url, data=data, allow_redirects=False, timeout=5)
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]


@contextmanager
def mock_provider() -> Iterator[MockProvider]:
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread(require_nonce=True) as server:
        yield MockProvider(f"http://localhost:{server.server_port}")


def start(client: FlaskClient, next_url: str | None = None) -> str:
    """Press "Sign in with single sign-on" on the sign-in page; the provider's URL it sends
    the browser to."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    target = "/login/sso" + (f"?{urlencode({'next': next_url})}" if next_url else "")
    answer = client.post(target, data={"csrf_token": token})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return answer.headers["Location"]


def back_from(client: FlaskClient, callback_url: str):
    """Follow the provider's redirect back to the dashboard (its path and query)."""
    parts = urlsplit(callback_url)
    return client.get(f"{parts.path}?{parts.query}")


def sso_sign_in(client: FlaskClient, provider: MockProvider, sub: str, next_url=None):
    """The whole round trip through the mock provider as ``sub``; the callback's answer."""
    return back_from(client, provider.authorize(start(client, next_url), sub))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class ForgingProvider:
    """An OpenID provider of the tests' own that answers the token request with an ID token
    made from ``claims`` and whatever the test changed: ``sign_with`` another key, ``extra``
    claims that replace the right ones (``aud``, ``exp``, ``nonce``, ``iss``...)."""

    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, {"kid": "k1"}))
    url: str = ""
    claims: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    sign_with: RSAKey | None = None
    issuer_in_discovery: str | None = None
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    pkce_checked: list[bool] = field(default_factory=list)

    def reset(self) -> None:
        self.claims, self.extra, self.sign_with, self.issuer_in_discovery = {}, {}, None, None

    def __call__(self, environ, start_response):  # the WSGI app
        request = Request(environ)
        response = self.answer(request)
        return response(environ, start_response)

    def answer(self, request: Request) -> Response:
        if request.path == "/.well-known/openid-configuration":
            return self.json(
                {
                    "issuer": self.issuer_in_discovery or self.url,
                    "authorization_endpoint": f"{self.url}/authorize",
                    "token_endpoint": f"{self.url}/token",
                    "jwks_uri": f"{self.url}/jwks",
                    "response_types_supported": ["code"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "subject_types_supported": ["public"],
                }
            )
        if request.path == "/jwks":
            return self.json(KeySet([self.key]).as_dict(private=False))
        if request.path == "/authorize":
            code = secrets.token_urlsafe(16)
            self.codes[code] = {
                "nonce": request.args.get("nonce", ""),
                "challenge": request.args.get("code_challenge", ""),
                "method": request.args.get("code_challenge_method", ""),
            }
            query = urlencode({"code": code, "state": request.args.get("state", "")})
            return Response(
                status=302, headers={"Location": f"{request.args['redirect_uri']}?{query}"}
            )
        if request.path == "/token":
            asked = self.codes.pop(request.form.get("code", ""), None)
            verifier = request.form.get("code_verifier", "")
            pkce = (
                asked is not None
                and asked["method"] == "S256"
                and asked["challenge"] == _b64(hashlib.sha256(verifier.encode()).digest())
            )
            self.pkce_checked.append(pkce)
            if asked is None or not pkce:
                return self.json({"error": "invalid_grant"}, status=400)
            now = int(time.time())
            claims = {
                "iss": self.url,
                "sub": "forged-subject",
                "aud": CLIENT_ID,
                "iat": now,
                "exp": now + 300,
                "nonce": asked["nonce"],
                "email": "forged@example.com",
                "email_verified": True,
                "groups": ["sms-admins"],
                **self.claims,
                **self.extra,
            }
            signer = self.sign_with or self.key
            token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, signer)
            return self.json({"access_token": "opaque", "token_type": "Bearer", "id_token": token})
        return Response("not found", status=404)

    @staticmethod
    def json(body: dict[str, Any], status: int = 200) -> Response:
        import json

        return Response(json.dumps(body), status=status, mimetype="application/json")


@contextmanager
def forging_provider() -> Iterator[ForgingProvider]:
    provider = ForgingProvider()
    server = make_server("127.0.0.1", 0, provider, threaded=True)
    provider.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()


def forged_sign_in(client: FlaskClient, next_url: str | None = None):
    """The round trip through the forging provider (which asks nothing); the callback's
    answer."""
    authorize = start(client, next_url)
    answer = requests.get(authorize, allow_redirects=False, timeout=5)
    return back_from(client, answer.headers["Location"])
