"""rm-sms-dashboard: support staff send verification codes by SMS through RevenueMonster."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from . import routing

PACKAGE = Path(__file__).resolve().parent


def bundled(name: str) -> Path:
    """The folder ``templates``, ``static`` or ``migrations``: inside the installed package,
    where the wheel ships them, or at the top of a source checkout, where they are kept."""
    inside = PACKAGE / name
    return inside if inside.is_dir() else PACKAGE.parent / name


def create_app(test_config: Mapping[str, Any] | None = None, *, migrations: bool = True) -> Flask:
    """Build the application: config, extensions, blueprints, templating, error pages, commands.

    Without ``test_config`` the settings come from the ``DASHBOARD_*`` environment variables;
    with it they come from that mapping alone, so a developer's environment never leaks into
    the tests. The web server passes ``migrations=False``: Alembic, which only the ``flask db``
    commands use, would add to every worker's memory (docs/performance.md).

    The instance folder (development's SQLite file and generated secrets; production needs
    none) is ``DASHBOARD_INSTANCE_PATH``, else Flask's choice: ``instance/`` beside the package
    in a source checkout, ``<virtualenv>/var/dashboard-instance`` for an installed wheel.
    """
    instance_path = (test_config or {}).get("INSTANCE_PATH") or os.environ.get(
        "DASHBOARD_INSTANCE_PATH"
    )
    app = Flask(
        __name__,
        instance_path=os.path.abspath(instance_path) if instance_path else None,
        template_folder=str(bundled("templates")),
        static_folder=str(bundled("static")),
    )
    configure(app, test_config)
    trust_proxies(app)
    register_extensions(app)
    if migrations:
        register_migrations(app)
    routing.init_app(app)  # the converters, before the routes that use them
    register_blueprints(app)
    register_readiness(app)
    register_templating(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def configure(app: Flask, test_config: Mapping[str, Any] | None) -> None:
    from . import config

    given = config.from_environment(os.environ) if test_config is None else test_config
    app.config.from_mapping(config.resolve(given, app.instance_path))


def trust_proxies(app: Flask) -> None:
    """Behind ``DASHBOARD_PROXY_COUNT`` reverse proxies, take the client's address, scheme and
    host from the ``X-Forwarded-*`` headers those proxies set, and from nothing else."""
    count = app.config["PROXY_COUNT"]
    if count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=count, x_proto=count, x_host=count
        )


def register_extensions(app: Flask) -> None:
    from . import logs, security
    from .extensions import bootstrap, configure_sqlite, csrf, db, limiter, login_manager
    from .services import single_sign_on

    db.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    bootstrap.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
    logs.init_app(app)
    limiter.init_app(app)
    security.init_app(app)
    single_sign_on.init_app(app)  # the identity provider's client (authlib), when configured


def register_migrations(app: Flask) -> None:
    """Flask-Migrate (Alembic) for the ``flask db`` commands and the tests."""
    from flask_migrate import Migrate

    from .database import include_in_migrations
    from .extensions import db

    Migrate(
        app,
        db,
        directory=str(bundled("migrations")),
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


def register_readiness(app: Flask) -> None:
    """/readyz compares the database with the migration scripts, read once here."""
    from .services import readiness

    readiness.init_app(app, bundled("migrations"))


def register_templating(app: Flask) -> None:
    from .templating import init_app

    init_app(app)


def register_errorhandlers(app: Flask) -> None:
    from .errors import init_app

    init_app(app)


def register_commands(app: Flask) -> None:
    from .cli import init_app

    init_app(app)
