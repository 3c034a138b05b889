"""The ``flask --app dashboard ...`` commands. They call the same services as the pages,
never prompt, say why on standard error and exit non-zero when they fail."""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, NoReturn

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from .encryption import DecryptionError
from .models import ENVIRONMENTS, ROLES, User
from .revenuemonster import keys
from .services import (
    audit,
    environments,
    key_rotation,
    passkeys,
    provider_accounts,
    provider_health,
    retention,
    sending,
    users,
)

CLI_ACTOR = "command line"
SIMULATOR_CLIENTS_FILE = "simulator-clients.json"
DEMO_USERS = (
    ("admin@example.com", "admin", "Demo Admin"),
    ("support@example.com", "support", "Demo Support"),
)
DEMO_CLIENT_ID = "demo-sandbox-client"

users_cli = AppGroup("users", help="Manage the people who may sign in.")
provider_cli = AppGroup("provider", help="RevenueMonster credentials and the active environment.")
audit_cli = AppGroup("audit", help="The audit log.")
attempts_cli = AppGroup("attempts", help="The recorded send attempts.")
secrets_cli = AppGroup("secrets", help="The encryption of stored secrets.")


def init_app(app: Flask) -> None:
    for group in (users_cli, provider_cli, audit_cli, attempts_cli, secrets_cli):
        app.cli.add_command(group)
    app.cli.add_command(simulator_command)
    app.cli.add_command(demo_command)


def fail(message: str) -> NoReturn:
    raise click.ClickException(message)


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--name", default="", help="The person's name, shown in the history.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (one line) instead of generating a one-time "
    "password.",
)
def create_user(email: str, role: str, name: str, password_stdin: bool) -> None:
    """Create a user. Without --password-stdin a one-time password is printed once."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    try:
        user, one_time = users.create_user(email, role, CLI_ACTOR, name=name, password=password)
    except users.UserError as error:
        fail(str(error))
    click.echo(f"Created {user.email} ({user.role}).")
    if one_time:
        click.echo(f"One-time password (shown once, to be changed at first sign-in): {one_time}")


def _user(email: str) -> User:
    user = users.find_by_email(email)
    if user is None:
        fail(f"No user has the email {email}.")
    return user


def _change(change: Callable[[], object], done: str) -> None:
    try:
        change()
    except users.UserError as error:
        fail(str(error))
    click.echo(done)


@users_cli.command("remove-passkeys")
@click.argument("email")
def remove_passkeys(email: str) -> None:
    """Remove every passkey of EMAIL (an admin who lost theirs, under "admins must use a
    passkey"), audited; they then sign in with their password and add a new one."""
    user = _user(email)
    count = passkeys.remove_all(user, CLI_ACTOR)
    click.echo(f"Removed {count} passkey{'s' if count != 1 else ''} of {user.email}.")


@users_cli.command("disable")
@click.argument("email")
def disable_user(email: str) -> None:
    """Disable a user and end every session they have."""
    user = _user(email)
    _change(lambda: users.set_active(user, False, CLI_ACTOR), f"Disabled {user.email}.")


@users_cli.command("enable")
@click.argument("email")
def enable_user(email: str) -> None:
    """Let a disabled user sign in again."""
    user = _user(email)
    _change(lambda: users.set_active(user, True, CLI_ACTOR), f"Enabled {user.email}.")


@users_cli.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(ROLES))
def set_role(email: str, role: str) -> None:
    """Change a user's role (their sessions end)."""
    user = _user(email)
    _change(lambda: users.set_role(user, role, CLI_ACTOR), f"{user.email} is now {role}.")


@users_cli.command("reset-password")
@click.argument("email")
def reset_password(email: str) -> None:
    """Give a user a one-time password (printed once) and end their sessions."""
    user = _user(email)
    one_time = users.reset_password(user, CLI_ACTOR)
    click.echo(
        f"One-time password for {user.email} (shown once, to be changed at sign-in): {one_time}"
    )


