# ruff: noqa: S311, S603
# (a benchmark: seeded pseudo-random numbers, its own subprocesses)
"""Send benchmark: the send path end to end, against the project's own client as its limit.

    .venv/bin/python benchmarks/send.py                        # both databases, 20 s a case
    .venv/bin/python benchmarks/send.py --database sqlite --seconds 3 --concurrency 1,4
    .venv/bin/python benchmarks/send.py --profile              # and a profile of one worker

Sending a code is what the product exists for, so this measures what a send costs a support
team beyond the provider's own call: throughput with many agents sending at once, the time an
agent waits, and SQLite's single writer under that load (issue 18). For each database it serves
the dashboard as ``make run`` does (gunicorn sync workers, two per core) on a fresh database
migrated by ``flask db upgrade`` (a SQLite file, or a ``bench_send_<random>`` PostgreSQL
database created and dropped), against the RevenueMonster simulator over real HTTP, in a
process of its own (sharing the load generator's GIL, it would slow both sides). It signs in as
many support agents as the highest concurrency (two per worker at least), each from a loopback
address of its own, raises the limits (per number, per user, cooldown) so that no send is
blocked, and warms up for ``--warmup`` seconds with every agent (each worker's first pages
import and compile what later ones reuse).

Then, for each concurrency, for ``--seconds`` each:

- **bare**: as many threads, each with the project's ``RevenueMonsterClient`` as the dashboard
  builds it (same timeouts and time budget, a new connection per request), sharing one token
  store whose token was fetched once, send the same kind of SMS (the default template with a
  fresh code, to a distinct valid number) to the same simulator: the most a send can be;
- **dashboard**: as many agents each do what a browser does, one send after another: GET /send
  (its CSRF token, idempotency key, country, template and message), POST /send with the form's
  fields to a distinct valid number, and the redirect's GET /attempts/<id>. The cycle is timed
  whole, and the POST alone.

It prints, per database, the sends/s of each, their ratio, the POST's and the cycle's
p50/p95/p99, the POST's p50 minus the bare call's (the dashboard's overhead on one send), and
the CPU each part used per send (gunicorn's workers, PostgreSQL's backends, the simulator, the
load generator): on a machine shared with other work, steadier than the rates and latencies.
Then it checks, and exits 1 when one fails: every send made has its attempt in the database and
no other, all ``accepted``, no two to one number; the SMS requests the simulator saw = the
dashboard's attempts + the bare client's sends, each number in its inbox exactly once; every
bare send accepted; no 5xx answer, no load-generator error, and no "database is locked" in the
gunicorn log. It never fails on a figure: the figures go to docs/performance.md.

``--profile`` then serves one worker under pyinstrument (each request profiled, not the idle
time between) for a concurrency-1 run and writes the profile to test-artifacts/ (HTML, text and
the session) and prints where a send's time goes. The sends are distinct numbers, never the
simulator's magic ones (dashboard/revenuemonster/testing/magic.py).
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import logging
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from common import (
    ATTEMPT_RE,
    KEY_RE,
    PASSWORD,
    RM_TIMEOUT_SECONDS,
    ROOT,
    Gunicorn,
    Numbers,
    SourceAddressAdapter,
    Unexpected,
    agent_email,
    attempts_in,
    csrf,
    database,
    free_port,
    in_threads,
    log,
    loopback_address,
    machine,
    pct,
    prepare,
    settings,
    start_gunicorn,
    tail,
)

ACTOR = "send benchmark"
DASHBOARD_CLIENT = "bench-send-dashboard"
BARE_CLIENT = "bench-send-bare"
ARTIFACTS = ROOT / "test-artifacts"
#: High enough that no send of a run is blocked (the admin page allows less; the services take it).
LIMITS = {
    "cooldown_seconds": 0,
    "per_number_per_hour": 10**6,
    "per_number_per_day": 10**6,
    "per_user_per_hour": 10**6,
    "per_user_per_day": 10**6,
}
SELECT_RE = r'<select[^>]*\bname="{name}"[^>]*>(.*?)</select>'
OPTION_RE = re.compile(r'<option value="([^"]*)"([^>]*)>')
MESSAGE_RE = re.compile(r'<textarea[^>]*\bname="message"[^>]*>(.*?)</textarea>', re.S)
SUBMIT_RE = re.compile(r'<input[^>]*\bname="submit"[^>]*\bvalue="([^"]*)"')

#: The simulator, served from a process of its own; its clients come from the clients file.
SIMULATOR = """
import sys, threading
from dashboard.revenuemonster.testing.serving import serve_in_thread
from dashboard.revenuemonster.testing.simulator import Simulator
simulator = Simulator(clients_file=sys.argv[1], inbox_limit=10**7)
serve_in_thread(simulator, port=int(sys.argv[2]))
threading.Event().wait()
"""

#: A gunicorn config profiling each request of its worker that carries the header (the
#: sign-in and the warm-up do not); ``worker_exit`` saves the session.
PROFILING = """
from pyinstrument import Profiler
profiler = Profiler(interval=0.0005)
def pre_request(worker, req):
    if ("X-BENCH-PROFILE", "1") in req.headers:
        profiler.start()
