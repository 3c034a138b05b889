"""/metrics under gunicorn with several workers, as the systemd unit runs it: each worker counts
in its own files in PROMETHEUS_MULTIPROC_DIR, and whichever worker answers a scrape adds up
all of them. Sends and sign-ins land on different workers; every scrape shows the same totals,
also after a worker has died and been replaced (docs/deploy/gunicorn.conf.py's child_exit)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from deploying import DEPLOY, clean_environment, free_port, stop, wait_for
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from support import AUDIT_KEY, ENCRYPTION_KEYS, PASSWORD, SECRET_KEY

pytestmark = pytest.mark.timeout(180)

TOKEN = "scrape-token-" + "s" * 32
KEY_RE = re.compile(r'name="idempotency_key" type="hidden" value="([^"]+)"')
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
WORKERS = 3
SENDERS = 3
SENDS_EACH = 4


def test_the_unit_gives_gunicorn_an_empty_directory_of_its_own():
    unit = (DEPLOY / "rm-sms-dashboard.service").read_text()
    assert "RuntimeDirectory=rm-sms-dashboard\n" in unit
    assert "Environment=PROMETHEUS_MULTIPROC_DIR=/run/rm-sms-dashboard\n" in unit
    # Set by the unit, not in the settings file that `flask` commands also read.
    assert "PROMETHEUS_MULTIPROC_DIR" not in unit.split("EnvironmentFile=")[0]


def test_metrics_add_up_across_gunicorn_workers(app, sandbox, make_user, simulator, tmp_path):
    for n in range(SENDERS):
        make_user(f"agent{n}@example.com", "support")
    counts = tmp_path / "metrics"
    counts.mkdir()
    access_log = tmp_path / "access.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = clean_environment(
        DASHBOARD_SECRET_KEY=SECRET_KEY,
        DASHBOARD_DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        DASHBOARD_ENCRYPTION_KEYS=ENCRYPTION_KEYS,
        DASHBOARD_AUDIT_KEY=AUDIT_KEY,
        DASHBOARD_INSTANCE_PATH=str(tmp_path / "instance"),
        DASHBOARD_METRICS_TOKEN=TOKEN,
        DASHBOARD_RM_SANDBOX_OAUTH_URL=simulator.url,
        DASHBOARD_RM_SANDBOX_API_URL=simulator.url,
        PROMETHEUS_MULTIPROC_DIR=str(counts),
    )
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        gunicorn = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "--config",
                str(DEPLOY / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(WORKERS),
                "--access-logfile",
                str(access_log),
                "--access-logformat",
                "%(p)s %(m)s %(U)s %(s)s",
            ],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(url + "/healthz", gunicorn, log)
        sessions = together(lambda n: signed_in(url, f"agent{n}@example.com"), SENDERS)
        together(lambda n: refused_sign_in(url, f"agent{n}@example.com"), 2)
        together(lambda n: send_codes(url, sessions[n], n), SENDERS)

        # Scrapes at once, until more than one worker has answered them.
        scrapes = []
        for _ in range(20):
            scrapes += together(lambda n: scrape(url), WORKERS)
            if len(served_by(access_log).get("GET /metrics", ())) >= 2:
                break
        expected = {
            "sends": SENDERS * SENDS_EACH,
            "accepted": SENDERS * SENDS_EACH,
            "latencies": SENDERS * SENDS_EACH,
            "tokens": 1,
            "sign_in_success": SENDERS,
            "sign_in_failure": 2,
            "pending": 0,
        }
        assert [totals(s) for s in scrapes] == [expected] * len(scrapes)

        # The work was spread: more than one worker served sends, and kept counts.
        served = served_by(access_log)
        assert len(served["POST /send"]) >= 2, served
        assert len(served["GET /metrics"]) >= 2, served
        assert len(workers_that_counted(counts)) >= 2

        # A worker dies and gunicorn replaces it: what it counted still counts.
        victim = sorted(served["POST /send"])[0]
        os.kill(victim, signal.SIGKILL)
        replaced_within(log, victim)
        after = [totals(s) for s in together(lambda n: scrape(url), WORKERS)]
        assert after == [expected] * WORKERS
        assert "Exception in worker process" not in log.read_text()
        assert "child_exit" not in log.read_text()  # the hook ran without a traceback
    finally:
        stop(gunicorn)


def together(work, count: int) -> list:
    """Run ``work(0)`` … ``work(count - 1)`` in threads started at once, so that the requests
    overlap and gunicorn hands them to different workers; return their results."""
    start = threading.Barrier(count)
    results: list = [None] * count
    errors: list[BaseException] = []

    def run(n: int) -> None:
        start.wait()
        try:
            results[n] = work(n)
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def signed_in(url: str, email: str) -> requests.Session:
    session = requests.Session()
    page = session.get(url + "/login", timeout=10).text
    response = session.post(
        url + "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": CSRF_RE.search(page).group(1)},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 302, response.text
    return session


def refused_sign_in(url: str, email: str) -> None:
    session = requests.Session()
    page = session.get(url + "/login", timeout=10).text
    response = session.post(
        url + "/login",
        data={"email": email, "password": "wrong", "csrf_token": CSRF_RE.search(page).group(1)},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 200


def send_codes(url: str, session: requests.Session, sender: int) -> None:
    for n in range(SENDS_EACH):
        page = session.get(url + "/send", timeout=10).text
        response = session.post(
            url + "/send",
            data={
                "csrf_token": CSRF_RE.search(page).group(1),
                "idempotency_key": KEY_RE.search(page).group(1),
                "country_code": "60",
                "phone_number": f"016-387 7{sender}{n}0",
                "reason": "Ticket 4711",
                "template": "default",
            },
            allow_redirects=False,
            timeout=30,
        )
        assert response.status_code == 302, response.text


def scrape(url: str) -> dict[tuple[str, frozenset], float]:
    response = requests.get(url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def totals(samples) -> dict[str, float]:
    def total(name: str, **labels: str) -> float:
        wanted = set(labels.items())
        return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)

    return {
        "sends": total("rm_sms_sends_total"),
        "accepted": total("rm_sms_sends_total", status="accepted", environment="sandbox"),
        "latencies": total("rm_sms_provider_latency_seconds_count"),
        "tokens": total("rm_sms_token_requests_total", outcome="success"),
        "sign_in_success": total("rm_sms_sign_ins_total", outcome="success"),
        "sign_in_failure": total("rm_sms_sign_ins_total", outcome="failure"),
        "pending": total("rm_sms_pending_attempts"),
    }


def served_by(access_log: Path) -> dict[str, set[int]]:
    """The worker ids that served each kind of request, from the access log."""
    served: dict[str, set[int]] = {}
    for line in access_log.read_text().splitlines():
        pid, method, path, _status = line.split()
        served.setdefault(f"{method} {path}", set()).add(int(pid.strip("<>")))
    return served


def workers_that_counted(folder: Path) -> set[int]:
    """The processes whose files in ``folder`` hold at least one send."""
    pids = set()
    for path in folder.glob("counter_*.db"):
        for metric in MultiProcessCollector.merge([str(path)], accumulate=False):
            if metric.name == "rm_sms_sends" and any(s.value for s in metric.samples):
                pids.add(int(path.stem.removeprefix("counter_")))
    return pids


def replaced_within(log: Path, victim: int, seconds: float = 20) -> None:
    """Until gunicorn has booted a worker in place of ``victim``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log.read_text().count("Booting worker") > WORKERS:
            return
        time.sleep(0.2)
    pytest.fail(f"gunicorn did not replace worker {victim}:\n{log.read_text()}")