@provider_cli.command("configure")
@click.argument("environment", type=click.Choice(ENVIRONMENTS))
@click.option("--client-id", required=True)
@click.option("--client-secret-file", type=click.File("r"), required=True)
@click.option("--private-key-file", type=click.File("rb"), required=True)
def configure_provider(
    environment: str,
    client_id: str,
    client_secret_file: IO[str],
    private_key_file: IO[bytes],
) -> None:
    """Store an environment's client ID, client secret and private key (encrypted)."""
    try:
        row = provider_accounts.configure(
            environment,
            CLI_ACTOR,
            client_id=client_id,
            client_secret=client_secret_file.read().strip(),
            private_key_pem=private_key_file.read(),
        )
    except provider_accounts.ProviderError as error:
        fail(str(error))
    click.echo(
        f"Configured {environment}: client {row.client_id}, key {row.public_key_fingerprint}, "
        f"version {row.version}."
    )


@provider_cli.command("use")
@click.argument("environment", type=click.Choice(ENVIRONMENTS))
@click.option("--reason", default="", help="Why; kept in the audit log.")
def use_provider(environment: str, reason: str) -> None:
    """Make ENVIRONMENT the one that later sends use."""
    try:
        previous = environments.use_environment(environment, CLI_ACTOR, reason=reason)
    except provider_accounts.ProviderError as error:
        fail(str(error))
    click.echo(f"Active environment: {environment} (was {previous}).")


@provider_cli.command("test")
@click.argument("environment", type=click.Choice(ENVIRONMENTS))
def test_provider(environment: str) -> None:
    """Fetch a token from ENVIRONMENT and say whether it worked."""
    ok, words = provider_health.test_connection(environment, CLI_ACTOR)
    if not ok:
        fail(words)
    click.echo(words)


@audit_cli.command("verify")
@click.option(
    "--from-checkpoint",
    "anchor",
    metavar="SEQ:MAC",
    help="A checkpoint kept outside the database (`audit checkpoint` printed and logged it): "
    "event SEQ must still have that MAC, and the chain from it must hold.",
)
def verify_audit(anchor: str | None) -> None:
    """Check the audit log's MAC chain and its checkpoints; name the first problem."""
    if anchor is None:
        report = audit.verify_chain()
    else:
        sequence, _, mac = anchor.partition(":")
        if not sequence.isdigit() or len(mac) != 64:
            fail("--from-checkpoint takes SEQ:MAC, as `audit checkpoint` prints it.")
        report = audit.verify_from(int(sequence), mac.lower())
    if not report.intact:
        fail(f"Audit log broken at event {report.first_broken_id}: {report.problem}.")
    start = f" from event {anchor.partition(':')[0]}" if anchor else ""
    click.echo(
        f"Audit log intact: {report.checked} events checked{start}, up to event "
        f"{report.verified_to}."
    )


@audit_cli.command("checkpoint")
def checkpoint_audit() -> None:
    """Verify the log since the last checkpoint and record its head; print it (SEQ:MAC) to keep
    outside the database, for `audit verify --from-checkpoint SEQ:MAC`."""
    report = audit.checkpoint()
    if not report.intact:
        fail(f"Audit log broken at event {report.first_broken_id}: {report.problem}.")
    if not report.verified_to:
        fail("The audit log is empty: there is no event to anchor.")
    click.echo(f"audit checkpoint: {report.verified_to}:{report.verified_hash}")


@secrets_cli.command("rotate")
def rotate_secrets() -> None:
    """Re-encrypt every stored secret with the newest key; the older keys may then go."""
    try:
        count = key_rotation.rotate(CLI_ACTOR)
    except DecryptionError as error:
        fail(
            f"{error}. Keep every key that still encrypts something in "
            "DASHBOARD_ENCRYPTION_KEYS until the rotation has run; nothing was changed."
        )
    click.echo(f"Re-encrypted {count} value{'s' if count != 1 else ''} with the newest key.")


@attempts_cli.command("reconcile")
def reconcile_attempts() -> None:
    """Mark pending attempts whose send was interrupted as unknown (never sends)."""
    count = sending.reconcile_stale_attempts()
    click.echo(f"{count} interrupted attempt{'s' if count != 1 else ''} marked unknown.")


