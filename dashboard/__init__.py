"""rm-sms-dashboard: support staff send verification codes by SMS through RevenueMonster."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: Mapping[str, Any] | None = None, *, migrations: bool = True) -> Flask:
    """Build the application: config, extensions, blueprints, templating, error pages, commands.

    Without ``test_config`` the settings come from the ``DASHBOARD_*`` environment variables;
    with it they come from that mapping alone, so a developer's environment never leaks into
    the tests. The web server passes ``migrations=False``: Alembic, which only the ``flask db``
    commands use, would add 11 MiB to every worker.
    """
    instance_path = (test_config or {}).get("INSTANCE_PATH") or os.environ.get(
        "DASHBOARD_INSTANCE_PATH", str(ROOT / "instance")
    )
    app = Flask(
        __name__,
        instance_path=instance_path,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    configure(app, test_config)
    register_extensions(app)
    if migrations:
        register_migrations(app)
    register_blueprints(app)
    register_templating(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def configure(app: Flask, test_config: Mapping[str, Any] | None) -> None:
    from . import config

    given = config.from_environment(os.environ) if test_config is None else test_config
    app.config.from_mapping(config.resolve(given, app.instance_path))


def register_extensions(app: Flask) -> None:
    from . import logs, security
    from .extensions import bootstrap, configure_sqlite, csrf, db, login_manager

    db.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    bootstrap.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
    logs.init_app(app)
    security.init_app(app)


def register_migrations(app: Flask) -> None:
    """Flask-Migrate (Alembic) for the ``flask db`` commands and the tests."""
    from flask_migrate import Migrate

    from .database import include_in_migrations
    from .extensions import db

    Migrate(
        app,
        db,
        directory=str(ROOT / "migrations"),
        render_as_batch=True,
        compare_type=True,
        include_object=include_in_migrations,
    )


def register_blueprints(app: Flask) -> None:
    from .admin import bp as admin_bp
    from .audit_log import bp as audit_bp
    from .auth import bp as auth_bp
    from .history import bp as history_bp
    from .main import bp as main_bp
    from .sms import bp as sms_bp

    for blueprint in (main_bp, auth_bp, sms_bp, history_bp, audit_bp, admin_bp):
        app.register_blueprint(blueprint)


def register_templating(app: Flask) -> None:
    from .templating import init_app

    init_app(app)


def register_errorhandlers(app: Flask) -> None:
    from .errors import init_app

    init_app(app)


def register_commands(app: Flask) -> None:
    from .cli import init_app

    init_app(app)