def post_request(worker, req, environ, resp):
    if profiler.is_running:
        profiler.stop()
def worker_exit(server, worker):
    if profiler.last_session is not None:
        profiler.last_session.save({path!r})
"""


# --------------------------------------------------------------------------------------------
# The simulator


@dataclass
class SimulatorProcess:
    process: subprocess.Popen[bytes]
    url: str
    clients_file: Path
    clients: dict[str, dict[str, str]] = field(default_factory=dict)

    def register(self, client_id: str, secret: str, public_key_pem: str | bytes) -> None:
        """Add a client to the clients file, which the simulator re-reads when it changes."""
        if isinstance(public_key_pem, bytes):
            public_key_pem = public_key_pem.decode("ascii")
        self.clients[client_id] = {"client_secret": secret, "public_key_pem": public_key_pem}
        written = self.clients_file.with_suffix(".tmp")
        written.write_text(json.dumps(self.clients))
        written.replace(self.clients_file)

    def stats(self) -> dict[str, int]:
        return dict(requests.get(self.url + "/_stats", timeout=10).json())

    def inbox(self) -> list[dict[str, str]]:
        answer = requests.get(
            self.url + "/_inbox", headers={"Accept": "application/json"}, timeout=60
        )
        return list(answer.json())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def start_simulator(workdir: Path) -> SimulatorProcess:
    clients_file = workdir / "simulator-clients.json"
    clients_file.write_text("{}")
    port = free_port()
    log_path = workdir / "simulator.log"
    with log_path.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", SIMULATOR, str(clients_file), str(port)],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    simulator = SimulatorProcess(process, f"http://127.0.0.1:{port}", clients_file)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the simulator exited:\n{tail(log_path)}")
        with contextlib.suppress(requests.RequestException):
            simulator.stats()
            return simulator
        time.sleep(0.1)
    simulator.stop()
    raise RuntimeError(f"the simulator did not start:\n{tail(log_path)}")


# --------------------------------------------------------------------------------------------
# What is measured


@dataclass
class Phase:
    """One side at one concurrency: each send's times, answers and failures."""

    side: str  # "bare" or "dashboard"
    concurrency: int
    seconds: float = 0.0
    sends: int = 0
    post_ms: list[float] = field(default_factory=list)  # bare: the send_sms call
    cycle_ms: list[float] = field(default_factory=list)  # dashboard: GET, POST, GET
    statuses: Counter[int] = field(default_factory=Counter)  # dashboard: HTTP answers
    outcomes: Counter[str] = field(default_factory=Counter)  # bare: the client's outcomes
    errors: Counter[str] = field(default_factory=Counter)
    sent: list[Sent] = field(default_factory=list)  # the profile's, to check with the others
    #: CPU seconds used meanwhile: "workers" (gunicorn's), "database" (PostgreSQL's backends
    #: for the benchmark's database), "simulator", "generator" (this process: the bare
    #: client's threads, or the agents').
    cpu: dict[str, float] = field(default_factory=dict)

    def add(self, other: Phase) -> None:
        self.sends += other.sends
        self.post_ms += other.post_ms
        self.cycle_ms += other.cycle_ms
        self.statuses.update(other.statuses)
        self.outcomes.update(other.outcomes)
        self.errors.update(other.errors)

    @property
    def rate(self) -> float:
        return self.sends / self.seconds if self.seconds else float("nan")


