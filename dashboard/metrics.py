"""What Prometheus reads at ``/metrics``: the counters the services move, and the pending
attempts counted in the database when Prometheus asks.

Under gunicorn each worker is a process of its own, and a scrape reaches only one of them.
With ``PROMETHEUS_MULTIPROC_DIR`` set (the systemd unit sets it) every worker writes its counts
to files there and the scrape adds up every worker's files, so the totals do not depend on which
worker answers. Without it (the tests, ``flask run``) the process's default registry is read.

The pending attempts are read from the database at scrape time rather than counted up and
down by the workers: every worker answers the same, and an attempt left ``pending`` by a worker
that died still counts, which is what the alert on stuck attempts is for.

A metric never costs a send or a sign-in: the functions the services call log a failure and
carry on (the work they count is done, and often committed, by then).
"""

from __future__ import annotations

import hmac
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from typing import ParamSpec

from flask import has_app_context
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from .config import SettingsError
from .domain.statuses import Status
from .extensions import db
from .models import Attempt, utcnow

log = logging.getLogger(__name__)
P = ParamSpec("P")

#: Where each gunicorn worker keeps its counts (prometheus_client's own variable).
MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
#: Response codes are ours or RevenueMonster's (``SUCCESS``, ``TAC_LIMIT``, ``HTTP_502``...);
#: anything else becomes ``OTHER``, so a provider that answers nonsense cannot make a series
#: per answer.
RESPONSE_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
#: From a fast acceptance to the 20 s send budget (provider_client.SEND_BUDGET_SECONDS).
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0)
#: The outcomes of a sign-in step (services.sign_in).
SIGN_IN_OUTCOMES = frozenset({"success", "failure", "locked", "expired"})

_directory = os.environ.get(MULTIPROCESS_DIRECTORY)
if _directory is not None and not os.path.isdir(_directory):
    raise SettingsError(
        f"{MULTIPROCESS_DIRECTORY}={_directory} is not a directory: create it (empty) before"
        " starting the dashboard, or unset it to count in one process."
    )

SENDS = Counter(
    "rm_sms_sends",
    "Sends by outcome: RevenueMonster's answer (or what stood for it), or blocked by the limits.",
    ["environment", "status", "response_code"],
)
PROVIDER_LATENCY = Histogram(
    "rm_sms_provider_latency_seconds",
    "Time from calling RevenueMonster to having its outcome, token requests included.",
    buckets=LATENCY_BUCKETS,
)
TOKEN_REQUESTS = Counter(
    "rm_sms_token_requests",
    "Access token requests to RevenueMonster by outcome (success, rejected, failed, unknown).",
    ["environment", "outcome"],
)
SIGN_INS = Counter(
    "rm_sms_sign_ins",
    "Sign-in steps (password, second step) by outcome (success, failure, locked, expired).",
    ["outcome"],
)


def _never_raises(function: Callable[P, None]) -> Callable[P, None]:
    @wraps(function)
    def counted(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            function(*args, **kwargs)
        except Exception:
            log.exception("metrics.not_counted", extra={"metric": function.__name__})

    return counted


@_never_raises
def send_finished(
    environment: str, status: str, response_code: str | None, latency_seconds: float | None
) -> None:
    """A send ended with ``status`` and ``response_code``: RevenueMonster's answer (or what
    stood for it), or the limits' refusal, whose ``latency_seconds`` is None (not called)."""
    code = response_code if response_code and RESPONSE_CODE.fullmatch(response_code) else "OTHER"
    SENDS.labels(environment=environment, status=str(status), response_code=code).inc()
    if latency_seconds is not None:
        PROVIDER_LATENCY.observe(latency_seconds)


@_never_raises
def token_requested(environment: str, outcome: str) -> None:
    """A token request was answered (``success``) or failed (its outcome's status)."""
    TOKEN_REQUESTS.labels(environment=environment, outcome=outcome).inc()


@_never_raises
def sign_in(outcome: str) -> None:
    """A sign-in step ended with ``outcome``, one of SIGN_IN_OUTCOMES."""
    if outcome not in SIGN_IN_OUTCOMES:
        raise ValueError(f"unknown sign-in outcome {outcome!r}")
    SIGN_INS.labels(outcome=outcome).inc()


class PendingAttempts:
    """``rm_sms_pending_attempts`` and the age of the oldest one, from the database at scrape
    time (an index on status serves both). Nothing when the database does not answer: the
    scrape still shows the counters, and /readyz says what is wrong."""

    def describe(self) -> Iterable[Metric]:
        # Registering asks for the names; without describe() it would query the database.
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        if not has_app_context():
            return
        try:
            count, oldest = db.session.execute(
                select(func.count(), func.min(Attempt.created_at)).where(
                    Attempt.status == Status.PENDING
                )
            ).one()
        except SQLAlchemyError:
            db.session.rollback()
            log.warning("metrics.pending_unreadable", exc_info=True)
            return
        age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
        pending, oldest_age = self._families()
        pending.add_metric([], count)
        oldest_age.add_metric([], max(age, 0.0))
        yield pending
        yield oldest_age

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "rm_sms_pending_attempts",
                "Attempts recorded as pending: RevenueMonster being called, or a send cut off.",
            ),
            GaugeMetricFamily(
                "rm_sms_oldest_pending_attempt_age_seconds",
                "How long the oldest pending attempt has waited (0 when there is none).",
            ),
        )


PENDING = PendingAttempts()
if _directory is None:
    REGISTRY.register(PENDING)


def exposition() -> tuple[bytes, str]:
    """The text Prometheus reads, and its content type: every worker's counts (or this
    process's) and the pending attempts."""
    if _directory is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_PLAIN_0_0_4
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=_directory)
    registry.register(PENDING)
    return generate_latest(registry), CONTENT_TYPE_PLAIN_0_0_4


def bearer_matches(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>`` (in constant time)."""
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())
