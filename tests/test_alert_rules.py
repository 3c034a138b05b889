"""The Prometheus alert rules of docs/deploy/ are valid, fire when their unit test says (with the
words an on-call person reads), and name only metrics the dashboard serves."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from dashboard import metrics

DEPLOY = Path(__file__).resolve().parents[1] / "docs" / "deploy"
RULES = DEPLOY / "prometheus-alerts.yml"


@pytest.fixture(scope="module")
def promtool() -> str:
    """Debian's promtool (``make test`` installs it when it is missing); never skipped."""
    found = shutil.which("promtool") or "/usr/bin/promtool"
    if not Path(found).exists():
        pytest.fail("promtool is missing: 'make promtool' installs it (Debian's prometheus).")
    return found


def run(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], cwd=DEPLOY, capture_output=True, text=True, timeout=60)


def test_the_alert_rules_are_valid(promtool):
    checked = run(promtool, "check", "rules", RULES.name)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 7 rules found" in checked.stdout


def test_the_alert_rules_pass_their_unit_test(promtool):
    tested = run(promtool, "test", "rules", "prometheus-alerts.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_is_tested_and_explained():
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    tests = yaml.safe_load((DEPLOY / "prometheus-alerts.test.yml").read_text())["tests"]
    firing = {
        case["alertname"]
        for test in tests
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert {rule["alert"] for rule in rules} == firing
    for rule in rules:
        assert rule["labels"]["severity"] in {"page", "ticket"}
        assert rule["annotations"]["summary"] and len(rule["annotations"]["description"]) > 100


def test_the_rules_read_only_metrics_the_dashboard_serves():
    families = [
        *text_string_to_metric_families(metrics.exposition()[0].decode()),
        *metrics.PENDING.describe(),  # read from the database, so only within a request
    ]
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
    served = {"up"} | {
        family.name + suffix
        for family in families
        for suffix in suffixes.get(family.type, [""])
        if family.name.startswith("rm_sms_")
    }
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    named = set()
    for rule in rules:
        named |= set(re.findall(r"\b(up|rm_sms_[a-z_]+)\b", rule["expr"]))
    assert "rm_sms_sends_total" in named and "rm_sms_oldest_pending_attempt_age_seconds" in named
    assert named <= served
