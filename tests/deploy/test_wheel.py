"""The wheel holds what the package needs and runs from any working directory: an operator
with nothing but the installed wheel and the settings upgrades a database, creates a user,
stores credentials and serves every page and static file."""

from __future__ import annotations

import re
import subprocess
import zipfile

import pytest
import requests
from deploying import DEPLOY, LOCK, ROOT, clean_environment, free_port, production_settings

from dashboard.revenuemonster import keys

#: The first deployment test builds and installs the wheel; the browser journey waits out
#: the one-minute fresh sign-in window.
pytestmark = pytest.mark.timeout(300)


def test_the_wheel_ships_templates_static_files_and_migrations(installed):
    site = next(installed.venv.glob("lib/python*/site-packages"))
    package = site / "dashboard"
    for folder in ("templates", "static", "migrations"):
        shipped = {p.relative_to(package / folder) for p in (package / folder).rglob("*.*")}
        kept = {p.relative_to(ROOT / folder) for p in (ROOT / folder).rglob("*.*")}
        kept = {p for p in kept if "__pycache__" not in p.parts}
        assert kept and kept <= shipped, folder
    (wheel,) = installed.venv.parent.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "docs/"))]
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".sqlite"))]


def test_the_wheel_installs_the_locked_versions(installed):
    def pins(lines):
        found = {}
        for line in lines:
            name, equals, version = line.partition("==")
            if equals and not line.startswith(("#", " ")):
                found[re.sub(r"[-_.]+", "-", name.lower())] = version.strip()
        return found

    locked = pins(LOCK.read_text().splitlines())
    frozen = subprocess.run(
        [installed.bin("pip"), "freeze", "--exclude", "rm-sms-dashboard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    runtime = pins(frozen)
    assert {"flask", "sqlalchemy", "prometheus-client", "cryptography"} <= set(runtime)
    assert {name: locked.get(name) for name in runtime} == runtime
    assert "pytest" not in runtime  # the dev tools are locked too, but not installed here


def test_the_installed_wheel_runs_from_an_empty_directory(installed, serve_gunicorn, tmp_path):
    work = tmp_path / "empty"
    work.mkdir()
    env = clean_environment(
        **production_settings(f"sqlite:///{tmp_path / 'dashboard.sqlite'}", "127.0.0.1")
    )
    where = subprocess.run(
        [installed.bin("python"), "-c", "import dashboard; print(dashboard.__file__)"],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(installed.venv)), where  # not the checkout

    assert "Running upgrade" in installed.flask("db", "upgrade", env=env, cwd=work).stderr
    installed.flask(
        "users",
        "create",
        "ops@example.com",
        "--role",
        "admin",
        "--password-stdin",
        env=env,
        cwd=work,
        stdin="a long and private pass phrase\n",
    )
    secret, key = tmp_path / "secret.txt", tmp_path / "private.pem"
    secret.write_text("a-client-secret\n")
    key.write_bytes(keys.private_key_pem(keys.generate_private_key()))
    installed.configure_provider("production", "ops-client", secret, key, env=env, cwd=work)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve_gunicorn(
        ["--bind", f"127.0.0.1:{port}", "dashboard:create_app(migrations=False)"],
        env,
        work,
        url + "/healthz",
    )
    sign_in = requests.get(url + "/login", timeout=10)
    assert sign_in.status_code == 200 and "Sign in" in sign_in.text
    # The installed package finds its own migrations: the database is at their head.
    ready = requests.get(url + "/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["migrations"] == "ok", ready.text
    assets = set(re.findall(r'(?:href|src)="(/(?:bootstrap/)?static/[^"]+)"', sign_in.text))
    assert {"/static/css/app.css", "/bootstrap/static/css/bootstrap.min.css"} <= assets
    for asset in assets:
        answer = requests.get(url + asset, timeout=10)
        assert answer.status_code == 200 and answer.content, asset
    assert list(work.iterdir()) == [work / "gunicorn.log"]  # nothing else written where it runs
    assert not (installed.venv / "var").exists()  # production needs no instance folder


def test_a_new_sqlite_database_is_readable_by_its_owner_only(installed, tmp_path):
    env = clean_environment(
        **production_settings(f"sqlite:///{tmp_path / 'private.sqlite'}", "localhost")
    )
    installed.flask("db", "upgrade", env=env, cwd=tmp_path)
    holds_it_open = (
        "import sqlite3, os, sys\n"
        f"c = sqlite3.connect({str(tmp_path / 'private.sqlite')!r})\n"
        "c.execute('PRAGMA journal_mode=WAL'); c.execute('CREATE TABLE t (x)')\n"
        "print(' '.join(oct(os.stat(p).st_mode & 0o777) for p in sys.argv[1:]))\n"
    )
    files = [str(tmp_path / f"private.sqlite{suffix}") for suffix in ("", "-wal", "-shm")]
    modes = subprocess.run(
        [installed.bin("python"), "-c", holds_it_open, *files],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert modes == ["0o600", "0o600", "0o600"]


def test_gunicorn_with_the_deploy_config_stops_on_a_settings_error(installed, tmp_path):
    """preload_app: the master builds the app, so systemd sees the unit fail, rather than a
    master that reports itself ready while every worker fails in turn."""
    env = clean_environment(**production_settings(f"sqlite:///{tmp_path / 'x.sqlite'}", "x"))
    del env["DASHBOARD_TRUSTED_HOSTS"]
    result = subprocess.run(
        [
            installed.bin("gunicorn"),
            "--config",
            str(DEPLOY / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{free_port()}",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "DASHBOARD_TRUSTED_HOSTS must be set when DASHBOARD_ENV=production" in result.stderr
    assert "Booting worker" not in result.stderr
