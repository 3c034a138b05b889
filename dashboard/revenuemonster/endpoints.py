"""Where RevenueMonster is and who calls it: the base URLs of an environment and the
credentials of one application."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

TOKEN_PATH = "/v1/token"  # noqa: S105  # nosec B105 # a URL path, not a secret
SMS_PATH = "/v3/sms"


@dataclass(frozen=True)
class Credentials:
    """One RevenueMonster application: client id and secret, and the merchant's private key."""

    client_id: str
    client_secret: str = field(repr=False)
    private_key: RSAPrivateKey = field(repr=False)


@dataclass(frozen=True)
class Endpoints:
    """Base URLs (scheme and host, no ``/v1`` or ``/v3``) of the OAuth server and the Open API."""

    oauth_url: str
    api_url: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "oauth_url", _base_url(self.oauth_url, "oauth_url"))
        object.__setattr__(self, "api_url", _base_url(self.api_url, "api_url"))

    @property
    def token_url(self) -> str:
        return self.oauth_url + TOKEN_PATH

    @property
    def sms_url(self) -> str:
        return self.api_url + SMS_PATH


def _base_url(url: str, name: str) -> str:
    """Validate a base URL and strip its trailing slash; raises ValueError if unusable."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an absolute http(s) URL, got {url!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{name} must not contain credentials, a query or a fragment")
    return url.strip().rstrip("/")


SANDBOX = Endpoints("https://sb-oauth.revenuemonster.my", "https://sb-open.revenuemonster.my")
PRODUCTION = Endpoints("https://oauth.revenuemonster.my", "https://open.revenuemonster.my")
