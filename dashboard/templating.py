"""What every template may use: the navigation, the active environment, time formatting."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from .auth.forms import SignOutForm
from .extensions import db
from .security import may_use
from .services import provider_settings
from .services.messages import GSM7_BASIC, GSM7_EXTENSION

#: The top navigation, in order. Each person sees the entries whose pages exist and that their
#: role may open (the roles are those the views themselves enforce).
NAVIGATION = (
    ("Send code", "sms.send"),
    ("History", "history.index"),
    ("Check a code", "sms.check"),
    ("Audit log", "audit.index"),
    ("Admin", "admin.index"),
)
PRODUCT_NAME = "RM SMS Dashboard"


def init_app(app: Flask) -> None:
    app.context_processor(common_context)
    app.add_template_filter(utc_time)


def common_context() -> dict[str, Any]:
    context: dict[str, Any] = {
        "product_name": PRODUCT_NAME,
        "gsm7_basic": GSM7_BASIC,
        "gsm7_extension": GSM7_EXTENSION,
    }
    try:
        context["active_environment"] = provider_settings.active_environment()
    except SQLAlchemyError:  # an error page must still render when the database is down
        db.session.rollback()
        context["active_environment"] = "unknown"
    if not current_user.is_authenticated:
        return context
    return {
        **context,
        "navigation": [(label, ep) for label, ep in NAVIGATION if may_use(current_user, ep)],
        "sign_out_form": SignOutForm(),
    }


def utc_time(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""
