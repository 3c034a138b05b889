"""Who may see what: sign-in required by default, role checks, and security headers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Response, abort, current_app, redirect, request, url_for
from flask_login import current_user

from .extensions import db, login_manager
from .models import User

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

#: Files anyone may fetch: our own and Bootstrap's.
STATIC_ENDPOINTS = frozenset({"static", "bootstrap.static"})
#: Endpoints open without signing in; everything else needs a signed-in user.
PUBLIC_ENDPOINTS = frozenset({"auth.login", "main.healthz"}) | STATIC_ENDPOINTS
#: What a user who still has a one-time password may reach.
PASSWORD_CHANGE_ENDPOINTS = frozenset({"auth.change_password", "auth.logout"})

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_user)
    app.before_request(require_sign_in)
    app.after_request(set_security_headers)


def load_user(session_id: str) -> User | None:
    """Find the user of a session id ``"<id>:<session version>"``; an old version is refused."""
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != version:
        return None
    return user


def require_sign_in() -> Any:
    """Deny by default: every endpoint but the public ones needs a signed-in user."""
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.must_change_password and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
        return redirect(url_for("auth.change_password"))
    return None


def roles_required(*roles: str) -> Callable[[F], F]:
    """Let only users with one of ``roles`` through; others get 403, logged.

    The roles are kept on the view (``allowed_roles``), so the navigation can show each person
    only what they may use without a second list of who may do what."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_role(*roles):
                log.warning(
                    "authz.denied",
                    extra={"user_id": current_user.id, "endpoint": request.endpoint},
                )
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = frozenset(roles)  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def may_use(user: Any, endpoint: str) -> bool:
    """Whether ``user`` may open ``endpoint`` (which every signed-in user may, unless its view
    names roles)."""
    view = current_app.view_functions.get(endpoint)
    if view is None or not user.is_authenticated:
        return False
    roles = getattr(view, "allowed_roles", None)
    return roles is None or user.role in roles


def set_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config["DASHBOARD_ENV"] == "production":
        headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
    if request.endpoint not in STATIC_ENDPOINTS:
        headers["Cache-Control"] = "no-store"
    return response
