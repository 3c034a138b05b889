"""The commands: scriptable, never prompting, failing with a reason and a non-zero exit."""

from __future__ import annotations

import json

from support import PASSWORD, query_scalar, sign_in

from dashboard.revenuemonster import keys


def test_users_create_with_password_from_stdin(app, client):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "users",
            "create",
            "Ops@Example.com",
            "--role",
            "auditor",
            "--name",
            "Ops",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert sign_in(client, "ops@example.com").status_code == 302


def test_users_create_prints_a_one_time_password_once(app):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "a@example.com", "--role", "support"]
    )
    assert result.exit_code == 0
    assert "One-time password" in result.output
    assert query_scalar(app, "SELECT must_change_password FROM users") in (True, 1)


def test_users_create_refuses_duplicates_and_short_passwords(app):
    runner = app.test_cli_runner()
    args = ["users", "create", "a@example.com", "--role", "support", "--password-stdin"]
    short = runner.invoke(args=args, input="short\n")
    assert short.exit_code != 0 and "at least 12 characters" in short.output
    assert runner.invoke(args=args, input=PASSWORD + "\n").exit_code == 0
    again = runner.invoke(args=args, input=PASSWORD + "\n")
    assert again.exit_code != 0 and "already exists" in again.output


def test_provider_configure_use_and_test(app, tmp_path, simulator, private_key):
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("cli-secret\n")
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(keys.private_key_pem(private_key))
    simulator.simulator.register_client(
        "cli-client", "cli-secret", keys.public_key_pem(private_key)
    )
    runner = app.test_cli_runner()

    result = runner.invoke(
        args=[
            "provider",
            "configure",
            "production",
            "--client-id",
            "cli-client",
            "--client-secret-file",
            str(secret_file),
            "--private-key-file",
            str(key_file),
        ]
    )
    assert result.exit_code == 0, result.output
    assert keys.fingerprint(private_key) in result.output
    stored = query_scalar(app, "SELECT client_secret_encrypted FROM provider_accounts")
    assert "cli-secret" not in stored

    result = runner.invoke(args=["provider", "use", "production", "--reason", "go live"])
    assert result.exit_code == 0 and "was sandbox" in result.output
    assert (
        query_scalar(app, "SELECT count(*) FROM audit_events WHERE action = 'provider.switch'") == 1
    )

    result = runner.invoke(args=["provider", "test", "production"])
    assert result.exit_code == 0, result.output
    assert "Connected to production" in result.output

    assert runner.invoke(args=["provider", "test", "sandbox"]).exit_code != 0


def test_provider_configure_refuses_a_bad_key(app, tmp_path):
    (tmp_path / "secret").write_text("s")
    (tmp_path / "key.pem").write_text("not a key")
    result = app.test_cli_runner().invoke(
        args=[
            "provider",
            "configure",
            "sandbox",
            "--client-id",
            "x",
            "--client-secret-file",
            str(tmp_path / "secret"),
            "--private-key-file",
            str(tmp_path / "key.pem"),
        ]
    )
    assert result.exit_code != 0
    assert query_scalar(app, "SELECT count(*) FROM provider_accounts") == 0


def test_demo_is_repeatable_and_registers_the_key_with_the_simulator(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    box = first.output.rstrip().split("=" * 72)
    assert len(box) == 3 and box[2] == ""  # the passwords are the last thing printed
    assert "one-time passwords" in box[1]
    assert "admin@example.com" in box[1] and "support@example.com" in box[1]
    assert "one-time password" not in box[0]
    with open(app.instance_path + "/simulator-clients.json") as handle:
        registered = json.load(handle)
    fingerprint = query_scalar(app, "SELECT public_key_fingerprint FROM provider_accounts")
    ((client_id, entry),) = registered.items()
    assert keys.fingerprint(keys.load_public_key(entry["public_key_pem"])) == fingerprint

    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0
    assert "one-time passwords" not in second.output and "already configured" in second.output
    assert "users reset-password admin@example.com" in second.output
    assert query_scalar(app, "SELECT count(*) FROM users") == 2


def test_demo_refuses_to_run_in_production(app, tmp_path):
    from support import base_config

    from dashboard import create_app

    config = base_config(app.config["SQLALCHEMY_DATABASE_URI"], "https://127.0.0.1:9", tmp_path)
    production = create_app({**config, "ENV": "production", "TRUSTED_HOSTS": "localhost"})
    result = production.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code != 0
    assert "refuses to run with DASHBOARD_ENV=production" in result.output
    assert query_scalar(app, "SELECT count(*) FROM users") == 0
    assert query_scalar(app, "SELECT count(*) FROM provider_accounts") == 0


def test_audit_verify(app, make_user):
    make_user("a@example.com", "support")
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "1 events checked" in result.output


def test_audit_checkpoint_prints_the_head_and_verify_starts_from_it(app, make_user):
    runner = app.test_cli_runner()
    empty = runner.invoke(args=["audit", "checkpoint"])
    assert empty.exit_code != 0 and "empty" in empty.output
    for n in range(3):
        make_user(f"user{n}@example.com", "support")
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0
    mac = query_scalar(app, "SELECT hash FROM audit_events WHERE id = 3")
    assert result.output == f"audit checkpoint: 3:{mac}\n"
    assert query_scalar(app, "SELECT count(*) FROM audit_checkpoints") == 1
    again = runner.invoke(args=["audit", "verify", "--from-checkpoint", f"3:{mac}"])
    assert again.exit_code == 0 and "1 events checked from event 3" in again.output
    wrong = runner.invoke(args=["audit", "verify", "--from-checkpoint", f"2:{mac}"])
    assert wrong.exit_code != 0 and "event 2's MAC differs from the checkpoint" in wrong.output
    garbled = runner.invoke(args=["audit", "verify", "--from-checkpoint", "3"])
    assert garbled.exit_code != 0 and "SEQ:MAC" in garbled.output


def test_flask_db_upgrade_builds_the_schema_and_the_web_app_leaves_alembic_out(tmp_path):
    """The schema comes from ``flask db upgrade``; the web server's app, built with
    ``migrations=False``, serves without importing Alembic (11 MiB per worker)."""
    import sqlite3
    import subprocess
    import sys

    from support import ENCRYPTION_KEYS, SECRET_KEY

    database = tmp_path / "cli.sqlite"
    env = {
        "PATH": "/usr/bin:/bin",
        "DASHBOARD_SECRET_KEY": SECRET_KEY,
        "DASHBOARD_ENCRYPTION_KEYS": ENCRYPTION_KEYS,
        "DASHBOARD_DATABASE_URL": f"sqlite:///{database}",
        "DASHBOARD_INSTANCE_PATH": str(tmp_path),
    }
    flask = [sys.executable, "-m", "flask", "--app", "dashboard"]
    upgrade = subprocess.run([*flask, "db", "upgrade"], env=env, capture_output=True, text=True)
    assert upgrade.returncode == 0, upgrade.stderr
    with sqlite3.connect(database) as con:
        tables = {name for (name,) in con.execute("SELECT name FROM sqlite_master")}
    assert {"attempts", "users", "audit_events", "search_attempts"} <= tables

    serve = (
        "import sys; from dashboard import create_app;"
        "app = create_app(migrations=False);"
        "status = app.test_client().get('/healthz').status_code;"
        "print(status, 'alembic' in sys.modules, 'flask_migrate' in sys.modules)"
    )
    served = subprocess.run([sys.executable, "-c", serve], env=env, capture_output=True, text=True)
    assert served.stdout.split() == ["200", "False", "False"], served.stderr