@dataclass
class Sent:
    public_id: str
    number: str


class Browser:
    """A support agent's browser: its own session cookie, from its own loopback address."""

    def __init__(self, index: int, base: str) -> None:
        self.email = agent_email(index)
        self.base = base
        self.http = requests.Session()
        self.http.mount("http://", SourceAddressAdapter(loopback_address(index)))
        self.sent: list[Sent] = []

    def request(self, method: str, path: str, into: Phase, **kwargs: Any) -> requests.Response:
        try:
            response = self.http.request(
                method, self.base + path, allow_redirects=False, timeout=60, **kwargs
            )
        except requests.RequestException as error:
            raise Unexpected(f"{method} {path.split('?')[0]}: {type(error).__name__}") from None
        into.statuses[response.status_code] += 1
        return response

    def sign_in(self) -> None:
        page = self.http.get(self.base + "/login", timeout=60)
        response = self.http.post(
            self.base + "/login",
            data={"email": self.email, "password": PASSWORD, "csrf_token": csrf(page.text)},
            allow_redirects=False,
            timeout=60,
        )
        if response.status_code != 302 or response.headers.get("Location") != "/":
            raise Unexpected(f"sign-in of {self.email}: HTTP {response.status_code}")

    def send(self, number: str, into: Phase) -> None:
        """GET /send, POST /send as the form posts it, GET the attempt it redirects to."""
        started = time.perf_counter()
        page = self.request("GET", "/send", into)
        if page.status_code != 200:
            raise Unexpected(f"GET /send: HTTP {page.status_code}")
        posted = time.perf_counter()
        response = self.request("POST", "/send", into, data=form_fields(page.text, number))
        post_ms = (time.perf_counter() - posted) * 1000
        location = response.headers.get("Location", "")
        match = ATTEMPT_RE.search(location)
        if response.status_code != 302 or match is None:
            raise Unexpected(f"POST /send: HTTP {response.status_code}, no attempt")
        self.sent.append(Sent(match.group(1), number))
        result = self.request("GET", location.removeprefix(self.base), into)
        if result.status_code != 200:
            raise Unexpected(f"GET /attempts/<id>: HTTP {result.status_code}")
        into.post_ms.append(post_ms)
        into.cycle_ms.append((time.perf_counter() - started) * 1000)
        into.sends += 1


def form_fields(page: str, number: str) -> dict[str, str]:
    """What a browser posts from the send form: its hidden fields, the country and the
    template selected, the message shown, the button; the number and a reason typed in."""
    key = KEY_RE.search(page)
    if key is None:
        raise Unexpected("GET /send: no idempotency key on the form")
    message = MESSAGE_RE.search(page)
    submit = SUBMIT_RE.search(page)
    text = html.unescape(message.group(1)) if message else ""
    if text.startswith(("\r\n", "\n")):  # a browser drops the line break after <textarea>
        text = text.split("\n", 1)[1]
    return {
        "csrf_token": csrf(page),
        "idempotency_key": key.group(1),
        "country_code": _selected(page, "country_code"),
        "phone_number": number,
        "reason": f"Ticket {random.randrange(10000, 100000)}",
        "template": _selected(page, "template"),
        "message": text.replace("\r\n", "\n").replace("\n", "\r\n"),
        "submit": html.unescape(submit.group(1)) if submit else "Send code",
    }


