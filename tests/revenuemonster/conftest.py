"""Fixtures for the RevenueMonster package: a live simulator, accounts on it, and raw sockets
that misbehave in precise ways (refused, silent, canned answers)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from dashboard.revenuemonster import (
    Credentials,
    Endpoints,
    MemoryTokenStore,
    RevenueMonsterClient,
    Simulator,
    generate_private_key,
    public_key_pem,
    serve_in_thread,
)


@dataclass
class LiveSimulator:
    simulator: Simulator
    url: str


@dataclass
class Account:
    """A client registered with the session simulator."""

    credentials: Credentials
    endpoints: Endpoints
    store: MemoryTokenStore = field(default_factory=MemoryTokenStore)


class FakeClock:
    """A clock shared by a simulator and a client, moved by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def rm_key():
    return generate_private_key()


@pytest.fixture(scope="session")
def rm_sim() -> Iterator[LiveSimulator]:
    simulator = Simulator(slow_seconds=3.0)
    server, url = serve_in_thread(simulator)
    yield LiveSimulator(simulator, url)
    server.shutdown()
    server.server_close()


@pytest.fixture
def rm_register(rm_sim: LiveSimulator, rm_key) -> Callable[..., Account]:
    """Register a fresh client id (so tests share no simulator state) and return its Account.

    ``public_key`` registers a different key than the one the account signs with.
    """

    def register(*, live: LiveSimulator | None = None, public_key=None) -> Account:
        live = live or rm_sim
        client_id, secret = f"client-{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
        live.simulator.register_client(client_id, secret, public_key_pem(public_key or rm_key))
        return Account(Credentials(client_id, secret, rm_key), Endpoints(live.url, live.url))

    return register


@pytest.fixture
def rm_account(rm_register: Callable[..., Account]) -> Account:
    return rm_register()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def clocked_sim(fake_clock: FakeClock) -> Iterator[LiveSimulator]:
    """A simulator of its own that reads ``fake_clock``."""
    simulator = Simulator(clock=fake_clock, token_ttl=7200)
    server, url = serve_in_thread(simulator)
    yield LiveSimulator(simulator, url)
    server.shutdown()
    server.server_close()


@pytest.fixture
def make_client() -> Iterator[Callable[..., RevenueMonsterClient]]:
    """Build clients for an Account (timeouts kept short) and close them after the test."""
    clients: list[RevenueMonsterClient] = []

    def make(
        account: Account,
        *,
        credentials: Credentials | None | str = "account",
        endpoints: Endpoints | None = None,
        **options,
    ) -> RevenueMonsterClient:
        options.setdefault("connect_timeout", 0.5)
        options.setdefault("read_timeout", 2.0)
        client = RevenueMonsterClient(
            account.credentials if credentials == "account" else credentials,  # type: ignore[arg-type]
            endpoints or account.endpoints,
            account.store,
            **options,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def closed_port() -> int:
    """A local port with nothing listening (bound, then closed)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


@pytest.fixture
def full_backlog_port() -> Iterator[int]:
    """A listening port whose accept queue is full, so new connections time out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.1)
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


@dataclass
class CannedServer:
    """Answers every connection with the same raw bytes, then closes it."""

    url: str
    requests: int = 0


@pytest.fixture
def canned_server() -> Iterator[Callable[..., CannedServer]]:
    stops: list[Callable[[], None]] = []

    def start(answer: bytes, *, trickle_seconds: float = 0.0, silent: bool = False) -> CannedServer:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.settimeout(0.2)
        server = CannedServer(f"http://127.0.0.1:{listener.getsockname()[1]}")
        stop = threading.Event()

        def handle(conn: socket.socket) -> None:
            with conn:
                if silent:
                    stop.wait(10)
                    return
                _read_request(conn)
                server.requests += 1
                if trickle_seconds:
                    for byte in answer:
                        if stop.is_set():
                            return
                        conn.sendall(bytes([byte]))
                        time.sleep(trickle_seconds)
                else:
                    conn.sendall(answer)

        def serve() -> None:
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                threading.Thread(target=handle, args=(conn,), daemon=True).start()

        threading.Thread(target=serve, daemon=True).start()

        def shutdown() -> None:
            stop.set()
            listener.close()

        stops.append(shutdown)
        return server

    yield start
    for stop in stops:
        stop()


def _read_request(conn: socket.socket) -> None:
    """Read one HTTP request (headers and Content-Length body)."""
    conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and its key: (cert file, key file)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = generate_private_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


@pytest.fixture(scope="session")
def tls_sim(rm_sim: LiveSimulator, tls_files) -> Iterator[tuple[LiveSimulator, str]]:
    """The session simulator also served over HTTPS: (live simulator, CA file to trust)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, rm_sim.simulator, threaded=True, ssl_context=tls_files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield LiveSimulator(rm_sim.simulator, f"https://127.0.0.1:{server.server_port}"), tls_files[0]
    server.shutdown()
    server.server_close()
