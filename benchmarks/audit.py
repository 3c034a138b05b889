# ruff: noqa: S311
# (a benchmark: seeded pseudo-random data)
"""Audit page benchmark: the log at a million events against the same log at a thousand.

    .venv/bin/python benchmarks/audit.py                       # 1,000 and 1,000,000 events
    .venv/bin/python benchmarks/audit.py --events 1000,100000 --databases sqlite

For each database and size it migrates a fresh database (benchmarks/history.py's set-up: the
auditor and five senders through the services), appends N events chained and MACed exactly as
``audit.record`` does (``audit.seal``, batches of 20,000), records a checkpoint 500 events
before the head as the daily ``audit checkpoint`` job would (so that every view verifies the
same 500 newer events at either size, the bounded work of services.audit_chain), runs ANALYZE
as autovacuum would, serves the dashboard with gunicorn (two sync workers) and measures each
filter of the audit page with wrk (4 connections) as the signed-in auditor. It prints p50/p95
at each size and the ratio of the largest to the smallest; the target is the page as fast at
a million as at a thousand (p95 within 1.25x). It never fails on a missed target.

The events are a support team's: sign-ins and sign-outs, code checks, revealed numbers,
exports, a few admin changes; 30 agents, an admin, an auditor, and one agent who left in the
first twentieth of the log (the actor filter's worst case: nothing of theirs is recent).
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import history as bench  # noqa: E402 - benchmarks/history.py: set-up, servers, wrk, sign-in

BATCH = 20_000
PENDING = 500  # events after the last checkpoint, verified by every view
SPAN = timedelta(days=400)  # the retention a busy merchant keeps
TARGET_RATIO = 1.25
LEAVER = "left.agent@example.com"
ADMIN = "admin.lee@example.com"

#: (action, share, details) of a support team's log.
MIX: list[tuple[str, float, dict[str, Any]]] = [
    ("auth.success", 0.34, {"step": "password"}),
    ("auth.sign_out", 0.30, {}),
    ("code.check", 0.20, {"matched": True, "outcome": "matched", "result": "The code matches."}),
    ("auth.failure", 0.08, {"reason": "bad_password"}),
    ("number.reveal", 0.05, {"reason": "Customer called back"}),
    ("history.export", 0.015, {"rows": 1200, "format": "csv"}),
    ("limits.change", 0.005, {"changes": {"user_per_hour": [30, 40]}}),
    ("provider.switch", 0.005, {"from": "sandbox", "to": "production"}),
    ("template.edit", 0.005, {"name": "Login code"}),
]


def seed(app: Any, count: int, rng: random.Random) -> dict[str, Any]:
    """Append ``count`` events over :data:`SPAN`, oldest first, and a checkpoint
    :data:`PENDING` events before the head. Returns what the cases filter on."""
    from sqlalchemy import insert, select

    from dashboard.database import refresh_statistics
    from dashboard.extensions import db
    from dashboard.models import AuditEvent, User
    from dashboard.services import audit, audit_chain

    columns = [column.key for column in AuditEvent.__table__.columns]
    actions = [action for action, _, _ in MIX]
    weights = [share for _, share, _ in MIX]
    details = {action: extra for action, _, extra in MIX}
    with app.app_context():
        users = list(db.session.execute(select(User.id, User.email)))
        people = [(row.id, row.email) for row in users] + [
            (None, f"agent{n}@example.com") for n in range(30)
        ]
        head = db.session.execute(
            select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
        ).first()
        next_id, prev = (head.id + 1, head.hash) if head else (1, audit.GENESIS_HASH)
        start = datetime.now(UTC) - SPAN
        step = SPAN / max(count, 1)
        leaver_until = count // 20
        started = time.perf_counter()
        batch: list[dict[str, Any]] = []
        for n in range(count):
            action = rng.choices(actions, weights)[0]
            actor_id, label = rng.choice(people)
            if n < leaver_until and rng.random() < 0.05:
                actor_id, label = None, LEAVER
            row = AuditEvent(
                id=next_id + n,
                created_at=start + step * n,
                actor_id=actor_id,
                actor_label=label,
                action=action,
                target=label if action.startswith("auth.") else "",
                details=details[action],
                ip=f"192.0.2.{n % 250 + 1}",
                repeats_before=None,
                prev_hash=prev,
            )
            audit.seal(row)
            prev = row.hash
            batch.append({key: getattr(row, key) for key in columns})
            if len(batch) == BATCH:
                db.session.execute(insert(AuditEvent), batch)
                db.session.commit()
                batch = []
            if n == count - PENDING - 1:
                if batch:
                    db.session.execute(insert(AuditEvent), batch)
                    db.session.commit()
                    batch = []
                audit_chain.checkpoint("benchmark")
        if batch:
            db.session.execute(insert(AuditEvent), batch)
            db.session.commit()
        seconds = time.perf_counter() - started
        refresh_statistics(AuditEvent.__table__)
        last = db.session.scalar(select(db.func.max(AuditEvent.id)))
        db.session.remove()
        db.engine.dispose()
    old_day = (start + SPAN / 10).date()
    return {"seconds": seconds, "last_id": last, "old_day": old_day.isoformat()}


@dataclass
class Case:
    label: str
    query: dict[str, str]


def cases(facts: dict[str, Any]) -> list[Case]:
    from dashboard.domain import cursors

    deep = cursors.make(max(facts["last_id"] // 10, 2), kind="audit", secret=bench.SECRET_KEY)
    day = facts["old_day"]
    return [
        Case("newest events", {}),
        Case("an action, common (sign-ins)", {"action": "auth.success"}),
        Case("an action, rare (environment switches)", {"action": "provider.switch"}),
        Case("an actor, active", {"actor": "agent7@example.com"}),
        Case("an actor who left long ago", {"actor": LEAVER}),
        Case("one day, 90 % back", {"date_from": day, "date_to": day}),
        Case("a page 90 % back (cursor)", {"after": deep}),
    ]


def bench_database(kind: str, size: int, args: argparse.Namespace, workdir: Path) -> list[Any]:
    import requests

    from dashboard import create_app

    instance = workdir / "instance"
    instance.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if kind == "sqlite":
            url = f"sqlite:///{workdir / 'audit.sqlite'}"
        else:
            from common import database

            url = stack.enter_context(database(kind, workdir, args.pg_url, prefix="bench_audit"))
        bench.migrate_and_create_users(url, instance)
        app = create_app(bench.app_config(url, instance))
        facts = seed(app, size, random.Random(args.seed))
        bench.log(f"{kind}: {size:,} events appended in {facts['seconds']:.0f} s")
        env = {
            "DASHBOARD_SECRET_KEY": bench.SECRET_KEY,
            "DASHBOARD_ENCRYPTION_KEYS": bench.ENCRYPTION_KEYS,
            "DASHBOARD_AUDIT_KEY": bench.AUDIT_KEY,
            "DASHBOARD_DATABASE_URL": url,
            "DASHBOARD_INSTANCE_PATH": str(instance),
        }
        server = bench.start_server(
            "dashboard", "dashboard:create_app(migrations=False)", env, workdir, args.workers, 1
        )
        stack.callback(server.stop)
        cookie = bench.sign_in(server.base)
        script = workdir / "report.lua"
        script.write_text(bench.WRK_SCRIPT)
        found = []
        for case in cases(facts):
            target = f"{server.base}/audit?{urlencode(case.query)}"
            check = requests.get(target, headers={"Cookie": cookie}, timeout=60)
            rows = check.text.count("<tr") - 1
            if check.status_code != 200 or rows < 1:
                raise RuntimeError(f"{case.label}: {check.status_code}, {rows} rows")
            measure = bench.run_wrk(
                target, {"Cookie": cookie}, args.duration, args.connections, script
            )
            bench.log(f"{kind} {size:>9,} {case.label:<40} {bench._fmt(measure)}")
            found.append((case.label, measure))
        return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", default="1000,1000000", help="sizes, smallest first")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--duration", type=int, default=3, help="seconds of load per case")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        parser.error("wrk is missing (apt-get install wrk)")
    sizes = [int(size) for size in args.events.split(",")]
    from common import machine

    for line in machine():
        print(line)
    for kind in [k.strip() for k in args.databases.split(",") if k.strip()]:
        by_size = {}
        for size in sizes:
            workdir = Path(tempfile.mkdtemp(prefix=f"bench-audit-{kind}-"))
            try:
                by_size[size] = dict(bench_database(kind, size, args, workdir))
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
        small, large = sizes[0], sizes[-1]
        print(f"\n{kind}: p50 / p95 ms at {small:,} and {large:,} events (target: p95 ratio")
        print(f"at most {TARGET_RATIO}x)")
        print(f"| case | {small:,} | {large:,} | p95 ratio | |")
        print("|---|---|---|---|---|")
        for label, measure in by_size[small].items():
            big = by_size[large][label]
            ratio = big.p95 / measure.p95 if measure.p95 else float("inf")
            verdict = "ok" if ratio <= TARGET_RATIO else "MISSED"
            print(
                f"| {label} | {measure.p50:.1f} / {measure.p95:.1f} | {big.p50:.1f} / "
                f"{big.p95:.1f} | {ratio:.2f}x | {verdict} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
