"""A software FIDO2 authenticator for the Flask test client: it answers the dashboard's
WebAuthn options as a browser and a platform authenticator would (packed "none" attestation,
ES256), so that the server side is tested against well-formed ceremony data of which every
byte can be changed on purpose (origin, rp id, counter, signature). The browser tests use
Chromium's own virtual authenticator (tests/e2e/test_passkeys.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    credential_id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    counter: int = 0


@dataclass
class SoftAuthenticator:
    """Discoverable credentials by rp id; user verification on unless told otherwise."""

    origin: str = "http://localhost"
    user_verified: bool = True
    credentials: list[Credential] = field(default_factory=list)

    def create(self, options: dict, *, origin: str | None = None, rp_id: str | None = None):
        """The JSON ``navigator.credentials.create()`` would give for ``options``."""
        rp = rp_id or options["rp"]["id"]
        credential = Credential(
            credential_id=secrets.token_bytes(32),
            key=ec.generate_private_key(ec.SECP256R1()),
            rp_id=rp,
            user_handle=unb64(options["user"]["id"]),
        )
        numbers = credential.key.public_key().public_numbers()
        cose = cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )
        auth_data = (
            hashlib.sha256(rp.encode()).digest()
            + bytes([self._flags() | 0x40])
            + struct.pack(">I", credential.counter)
            + bytes(16)
            + struct.pack(">H", len(credential.credential_id))
            + credential.credential_id
            + cose
        )
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        self.credentials.append(credential)
        return {
            "id": b64(credential.credential_id),
            "rawId": b64(credential.credential_id),
            "type": "public-key",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64(client_data),
                "attestationObject": b64(attestation),
                "transports": ["internal"],
            },
        }

    def get(
        self,
        options: dict,
        *,
        credential: Credential | None = None,
        origin: str | None = None,
        rp_id: str | None = None,
        counter: int | None = None,
        tamper: bool = False,
    ):
        """The JSON ``navigator.credentials.get()`` would give for ``options`` (the newest
        credential for the rp id, or ``credential``); ``counter`` forces the sign counter and
        ``tamper`` breaks the signature."""
        credential = credential or self.credentials[-1]
        credential.counter = credential.counter + 1 if counter is None else counter
        rp = rp_id or options.get("rpId") or credential.rp_id
        auth_data = (
            hashlib.sha256(rp.encode()).digest()
            + bytes([self._flags()])
            + struct.pack(">I", credential.counter)
        )
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = credential.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        if tamper:
            signature = signature[:-1] + bytes([signature[-1] ^ 1])
        return {
            "id": b64(credential.credential_id),
            "rawId": b64(credential.credential_id),
            "type": "public-key",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64(client_data),
                "authenticatorData": b64(auth_data),
                "signature": b64(signature),
                "userHandle": b64(credential.user_handle),
            },
        }

    def _flags(self) -> int:
        return 0x01 | (0x04 if self.user_verified else 0)

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": origin or self.origin}
        return json.dumps({**data, "crossOrigin": False}).encode()


# -- The pages' side of the ceremonies (what static/js/passkeys.js does) ----------------------


def post_json(client, url: str, body: dict, *, page: str = "/login"):
    """POST ``body`` as JSON with the CSRF token of ``page``, as passkeys.js does."""
    from support import csrf_token

    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(url, json=body, headers={"X-CSRFToken": token})


def add_passkey(client, authenticator: SoftAuthenticator, name: str = "Work laptop", **kwargs):
    """Add a passkey through the account page's two requests; the last response."""
    page = "/account/passkeys"
    options = post_json(client, "/account/passkeys/options", {"name": name}, page=page)
    if options.status_code != 200 or not options.is_json or "challenge" not in options.json:
        return options
    answer = authenticator.create(options.json, **kwargs)
    return post_json(client, "/account/passkeys/add", {"credential": answer}, page=page)


def use_passkey(
    client, authenticator: SoftAuthenticator, purpose: str, url: str, page: str = "/login", **kw
):
    """Ask for options for ``purpose`` and post the authenticator's answer to ``url``."""
    options = post_json(client, "/passkeys/options", {"purpose": purpose}, page=page)
    assert options.status_code == 200, options.get_data(as_text=True)
    answer = authenticator.get(options.json, **kw)
    response = post_json(client, url, {"credential": answer, "next": ""}, page=page)
    return response, options.json, answer


def sign_in_with_passkey(client, authenticator: SoftAuthenticator, **kw):
    response, _, _ = use_passkey(client, authenticator, "sign_in", "/login/passkey", **kw)
    return response