def _selected(page: str, name: str) -> str:
    block = re.search(SELECT_RE.format(name=name), page, re.S)
    options = OPTION_RE.findall(block.group(1)) if block else []
    if not options:
        raise Unexpected(f"GET /send: no {name} to choose")
    chosen = next((value for value, rest in options if "selected" in rest), options[0][0])
    return html.unescape(chosen)


class Bare:
    """The project's RevenueMonster client as the dashboard builds one for a send
    (services.provider_client), one per thread, all sharing one token store."""

    def __init__(self, simulator: SimulatorProcess) -> None:
        from dashboard.revenuemonster import Credentials, Endpoints, MemoryTokenStore, keys

        private_key = keys.generate_private_key()
        secret = secrets.token_urlsafe(24)
        simulator.register(BARE_CLIENT, secret, keys.public_key_pem(private_key))
        self.credentials = Credentials(BARE_CLIENT, secret, private_key)
        self.endpoints = Endpoints(oauth_url=simulator.url, api_url=simulator.url)
        self.store = MemoryTokenStore()
        with self.client() as client:  # once: every send after takes it from the store
            client.fetch_token()
        self.numbers: list[str] = []

    def client(self) -> Any:
        from dashboard.revenuemonster import RevenueMonsterClient
        from dashboard.services.provider_client import (
            CONNECT_TIMEOUT_SECONDS,
            SEND_BUDGET_SECONDS,
        )

        return RevenueMonsterClient(
            self.credentials,
            self.endpoints,
            self.store,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=RM_TIMEOUT_SECONDS,
            total_timeout=SEND_BUDGET_SECONDS,
        )

    def loop(self, numbers: Numbers, deadline: float, into: Phase) -> None:
        from dashboard.domain import messages

        with self.client() as client:
            while time.monotonic() < deadline:
                number = numbers.take()
                text = messages.render(messages.DEFAULT_TEMPLATE, f"{secrets.randbelow(10**6):06d}")
                started = time.perf_counter()
                outcome = client.send_sms(country_code="60", phone_number=number, message=text)
                into.post_ms.append((time.perf_counter() - started) * 1000)
                into.outcomes[outcome.status] += 1
                self.numbers.append(number)
                into.sends += 1


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (0 once it is gone)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return 0.0


def postgres_backends(database_name: str) -> list[int]:
    """The PostgreSQL backends serving ``database_name`` (titled "postgres: [cluster:] user
    database host(port) state")."""
    found = []
    name = database_name.encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                words = (entry / "cmdline").read_bytes().replace(b"\0", b" ").split()
                if words[:1] == [b"postgres:"] and name in words[1:4]:
                    found.append(int(entry.name))
    return found


@dataclass
class CpuMeter:
    """The CPU each part of the run uses (processes started meanwhile count in full)."""

    server: Gunicorn
    simulator: SimulatorProcess
    database_name: str | None  # PostgreSQL's; None: SQLite, inside the workers

    def snapshot(self) -> dict[str, dict[int, float]]:
        parts = {
            "workers": self.server.workers(),
            "simulator": [self.simulator.process.pid],
            "generator": [os.getpid()],
        }
        if self.database_name:
            parts["database"] = postgres_backends(self.database_name)
        return {part: {pid: cpu_seconds(pid) for pid in pids} for part, pids in parts.items()}

    @staticmethod
    def used(
        before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
    ) -> dict[str, float]:
        return {
            part: sum(cpu - before.get(part, {}).get(pid, 0.0) for pid, cpu in pids.items())
            for part, pids in after.items()
        }


