"""The simulator's clients: an application's id, secret and registered public key, and the
clients file (``{"<client_id>": {"client_secret": "...", "public_key_pem": "..."}}``)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from ..keys import load_public_key

logger = logging.getLogger(__name__)

MIN_CLIENT_KEY_BITS = 1024


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str
    public_key: RSAPublicKey


def make_client(client_id: str, client_secret: str, public_key_pem: str | bytes) -> Client:
    if not client_id or not client_secret:
        raise ValueError("client_id and client_secret must not be empty")
    key = load_public_key(public_key_pem, min_bits=MIN_CLIENT_KEY_BITS)
    return Client(client_id, client_secret, key)


def read_clients_file(path: Path) -> dict[str, Client]:
    """Parse the clients file; raises ValueError (or KeyFormatError) when it is unusable."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("the clients file must hold a JSON object")
    clients: dict[str, Client] = {}
    for client_id, entry in data.items():
        if not isinstance(entry, dict):
            raise ValueError(f"entry {client_id!r} must be an object")
        secret, pem = entry.get("client_secret"), entry.get("public_key_pem")
        if not isinstance(secret, str) or not isinstance(pem, str):
            raise ValueError(f"entry {client_id!r} needs client_secret and public_key_pem")
        clients[client_id] = make_client(client_id, secret, pem)
    return clients


class ClientsFile:
    """The clients read from a file (none without one), re-read whenever its modification
    time or size changes; an unusable file is ignored until it changes. Not locked: the
    simulator calls it with its own lock held."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._clients: dict[str, Client] = {}
        self._signature: tuple[int, int] | None = None

    def clients(self) -> dict[str, Client]:
        self._reload()
        return self._clients

    def _reload(self) -> None:
        if self._path is None:
            return
        try:
            stat = self._path.stat()
        except FileNotFoundError:
            self._clients, self._signature = {}, None
            return
        signature = (stat.st_mtime_ns, stat.st_size)
        if signature == self._signature:
            return
        self._signature = signature
        try:
            self._clients = read_clients_file(self._path)
        except (OSError, ValueError) as exc:  # KeyFormatError is a ValueError
            logger.warning(
                "Ignoring the simulator clients file %s until it changes: %s",
                self._path,
                exc,
            )
