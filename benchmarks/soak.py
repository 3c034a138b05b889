# ruff: noqa: S311, S603
# (a benchmark: seeded pseudo-random choices, its own subprocesses)
"""Soak benchmark: a support day against the dashboard under gunicorn, with provider faults.

    .venv/bin/python benchmarks/soak.py                          # 5 minutes, 30 agents, SQLite
    .venv/bin/python benchmarks/soak.py --database postgresql
    .venv/bin/python benchmarks/soak.py --minutes 0.5 --agents 8  # smoke run

It serves the dashboard as ``make run`` does (gunicorn sync workers, two per core) on a fresh
database migrated by ``flask db upgrade`` (a SQLite file, or a ``soak_<random>`` PostgreSQL
database created and dropped), against the RevenueMonster simulator (in this process, over
real HTTP), with the limits raised to the most the admin page allows. It signs in the agents,
each from a loopback address of its own (the sign-in forms' rate limit counts per address,
per worker), and each agent then does, until the time is up, one action after another
(pausing ``--think`` seconds on average between two):

- send 20 % (GET /send, POST /send) to a number no other send uses, or, for ``--fault-rate``
  of the sends, to one of the simulator's magic numbers (HTTP 500, a body that is not JSON, a
  dropped connection, an answer after the read timeout, three refusals);
- history 50 % (the first page; the last four digits of a number it sent to; accepted only);
- attempt pages 20 % (one of its recent attempts);
- checks 10 % (GET /check, POST /check; mostly the code the simulator delivered).

It prints the requests, the answers by status, p50/p95 per minute, how the attempts in the
database compare with what the simulator saw, and the workers' memory; it exits 1 when a
must fails:

- no 5xx answer, and no request of the load generator failing (connection, timeout, an
  answer other than the page's);
- every POST /send that redirected to an attempt has it in the database, and there is no
  other attempt, and none is still pending;
- SMS requests seen by the simulator = attempts that reached it (accepted + rejected +
  unknown); failed and blocked attempts never reach it;
- each accepted attempt's SMS is in the simulator's inbox exactly once, and no message is
  there without an attempt (the late answers land there too, as their attempts are unknown:
  the SMS may have gone, which is why staff must ask the customer);
- no worker restarted, and each worker's RSS at the end is at most 1.10 times what it was
  after the warm-up (10 % of the run, at least 15 s).

The simulator has no switch for a random fault rate, so the faults are the magic numbers it
documents (dashboard/revenuemonster/testing/magic.py), drawn by the agents at that rate.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
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
    Numbers,
    SourceAddressAdapter,
    Unexpected,
    attempts_in,
    database,
    errors_in_log,
    in_threads,
    log,
    machine,
    prepare,
    settings,
    start_gunicorn,
)
from common import csrf as _csrf
from common import pct as _pct

from dashboard.revenuemonster.testing import magic

ACTOR = "soak benchmark"
RSS_GROWTH_LIMIT = 1.10
CODE_RE = re.compile(r"\b(\d{6})\b")

#: The support day: (action, weight).
MIX = (("send", 20), ("history", 50), ("attempt", 20), ("check", 10))


@dataclass(frozen=True)
class Fault:
    number: str  # the magic national number
    status: str  # what the dashboard should record
    delivered: bool  # whether the message still reaches the inbox


def _refusal(code: str) -> Fault:
    """The magic numbers 120000101 to 120000114 answer SIMULATED_ERROR_CODES, in order."""
    return Fault(f"1200001{magic.SIMULATED_ERROR_CODES.index(code) + 1:02d}", "rejected", False)


FAULTS = {
    "HTTP 500": Fault(magic.MAGIC_500, "unknown", False),
    "not JSON": Fault(magic.MAGIC_MALFORMED, "unknown", False),
    "dropped": Fault(magic.MAGIC_DROP, "unknown", False),
    "late answer": Fault(magic.MAGIC_SLOW, "unknown", True),
    "SMS_FAIL": _refusal("SMS_FAIL"),
    "TOO_MANY_REQUEST_PER_SECOND": _refusal("TOO_MANY_REQUEST_PER_SECOND"),
    "INSUFFICIENT_MERCHANT_BALANCE": _refusal("INSUFFICIENT_MERCHANT_BALANCE"),
}
FAULT_NUMBERS = {fault.number: name for name, fault in FAULTS.items()}


# --------------------------------------------------------------------------------------------
# What the agents record


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the load started
    kind: str  # "GET /history", "POST /send", ...
    ms: float
    status: int  # 0: no answer


@dataclass(frozen=True)
class Sent:
    public_id: str
    number: str
    fault: str | None


@dataclass
class Record:
    started: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    sign_ins: list[Sample] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)


class Agent:
    def __init__(self, index: int, base: str, record: Record, ctx: RunContext) -> None:
        self.email = f"agent{index:03d}@example.com"
        self.base = base
        self.record = record
        self.ctx = ctx
        self.rng = random.Random(ctx.seed * 1000 + index)
        self.http = requests.Session()
        adapter = SourceAddressAdapter(f"127.1.{index // 250}.{index % 250 + 1}")
        self.http.mount("http://", adapter)
        self.recent: list[Sent] = []

    def request(self, method: str, path: str, kind: str, **kwargs: Any) -> requests.Response:
        started = time.perf_counter()
        try:
            response = self.http.request(
                method, self.base + path, allow_redirects=False, timeout=60, **kwargs
            )
        except requests.RequestException as error:
            self.sample(kind, started, 0)
            raise Unexpected(f"{kind}: {type(error).__name__}") from None
        self.sample(kind, started, response.status_code)
        return response

    def sample(self, kind: str, started: float, status: int) -> None:
        now = time.perf_counter()
        at = time.monotonic() - self.record.started
        self.record.samples.append(Sample(at, kind, (now - started) * 1000, status))

    def expect(self, response: requests.Response, status: int, kind: str) -> requests.Response:
        if response.status_code != status:
            raise Unexpected(f"{kind}: HTTP {response.status_code} (expected {status})")
        return response

    def page(self, path: str, kind: str) -> str:
        return self.expect(self.request("GET", path, kind), 200, kind).text

    def sign_in(self) -> None:
        token = _csrf(self.page("/login", "GET /login"))
        response = self.request(
            "POST",
            "/login",
            "POST /login",
            data={"email": self.email, "password": PASSWORD, "csrf_token": token},
        )
        if response.status_code != 302 or response.headers.get("Location") != "/":
            raise Unexpected(f"sign-in of {self.email}: HTTP {response.status_code}")

    # -- the actions -------------------------------------------------------------------------

    def send(self) -> None:
        fault = None
        if self.rng.random() < self.ctx.fault_rate:
            fault = self.rng.choice(sorted(FAULTS))
            number = FAULTS[fault].number
        else:
            number = self.ctx.numbers.take()
        page = self.page("/send", "GET /send")
        key = KEY_RE.search(page)
        if key is None:
            raise Unexpected("GET /send: no idempotency key on the form")
        response = self.request(
            "POST",
            "/send",
            "POST /send",
            data={
                "csrf_token": _csrf(page),
                "idempotency_key": key.group(1),
                "country_code": "60",
                "phone_number": number,
                "reason": f"Ticket {self.rng.randrange(10000, 100000)}",
                "template": "default",
            },
        )
        match = ATTEMPT_RE.search(response.headers.get("Location", ""))
        if response.status_code != 302 or match is None:
            raise Unexpected(f"POST /send: HTTP {response.status_code}, no attempt")
        sent = Sent(match.group(1), number, fault)
        self.record.sent.append(sent)
        self.recent = [*self.recent[-19:], sent]

    def history(self) -> None:
        roll = self.rng.random()
        normal = [s for s in self.recent if s.fault is None]
        if roll < 0.25 and normal:
            path = f"/history?q={self.rng.choice(normal).number[-4:]}&match=ends"
        elif roll < 0.40:
            path = "/history?status=accepted"
        else:
            path = "/history"
        self.page(path, "GET /history")

    def attempt(self) -> None:
        if not self.recent:
            return self.history()
        self.page(f"/attempts/{self.rng.choice(self.recent).public_id}", "GET /attempts/<id>")
        return None

    def check(self) -> None:
        normal = [s for s in self.recent if s.fault is None]
        if not normal:
            return self.history()
        number = self.rng.choice(normal).number
        code = self.ctx.delivered_code(number) if self.rng.random() < 0.8 else None
        page = self.page("/check", "GET /check")
        data = {
            "csrf_token": _csrf(page),
            "country_code": "60",
            "phone_number": number,
            "code": code or f"{self.rng.randrange(10**6):06d}",
        }
        self.expect(self.request("POST", "/check", "POST /check", data=data), 200, "POST /check")
        return None

    def run(self, deadline: float) -> None:
        actions: dict[str, Callable[[], None]] = {
            "send": self.send,
            "history": self.history,
            "attempt": self.attempt,
            "check": self.check,
        }
        names, weights = zip(*MIX, strict=True)
        while time.monotonic() < deadline:
            name = self.rng.choices(names, weights)[0]
            self.record.actions[name] += 1
            try:
                actions[name]()
            except Unexpected as error:
                self.record.errors[str(error)] += 1
            if self.ctx.think:
                time.sleep(min(self.rng.expovariate(1 / self.ctx.think), 10 * self.ctx.think))


@dataclass
class RunContext:
    seed: int
    fault_rate: float
    think: float
    numbers: Numbers
    simulator: Any

    def delivered_code(self, number: str) -> str | None:
        """The code of the last message the simulator delivered to ``number``."""
        for message in reversed(self.simulator.inbox):
            if message["phone_number"] == number:
                found = CODE_RE.search(message["message"])
                return found.group(1) if found else None
        return None


# --------------------------------------------------------------------------------------------
# The run


@dataclass
class Outcome:
    lines: list[str]
    failures: list[str]


def soak(args: argparse.Namespace, workdir: Path) -> Outcome:
    from dashboard.revenuemonster.testing.serving import serve_in_thread
    from dashboard.revenuemonster.testing.simulator import Simulator

    # A late answer comes 2 s after the dashboard stopped waiting for it.
    simulator = Simulator(slow_seconds=RM_TIMEOUT_SECONDS + 2, inbox_limit=10**7)
    sim_server, sim_url = serve_in_thread(simulator)
    server = None
    try:
        with database(args.database, workdir, args.pg_url) as url:
            env = {**os.environ, **settings(url, sim_url, workdir / "instance")}
            app = prepare(
                env,
                args.agents,
                simulator.register_client,
                actor=ACTOR,
                client_id="soak-client",
                limits={
                    "cooldown_seconds": 0,  # the magic numbers repeat
                    "per_number_per_hour": 1000,  # the most the admin page allows
                    "per_number_per_day": 10000,
                    "per_user_per_hour": 10000,
                    "per_user_per_day": 100000,
                },
            )
            server = start_gunicorn(env, workdir, args.workers)
            boot_rss = server.rss_mib()
            record = Record()
            ctx = RunContext(
                args.seed, args.fault_rate, args.think, Numbers(random.Random(args.seed)), simulator
            )
            agents = [Agent(i, server.base, record, ctx) for i in range(args.agents)]
            record.started = time.monotonic()
            in_threads([agent.sign_in for agent in agents], width=8)
            record.sign_ins, record.samples = record.samples, []
            log(f"{len(agents)} agents signed in; soaking for {args.minutes:g} min")
            seconds = args.minutes * 60
            load_before = os.getloadavg()
            record.started = time.monotonic()
            deadline = record.started + seconds
            warm_up = max(15.0, seconds / 10)
            rss_samples: list[tuple[float, dict[int, float]]] = []
            threads = [
                threading.Thread(target=agent.run, args=(deadline,), daemon=True)
                for agent in agents
            ]
            for thread in threads:
                thread.start()
            while time.monotonic() < deadline:
                time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
                at = time.monotonic() - record.started
                rss_samples.append((at, server.rss_mib()))
                if int(at) % 60 < 5:
                    log(f"{at:.0f} s: {len(record.samples)} requests")
            for thread in threads:
                thread.join(timeout=90)
            end_rss = server.rss_mib()
            load_after = os.getloadavg()
            # Messages answered late land in the inbox after the dashboard gave up on them.
            if any(s.fault == "late answer" for s in record.sent):
                time.sleep(3)
            attempts = attempts_in(app)
            lines, failures = report(
                args, record, attempts, simulator, boot_rss, rss_samples, warm_up, end_rss
            )
            lines.insert(
                3,
                f"load average (1 min) before {load_before[0]:.2f}, at the end"
                f" {load_after[0]:.2f} (other jobs on the machine distort the figures)",
            )
            errors = errors_in_log(server.log_path)
            if errors:
                lines.append(f"worker log: {errors} error lines ({server.log_path})")
            return Outcome(lines, failures)
    finally:
        if server is not None:
            server.stop()
        sim_server.shutdown()


# --------------------------------------------------------------------------------------------
# Report


def report(
    args: argparse.Namespace,
    record: Record,
    attempts: dict[str, tuple[str, str, str | None]],
    simulator: Any,
    boot_rss: dict[int, float],
    rss_samples: list[tuple[float, dict[int, float]]],
    warm_up: float,
    end_rss: dict[int, float],
) -> tuple[list[str], list[str]]:
    out = machine()
    out.append(
        f"soak: {args.minutes:g} min, {args.agents} agents, {args.database}, gunicorn"
        f" {args.workers} sync workers, think {args.think:g} s, faults {args.fault_rate:.0%}"
        f" of sends (magic numbers), seed {args.seed}"
    )
    failures: list[str] = []

    def must(ok: bool, words: str) -> None:
        out.append(f"{'ok  ' if ok else 'FAIL'} {words}")
        if not ok:
            failures.append(words)

    load = record.samples
    out.append("")
    out.append(
        f"{'minute':>6} {'requests':>8} {'req/s':>6} {'p50 ms':>7} {'p95 ms':>7} |"
        f" {'sends':>5} {'p50':>6} {'p95':>6} | {'history p50':>11} {'p95':>6}"
    )
    minutes = int(args.minutes * 60 // 60) + (1 if (args.minutes * 60) % 60 else 0)
    for minute in range(max(1, minutes)):
        these = [s for s in load if minute * 60 <= s.at < (minute + 1) * 60]
        span = min(60.0, args.minutes * 60 - minute * 60)
        ms = [s.ms for s in these]
        sends = [s.ms for s in these if s.kind == "POST /send"]
        hist = [s.ms for s in these if s.kind == "GET /history"]
        out.append(
            f"{minute:>6} {len(these):>8} {len(these) / span:>6.1f} {_pct(ms, 50):>7.1f}"
            f" {_pct(ms, 95):>7.1f} | {len(sends):>5} {_pct(sends, 50):>6.1f}"
            f" {_pct(sends, 95):>6.1f} | {_pct(hist, 50):>11.1f} {_pct(hist, 95):>6.1f}"
        )
    out.append("")
    kinds = Counter(s.kind for s in load)
    out.append(
        "per request: "
        + "; ".join(
            f"{kind} {count} (p50 {_pct([s.ms for s in load if s.kind == kind], 50):.1f},"
            f" p95 {_pct([s.ms for s in load if s.kind == kind], 95):.1f} ms)"
            for kind, count in sorted(kinds.items())
        )
    )
    out.append(f"actions: {dict(sorted(record.actions.items()))}")
    statuses = Counter(s.status for s in [*record.sign_ins, *record.samples])
    out.append(
        f"requests: {len(record.samples)}, and {len(record.sign_ins)} to sign in; answers: "
        + ", ".join(f"{code or 'none'} {n}" for code, n in sorted(statuses.items()))
    )
    server_errors = sum(n for code, n in statuses.items() if code >= 500)
    must(server_errors == 0, f"5xx answers: {server_errors}")
    errors = sum(record.errors.values())
    detail = "; ".join(f"{k} x{n}" for k, n in record.errors.most_common(5))
    must(errors == 0, f"load-generator errors: {errors}" + (f" ({detail})" if detail else ""))

    # -- attempts against the simulator ----------------------------------------------------
    out.append("")
    posted = {s.public_id: s for s in record.sent}
    by_status = Counter(status for _, status, _ in attempts.values())
    out.append(
        f"attempts in the database: {len(attempts)} ("
        + ", ".join(f"{k} {v}" for k, v in sorted(by_status.items()))
        + f"); sends posted: {len(record.sent)}"
    )
    missing = set(posted) - set(attempts)
    extra = set(attempts) - set(posted)
    must(
        not missing and not extra and len(posted) == len(record.sent),
        f"every send posted has its attempt, and no other: {len(missing)} missing,"
        f" {len(extra)} unexplained",
    )
    must(by_status["pending"] == 0, f"attempts still pending: {by_status['pending']}")
    reached = by_status["accepted"] + by_status["rejected"] + by_status["unknown"]
    sms_requests = simulator.sms_requests
    must(
        sms_requests == reached,
        f"SMS requests seen by the simulator {sms_requests} = attempts that reached it"
        f" {reached} (accepted {by_status['accepted']} + rejected {by_status['rejected']} +"
        f" unknown {by_status['unknown']}; failed {by_status['failed']} and blocked"
        f" {by_status['blocked']} never reach it)",
    )
    inbox = Counter(m["phone_number"] for m in simulator.inbox)
    accepted = Counter(n for n, status, _ in attempts.values() if status == "accepted")
    late = (
        sum(
            1
            for s in record.sent
            if s.fault == "late answer" and attempts[s.public_id][1] == "unknown"
        )
        if not missing
        else 0
    )
    expected = accepted + Counter({magic.MAGIC_SLOW: late})
    lost = sum(max(0, count - inbox[n]) for n, count in expected.items())
    extra_messages = sum(max(0, count - expected[n]) for n, count in inbox.items())
    must(
        lost == 0 and extra_messages == 0,
        f"inbox {inbox.total()} messages = accepted attempts {accepted.total()} +"
        f" late answers {late} (unknown, yet delivered): {lost} lost, {extra_messages}"
        " duplicated or without an attempt",
    )
    out.append(
        f"token requests: {simulator.token_requests} (the token is shared by every worker);"
        f" refresh grants {simulator.refresh_grants}"
    )
    faults = Counter(
        (s.fault, attempts.get(s.public_id, ("", "missing", None))[1])
        for s in record.sent
        if s.fault
    )
    if faults:
        out.append(
            "faults (recorded as): "
            + "; ".join(
                f"{name} -> {status} x{n}"
                + ("" if status == FAULTS[name].status else f" (expected {FAULTS[name].status})")
                for (name, status), n in sorted(faults.items())
            )
        )
    normal_not_accepted = Counter(
        (status, code)
        for public_id, (number, status, code) in attempts.items()
        if number not in FAULT_NUMBERS and status != "accepted"
    )
    if normal_not_accepted:
        out.append(f"sends to ordinary numbers not accepted: {dict(normal_not_accepted)}")
    out.append(
        "unknown = no valid answer (HTTP 500, a body that is not JSON, a dropped connection, an"
        " answer after the read timeout): the SMS may have gone (the late answers did);"
        " failed = the request never reached the simulator; blocked = refused by a limit."
    )

    # -- memory ----------------------------------------------------------------------------
    out.append("")
    start_rss = next((rss for at, rss in rss_samples if at >= warm_up), end_rss)
    out.append(
        "worker RSS MiB at boot: " + ", ".join(f"{v:.1f}" for _, v in sorted(boot_rss.items()))
    )
    out.append(
        f"worker RSS MiB after the warm-up ({warm_up:.0f} s): "
        + ", ".join(f"{v:.1f}" for _, v in sorted(start_rss.items()))
    )
    out.append(
        "worker RSS MiB at the end: " + ", ".join(f"{v:.1f}" for _, v in sorted(end_rss.items()))
    )
    restarted = set(end_rss) != set(boot_rss)
    must(not restarted, f"workers restarted: {'yes' if restarted else 'none'}")
    ratios = [end_rss[pid] / start_rss[pid] for pid in end_rss if pid in start_rss]
    worst = max(ratios, default=float("nan"))
    must(
        bool(ratios) and worst <= RSS_GROWTH_LIMIT,
        f"RSS end / after warm-up: {', '.join(f'{r:.3f}' for r in ratios)}"
        f" (at most {RSS_GROWTH_LIMIT:.2f})",
    )
    out.append("")
    out.append("PASS" if not failures else f"FAIL: {len(failures)} must(s) failed")
    return out, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--agents", type=int, default=30)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--workers",
        type=int,
        default=2 * len(os.sched_getaffinity(0)),
        help="gunicorn sync workers (default: two per core)",
    )
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="mean seconds an agent pauses between two actions (exponential; 0: none)",
    )
    parser.add_argument("--fault-rate", type=float, default=0.02, help="share of faulty sends")
    parser.add_argument("--seed", type=int, default=20241202)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (print where)")
    args = parser.parse_args(argv)
    if args.agents < 1 or args.minutes <= 0 or not 0 <= args.fault_rate <= 1:
        parser.error("--agents must be at least 1, --minutes above 0, --fault-rate in [0, 1]")
    workdir = Path(tempfile.mkdtemp(prefix=f"soak-{args.database}-"))
    started = time.perf_counter()
    try:
        outcome = soak(args, workdir)
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print("\n".join(outcome.lines), flush=True)
    print(f"total {time.perf_counter() - started:.0f} s", flush=True)
    return 1 if outcome.failures else 0


if __name__ == "__main__":
    sys.exit(main())