def run_phase(
    side: str,
    concurrency: int,
    seconds: float,
    work: Callable[[int, float, Phase], None],
    meter: CpuMeter | None = None,
) -> Phase:
    """``work(index, deadline, into)`` in ``concurrency`` threads until the deadline; each
    thread fills a Phase of its own (no shared counter), summed at the end."""
    parts = [Phase(side, concurrency) for _ in range(concurrency)]

    def worker(index: int) -> None:
        while time.monotonic() < deadline:
            try:
                work(index, deadline, parts[index])
            except Unexpected as error:
                parts[index].errors[str(error)] += 1
                time.sleep(0.05)

    cpu_before = meter.snapshot() if meter else {}
    started = time.monotonic()
    deadline = started + seconds
    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    phase = Phase(side, concurrency, seconds=time.monotonic() - started)
    if meter:
        phase.cpu = meter.used(cpu_before, meter.snapshot())
    for part in parts:
        phase.add(part)
    return phase


# --------------------------------------------------------------------------------------------
# The run


@dataclass
class Outcome:
    lines: list[str]
    failures: list[str]


def bench(kind: str, args: argparse.Namespace, workdir: Path) -> Outcome:
    simulator = start_simulator(workdir)
    server: Gunicorn | None = None
    logs: list[Path] = []
    try:
        with database(kind, workdir, args.pg_url, prefix="bench_send") as url:
            env = {**os.environ, **settings(url, simulator.url, workdir / "instance")}
            # Two per worker at least, so that the warm-up reaches every worker.
            agents = max(*args.concurrency, 2 * args.workers)
            app = prepare(
                env,
                agents + 1,  # and one for the profile
                simulator.register,
                actor=ACTOR,
                client_id=DASHBOARD_CLIENT,
                limits=LIMITS,
            )
            # The app's logging, set up here by prepare(), would print each bare send.
            logging.disable(logging.INFO)
            bare = Bare(simulator)
            extra = ["--worker-class", args.worker_class]
            if args.threads > 1:
                extra += ["--threads", str(args.threads)]
            server = start_gunicorn(env, workdir, args.workers, extra)
            logs.append(server.log_path)
            browsers = [Browser(i, server.base) for i in range(agents)]
            in_threads([b.sign_in for b in browsers], width=min(8, agents))
            log(f"{kind}: {agents} agents signed in, {args.workers} {args.worker_class} workers")
            numbers = Numbers(random.Random(args.seed))
            everything = Phase("dashboard", 0)
            bare_sends = Phase("bare", 0)

            def dashboard_work(index: int, deadline: float, into: Phase) -> None:
                browsers[index].send(numbers.take(), into)

            def bare_work(index: int, deadline: float, into: Phase) -> None:
                bare.loop(numbers, deadline, into)

            if args.warmup > 0:
                bare_sends.add(run_phase("bare", agents, args.warmup, bare_work))
                everything.add(run_phase("dashboard", agents, args.warmup, dashboard_work))
            load_before = os.getloadavg()
            cases = []
            meter = CpuMeter(
                server, simulator, url.rsplit("/", 1)[1] if kind == "postgresql" else None
            )
            for concurrency in args.concurrency:
                bare_phase = run_phase("bare", concurrency, args.seconds, bare_work, meter)
                dashboard = run_phase("dashboard", concurrency, args.seconds, dashboard_work, meter)
                log(
                    f"{kind}, {concurrency} at once: bare {bare_phase.rate:.0f}/s,"
                    f" dashboard {dashboard.rate:.1f}/s"
                )
                bare_sends.add(bare_phase)
                everything.add(dashboard)
                cases.append((bare_phase, dashboard))
            load_after = os.getloadavg()
            server.stop()
            sent = [s for b in browsers for s in b.sent]
            profile_lines: list[str] = []
            if args.profile:
                profile_lines, profiled = profile(kind, args, env, workdir, numbers, logs)
                everything.add(profiled)
                sent += profiled.sent
            lines = [
                *machine(),
                f"send benchmark, {kind}: gunicorn {args.workers} {args.worker_class} workers"
                + (f" x {args.threads} threads" if args.threads > 1 else "")
                + f", {args.seconds:g} s a case, seed {args.seed}; load average (1 min) before"
                f" {load_before[0]:.2f}, after {load_after[0]:.2f} (other jobs distort figures)",
                "",
                *table(cases),
            ]
            failures = check(
                lines, app, sent, everything, bare_sends, bare.numbers, simulator, logs
            )
            lines += profile_lines
            return Outcome(lines, failures)
    finally:
        if server is not None:
            server.stop()
        simulator.stop()


