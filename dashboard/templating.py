"""What every template may use: the active environment, status words, time formatting."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from .auth.forms import SignOutForm
from .extensions import db
from .services import provider_settings


def init_app(app: Flask) -> None:
    app.context_processor(common_context)
    app.add_template_filter(utc_time)


def common_context() -> dict[str, Any]:
    if not current_user.is_authenticated:
        return {}
    try:
        environment = provider_settings.active_environment()
    except SQLAlchemyError:  # an error page must still render when the database is down
        db.session.rollback()
        environment = "unknown"
    return {"active_environment": environment, "sign_out_form": SignOutForm()}


def utc_time(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""
