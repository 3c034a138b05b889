# ruff: noqa: S311, S603, S608
# (a benchmark: seeded pseudo-random data, its own subprocesses, SQL built from its own names)
"""Export benchmark: how long an export of N attempts streams, against gunicorn's worker timeout.

    .venv/bin/python benchmarks/export.py                      # 1,000,000 rows, both databases
    .venv/bin/python benchmarks/export.py --rows 100000 --databases sqlite

For each database it seeds N attempts (benchmarks/history.py's data: bulk inserts into a fresh
SQLite file, COPY into a fresh PostgreSQL database named ``bench_export_<random>``, dropped
after), serves the dashboard with gunicorn (one sync worker, the production worker timeout),
signs in as an auditor and downloads the unfiltered export as CSV and as JSON Lines over
HTTP, as a browser would. It prints rows/s, seconds to the first and the last byte, and the
ratio to the worker timeout, and checks the bytes against the export's manifest (rows and
SHA-256). It never fails on a missed target: the figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import history as seeding  # noqa: E402 - benchmarks/history.py: its data, seeding, sign-in

WORKER_TIMEOUT = 30.0  # docs/deploy/gunicorn.conf.py
FORMATS = ("csv", "jsonl")
AUDITOR = "auditor@bench.example.com"


def log(message: str) -> None:
    seeding.log(message)


def migrate_and_create_users(url: str, instance: Path) -> list[int]:
    """Schema through the app's migrations; the auditor and four senders through its service."""
    import flask_migrate

    from dashboard import create_app
    from dashboard.extensions import db
    from dashboard.services import users

    app = create_app(seeding.app_config(url, str(instance)))
    with app.app_context():
        flask_migrate.upgrade()
        users.create_user(AUDITOR, "auditor", "bench", password=seeding.PASSWORD)
        senders = [
            users.create_user(
                f"sender{n}@bench.example.com", "support", "bench", password=seeding.PASSWORD
            )[0].id
            for n in range(4)
        ]
        db.engine.dispose()
    return senders


def sign_in(base: str) -> Any:
    """Sign in through /login as the auditor; return the signed-in requests session."""
    import requests

    session = requests.Session()
    page = session.get(base + "/login", timeout=10)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
    assert token, "no CSRF token on /login"
    answer = session.post(
        base + "/login",
        data={"email": AUDITOR, "password": seeding.PASSWORD, "csrf_token": token.group(1)},
        allow_redirects=False,
        timeout=30,
    )
    if answer.status_code != 302 or "/login" in answer.headers.get("Location", ""):
        raise RuntimeError(f"sign-in failed: {answer.status_code} {answer.text[:300]}")
    return session