def profile(
    kind: str,
    args: argparse.Namespace,
    env: dict[str, str],
    workdir: Path,
    numbers: Numbers,
    logs: list[Path],
) -> tuple[list[str], Phase]:
    """One worker under pyinstrument, one agent sending for ``--profile-seconds``; the lines
    to print and the sends made (with their attempts, to check with the others)."""
    phase = Phase("dashboard", 1)
    try:
        import pyinstrument  # noqa: F401
    except ImportError:
        return ["", "profile: pyinstrument is missing (.venv/bin/pip install pyinstrument)"], phase
    from pyinstrument.renderers import ConsoleRenderer, HTMLRenderer
    from pyinstrument.session import Session

    session_path = workdir / "send.pyisession"
    config = workdir / "profiling.py"
    config.write_text(PROFILING.format(path=str(session_path)))
    server = start_gunicorn(
        env,
        workdir,
        1,
        ["--worker-class", "sync", "--config", str(config)],
        log_name="gunicorn-profile.log",
    )
    logs.append(server.log_path)
    try:
        browser = Browser(max(args.concurrency), server.base)
        browser.sign_in()
        for _ in range(3):  # the first pages' imports are not what a send costs
            browser.send(numbers.take(), phase)
        browser.http.headers["X-Bench-Profile"] = "1"
        measured = run_phase(
            "dashboard",
            1,
            args.profile_seconds,
            lambda index, deadline, into: browser.send(numbers.take(), into),
        )
    finally:
        server.stop()
    phase.add(measured)
    phase.sent = browser.sent
    if not session_path.exists():
        return ["", f"profile: no session written (see {server.log_path})"], phase
    session = Session.load(str(session_path))
    ARTIFACTS.mkdir(exist_ok=True)
    stem = ARTIFACTS / f"send-profile-{kind}"
    shutil.copy(session_path, stem.with_suffix(".pyisession"))
    stem.with_suffix(".html").write_text(HTMLRenderer().render(session))
    stem.with_suffix(".txt").write_text(ConsoleRenderer(unicode=True, color=False).render(session))
    root = session.root_frame()
    profiled = root.time if root is not None else 0.0
    return [
        "",
        f"profile ({kind}, one sync worker, concurrency 1, {measured.sends} sends in"
        f" {measured.seconds:.1f} s after 3 not profiled): {profiled:.2f} s in the requests"
        f" (wall time; the worker's CPU from the first to the last, the profiler's own"
        f" included: {session.cpu_time:.2f} s), so"
        f" {profiled / max(1, measured.sends) * 1000:.1f} ms of worker time per send cycle"
        f" (GET /send + POST /send + GET /attempts/<id>); {stem}.html, .txt",
        *top_entries(session, measured.sends),
    ], phase