@attempts_cli.command("purge")
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=1),
    default=lambda: current_app.config["RETENTION_DAYS"],
    show_default="DASHBOARD_RETENTION_DAYS, 400",
    help="Delete attempts older than this many days.",
)
def purge_attempts(days: int) -> None:
    """Delete old attempts (audited); unresolved ones of the last 30 days are always kept."""
    count = retention.purge_older_than(days, CLI_ACTOR)
    click.echo(f"Deleted {count} attempt{'s' if count != 1 else ''} older than {days} days.")


@click.command("simulator")
@with_appcontext
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int)
def simulator_command(host: str, port: int) -> None:
    """Serve the RevenueMonster simulator (token, SMS, and its inbox at /_inbox)."""
    # A development tool: imported here, never by a web worker.
    from .revenuemonster.testing import serving, simulator

    clients_file = simulator_clients_file()
    click.echo(f"RevenueMonster simulator on http://{host}:{port} (clients: {clients_file})")
    serving.run(simulator.Simulator(clients_file=clients_file), host, port)


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Prepare a demo: users, and the sandbox pointed at the built-in simulator.

    Safe to run again: what exists is kept. The one-time passwords of new users come last,
    set off, so that they cannot be missed; they are never printed again."""
    if current_app.config["DASHBOARD_ENV"] == "production":
        fail(
            "demo creates users with well-known addresses and points the sandbox at the "
            "simulator: it refuses to run with DASHBOARD_ENV=production."
        )
    created: list[tuple[str, str, str]] = []
    for email, role, name in DEMO_USERS:
        if users.find_by_email(email) is None:
            _user, one_time = users.create_user(email, role, CLI_ACTOR, name=name)
            created.append((role, email, one_time or ""))  # always one: no password was given
    clients_file = simulator_clients_file()
    registered = json.loads(clients_file.read_text()) if clients_file.exists() else {}
    account = provider_accounts.account("sandbox")
    if account is None or account.client_id not in registered:
        private_key = keys.generate_private_key()
        secret = secrets.token_urlsafe(24)
        provider_accounts.configure(
            "sandbox",
            CLI_ACTOR,
            client_id=DEMO_CLIENT_ID,
            client_secret=secret,
            private_key_pem=keys.private_key_pem(private_key),
        )
        registered[DEMO_CLIENT_ID] = {
            "client_secret": secret,
            "public_key_pem": keys.public_key_pem(private_key).decode(),
        }
        _write_private(clients_file, json.dumps(registered, indent=2))
        click.echo(f"Configured sandbox with a new key pair ({keys.fingerprint(private_key)}).")
    else:
        click.echo(f"Sandbox already configured (client {account.client_id}).")
    if environments.active_environment() != "sandbox":
        environments.use_environment("sandbox", CLI_ACTOR, reason="demo")
    urls = current_app.config["RM_URLS"]["sandbox"]
    click.echo(f"Sandbox sends go to {urls['api']}.")
    _show_demo_users(created)


def _show_demo_users(created: list[tuple[str, str, str]]) -> None:
    rule = "=" * 72
    lines = ["", rule]
    if created:
        lines.append("  Sign in with these one-time passwords (shown only now; each person")
        lines.append("  chooses their own at the first sign-in):")
        lines.append("")
        width = max(len(email) for _, email, _ in created)
        lines += [
            f"    {email:<{width}}  {password}   ({role})" for role, email, password in created
        ]
    else:
        lines.append("  The demo users exist already. To sign in again, give one a new")
        lines.append("  one-time password:")
        lines.append("")
        lines += [
            f"    flask --app dashboard users reset-password {email}" for email, _, _ in DEMO_USERS
        ]
    lines += [rule, ""]
    click.echo("\n".join(lines))


def simulator_clients_file() -> Path:
    return Path(current_app.instance_path) / SIMULATOR_CLIENTS_FILE


def _write_private(path: Path, content: str) -> None:
    """Write a file only its owner can read, atomically (the simulator may be reading it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    os.replace(partial, path)