def start_gunicorn(url: str, instance: Path, workdir: Path, timeout: float) -> seeding.Server:
    """One sync worker with the production worker timeout: a longer export is killed."""
    import requests

    port = seeding.free_port()
    log_path = workdir / "gunicorn.log"
    env = {
        **os.environ,
        "DASHBOARD_SECRET_KEY": seeding.SECRET_KEY,
        "DASHBOARD_ENCRYPTION_KEYS": seeding.ENCRYPTION_KEYS,
        "DASHBOARD_DATABASE_URL": url,
        "DASHBOARD_INSTANCE_PATH": str(instance),  # the audit key generated when seeding
    }
    command = [
        str(seeding.VENV_BIN / "gunicorn"),
        "--workers=1",
        "--worker-class=sync",
        f"--timeout={timeout:g}",
        f"--bind=127.0.0.1:{port}",
        f"--pythonpath={ROOT}",
        "dashboard:create_app(migrations=False)",
    ]
    handle = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    server = seeding.Server("dashboard", process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {log_path}:\n{log_path.read_text()[-3000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(server.base + "/login", timeout=2).status_code == 200:
                return server
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"gunicorn did not start; see {log_path}")


def download(base: str, session: Any, fmt: str) -> dict[str, Any]:
    """POST the export as the history page's button does; read it to the last byte."""
    import requests

    page = session.get(base + "/history", timeout=60).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    if not token:
        raise RuntimeError("no CSRF token on /history")
    digest = hashlib.sha256()
    size = lines = 0
    first_byte = None
    started = time.perf_counter()
    complete = True
    with session.post(
        base + "/history/export",
        data={"csrf_token": token.group(1), "format": fmt},
        stream=True,
        timeout=120,
    ) as response:
        if response.status_code != 200:
            raise RuntimeError(f"export answered {response.status_code}: {response.text[:300]}")
        try:
            for chunk in response.iter_content(chunk_size=1 << 20):
                if first_byte is None:
                    first_byte = time.perf_counter() - started
                digest.update(chunk)
                size += len(chunk)
                lines += chunk.count(b"\n")
        except requests.RequestException:
            complete = False  # the worker was killed mid-stream
    seconds = time.perf_counter() - started
    rows = lines - (1 if fmt == "csv" else 0)
    return {
        "format": fmt,
        "rows": rows,
        "mib": size / 2**20,
        "first_byte_s": first_byte or seconds,
        "seconds": seconds,
        "sha256": digest.hexdigest(),
        "received_complete": complete,
    }


def last_manifest(base: str, session: Any, url: str) -> dict[str, Any]:
    with seeding.pg_connect(url) if url.startswith("postgresql") else _sqlite(url) as con:
        found = con.execute(
            "SELECT max(id) FROM audit_events WHERE action = 'history.export'"
        ).fetchone()
    response = session.get(f"{base}/history/exports/{found[0]}/manifest.json", timeout=30)
    return dict(response.json())


def _sqlite(url: str) -> Any:
    import sqlite3

    return contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///")))


def bench(kind: str, args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    from dashboard.domain import messages

    instance = workdir / "instance"
    database = ""
    if kind == "sqlite":
        url = f"sqlite:///{workdir / 'bench.sqlite'}"
    else:
        database = f"bench_export_{secrets.token_hex(4)}"
        with seeding.pg_connect(args.pg_url, autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{database}"')
        url = args.pg_url.rsplit("/", 1)[0] + "/" + database
    server = None
    results = []
    try:
        data = seeding.Dataset(args.rows, args.seed, datetime.now(UTC) - timedelta(minutes=10))
        data.phones = seeding.phone_pool(
            random.Random(args.seed + 1), min(100_000, max(500, args.rows // 10))
        )
        senders = migrate_and_create_users(url, instance)
        message = messages.masked(messages.DEFAULT_TEMPLATE)
        log(f"{kind}: seeding {args.rows:,} attempts")
        t = time.perf_counter()
        if kind == "sqlite":
            seeding.seed_sqlite(workdir / "bench.sqlite", data, senders, message)
        else:
            seeding.seed_postgresql(url, data, senders, message)
        log(f"{kind}: seeded in {time.perf_counter() - t:.0f} s")
        server = start_gunicorn(url, instance, workdir, args.timeout)
        session = sign_in(server.base)
        for fmt in args.formats.split(","):
            for run in range(args.runs):
                log(f"{kind}: export {fmt}, run {run + 1}")
                result = download(server.base, session, fmt)
                manifest = last_manifest(server.base, session, url)
                result.update(
                    kind=kind,
                    run=run + 1,
                    manifest_rows=manifest.get("rows"),
                    manifest_complete=manifest.get("complete"),
                    matches_manifest=manifest.get("sha256") == result["sha256"]
                    and manifest.get("rows") == result["rows"],
                )
                results.append(result)
                if server.process.poll() is None and not server.workers():
                    time.sleep(2)  # a killed worker is being replaced
    finally:
        if server is not None:
            killed = server.log_path.read_text().count("WORKER TIMEOUT")
            if killed:
                log(f"{kind}: gunicorn killed {killed} worker(s) on the timeout")
            server.stop()
        if database:
            with seeding.pg_connect(args.pg_url, autocommit=True) as con:
                con.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    return results


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print()
    print(
        f"Export of {args.rows:,} attempts through gunicorn (1 sync worker, {os.cpu_count()} cores)"
    )
    print(
        f"{'database':<11} {'format':<6} {'run':>3} {'rows':>10} {'MiB':>7} {'first byte':>10}"
        f" {'total s':>8} {'rows/s':>9} {'of 30 s':>8}  manifest"
    )
    for r in results:
        verdict = "matches" if r["matches_manifest"] else f"MISMATCH ({r['manifest_rows']} rows)"
        if not r["manifest_complete"]:
            verdict += ", cut off"
        print(
            f"{r['kind']:<11} {r['format']:<6} {r['run']:>3} {r['rows']:>10,} {r['mib']:>7.1f}"
            f" {r['first_byte_s']:>9.2f}s {r['seconds']:>8.2f} {r['rows'] / r['seconds']:>9,.0f}"
            f" {r['seconds'] / WORKER_TIMEOUT:>7.0%}  {verdict}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--runs", type=int, default=1, help="downloads per format")
    parser.add_argument("--timeout", type=float, default=WORKER_TIMEOUT, help="worker timeout")
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args(argv)
    results = []
    for kind in [k.strip() for k in args.databases.split(",") if k.strip()]:
        if kind not in ("sqlite", "postgresql"):
            parser.error(f"unknown database {kind!r}")
        workdir = Path(tempfile.mkdtemp(prefix=f"bench-export-{kind}-"))
        try:
            results.extend(bench(kind, args, workdir))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