def top_entries(session: Any, cycles: int, count: int = 15) -> list[str]:
    """The functions with the most time of their own, and the dashboard's own functions with
    the most time in all (callees included, counted once where they recurse), per send cycle."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    app = str(ROOT / "dashboard")

    def walk(frame: Any, on_stack: frozenset[str]) -> None:
        if frame.is_synthetic:  # "[self]", "[await]": in their parent's total_self_time
            return
        name = f"{frame.function} ({frame.file_path_short}:{frame.line_no})"
        own[name] += frame.total_self_time
        if frame.file_path and frame.file_path.startswith(app) and name not in on_stack:
            inclusive[name] += frame.time
            on_stack = on_stack | {name}
        for child in frame.children:
            walk(child, on_stack)

    root = session.root_frame()
    if root is None:
        return ["profile: no samples"]
    walk(root, frozenset())
    total = root.time or 1.0
    per = 1000 / max(1, cycles)
    lines = ["", "  ms/cycle  share  most time of their own"]
    for name, seconds in own.most_common(count):
        lines.append(f"  {seconds * per:8.2f} {seconds / total:6.1%}  {name}")
    lines += ["", "  ms/cycle  share  the dashboard's functions, callees included"]
    for name, seconds in inclusive.most_common(count):
        lines.append(f"  {seconds * per:8.2f} {seconds / total:6.1%}  {name}")
    return lines


# --------------------------------------------------------------------------------------------
# Report and checks


def table(cases: list[tuple[Phase, Phase]]) -> list[str]:
    out = [
        f"{'conc':>4} {'bare/s':>7} {'dash/s':>7} {'ratio':>6} |"
        f" {'POST p50':>8} {'p95':>6} {'p99':>6} | {'cycle p50':>9} {'p95':>6} {'p99':>6} |"
        f" {'bare p50':>8} {'p95':>6} | {'overhead':>8}",
    ]
    for bare, dash in cases:
        overhead = pct(dash.post_ms, 50) - pct(bare.post_ms, 50)
        out.append(
            f"{dash.concurrency:>4} {bare.rate:>7.1f} {dash.rate:>7.1f}"
            f" {dash.rate / bare.rate if bare.rate else float('nan'):>6.1%} |"
            f" {pct(dash.post_ms, 50):>8.1f} {pct(dash.post_ms, 95):>6.1f}"
            f" {pct(dash.post_ms, 99):>6.1f} | {pct(dash.cycle_ms, 50):>9.1f}"
            f" {pct(dash.cycle_ms, 95):>6.1f} {pct(dash.cycle_ms, 99):>6.1f} |"
            f" {pct(bare.post_ms, 50):>8.1f} {pct(bare.post_ms, 95):>6.1f} |"
            f" {overhead:>+8.1f}"
        )
    out.append(
        "sends/s: sends completed (bare: send_sms calls; dashboard: GET /send, POST /send,"
        " GET /attempts/<id> cycles) over the case's time, until the sends in flight at its"
        " end ended; ms; overhead = POST p50 - bare p50"
    )
    out += [
        "",
        "CPU ms per send (the machine's other jobs take theirs, not these):",
        f"{'conc':>4} | {'dashboard: workers':>18} {'database':>8} {'simulator':>9}"
        f" {'agents':>6} | {'bare: client':>12} {'simulator':>9}",
    ]
    for bare, dash in cases:
        out.append(
            f"{dash.concurrency:>4} | {_cpu_ms(dash, 'workers'):>18} {_cpu_ms(dash, 'database'):>8}"
            f" {_cpu_ms(dash, 'simulator'):>9} {_cpu_ms(dash, 'generator'):>6} |"
            f" {_cpu_ms(bare, 'generator'):>12} {_cpu_ms(bare, 'simulator'):>9}"
        )
    out.append(
        "workers: gunicorn's (on SQLite the database's work is theirs); database: PostgreSQL's"
        " backends; agents: the load generator's threads; client: the bare client's threads"
    )
    return out


def _cpu_ms(phase: Phase, part: str) -> str:
    if part not in phase.cpu or not phase.sends:
        return "-"
    return f"{phase.cpu[part] / phase.sends * 1000:.1f}"


def check(
    out: list[str],
    app: Any,
    sent: list[Sent],
    dashboard: Phase,
    bare: Phase,
    bare_numbers: list[str],
    simulator: SimulatorProcess,
    logs: list[Path],
) -> list[str]:
    failures: list[str] = []

    def must(ok: bool, words: str) -> None:
        out.append(f"{'ok  ' if ok else 'FAIL'} {words}")
        if not ok:
            failures.append(words)

    out.append("")
    attempts = attempts_in(app)
    by_status = Counter(status for _, status, _ in attempts.values())
    posted = {s.public_id for s in sent}
    missing, extra = posted - set(attempts), set(attempts) - posted
    must(
        not missing and not extra and len(posted) == len(sent) == dashboard.sends,
        f"sends made {dashboard.sends} = redirects to an attempt {len(sent)} = attempts in the"
        f" database {len(attempts)}: {len(missing)} missing, {len(extra)} unexplained",
    )
    must(
        by_status["accepted"] == len(attempts),
        "all accepted: " + ", ".join(f"{k} {v}" for k, v in sorted(by_status.items())),
    )
    numbers = Counter(number for number, _, _ in attempts.values())
    twice = sum(1 for n in numbers.values() if n > 1)
    must(twice == 0, f"no two attempts to one number: {twice}")
    stats = simulator.stats()
    must(
        stats["sms_requests"] == len(attempts) + bare.sends,
        f"SMS requests the simulator saw {stats['sms_requests']} = attempts {len(attempts)} +"
        f" bare sends {bare.sends}",
    )
    inbox = Counter(m["phone_number"] for m in simulator.inbox())
    expected = Counter(numbers) + Counter(bare_numbers)
    lost = sum(max(0, n - inbox[number]) for number, n in expected.items())
    duplicated = sum(max(0, n - expected[number]) for number, n in inbox.items())
    must(
        lost == 0 and duplicated == 0,
        f"inbox {inbox.total()} messages, each number once: {lost} lost,"
        f" {duplicated} duplicated or unexplained",
    )
    must(
        bare.outcomes["accepted"] == bare.sends,
        "bare sends accepted: " + ", ".join(f"{k} {v}" for k, v in sorted(bare.outcomes.items())),
    )
    out.append(
        f"token requests: {stats['token_requests']} (one for the dashboard's workers, one for the"
        " bare client)"
    )
    server_errors = sum(n for code, n in dashboard.statuses.items() if code >= 500)
    must(
        server_errors == 0,
        f"5xx answers: {server_errors} (answers: "
        + ", ".join(f"{k} {v}" for k, v in sorted(dashboard.statuses.items()))
        + ")",
    )
    errors = dashboard.errors + bare.errors
    detail = "; ".join(f"{k} x{n}" for k, n in errors.most_common(5))
    must(
        not errors,
        f"load-generator errors: {errors.total()}" + (f" ({detail})" if detail else ""),
    )
    locked = 0
    for path in logs:
        with contextlib.suppress(OSError), path.open(errors="replace") as lines:
            locked += sum("database is locked" in line for line in lines)
    must(locked == 0, f'"database is locked" in the gunicorn log: {locked}')
    return failures


def concurrencies(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of positive integers")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=20.0, help="each case's length")
    parser.add_argument("--concurrency", type=concurrencies, default=[1, 4, 16, 32])
    parser.add_argument(
        "--workers",
        type=int,
        default=2 * len(os.sched_getaffinity(0)),
        help="gunicorn workers (default: two per core, as make run and the README)",
    )
    parser.add_argument("--worker-class", choices=("sync", "gthread"), default="sync")
    parser.add_argument("--threads", type=int, default=1, help="threads per gthread worker")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds, not measured")
    parser.add_argument("--profile", action="store_true", help="and profile one worker")
    parser.add_argument("--profile-seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=20241218)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (print where)")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.workers < 1:
        parser.error("--seconds must be above 0, --workers at least 1")
    kinds = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    started = time.perf_counter()
    failed = False
    for kind in kinds:
        workdir = Path(tempfile.mkdtemp(prefix=f"bench-send-{kind}-"))
        try:
            outcome = bench(kind, args, workdir)
        finally:
            if args.keep:
                log(f"kept {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
        print("\n".join(outcome.lines), flush=True)
        print("PASS" if not outcome.failures else f"FAIL: {len(outcome.failures)} check(s)")
        print(flush=True)
        failed = failed or bool(outcome.failures)
    print(f"total {time.perf_counter() - started:.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
