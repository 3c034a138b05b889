"""Who may see what: sign-in required by default, role checks, session limits, fresh sign-in
for sensitive actions, and the security headers of every response."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from werkzeug.exceptions import BadRequest

from .domain.capabilities import Capability
from .extensions import db, login_manager
from .models import User
from .services import audit, send_drafts, single_sign_on, users

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

#: Files anyone may fetch: our own and Bootstrap's.
STATIC_ENDPOINTS = frozenset({"static", "bootstrap.static"})
#: Endpoints open without signing in; everything else needs a signed-in user. The machines'
#: endpoints (main.views) are among them: /metrics asks for a token of its own.
PUBLIC_ENDPOINTS = (
    frozenset({"auth.login", "auth.second_step", "main.healthz", "main.readyz", "main.metrics"})
    | {"auth.sso_start", "auth.sso_callback"}  # single sign-on's way there and back
    # Passkeys: a challenge, signing in with one, and a passkey as the second step.
    | {"auth.passkey_options", "auth.passkey_sign_in", "auth.passkey_second_step"}
    | STATIC_ENDPOINTS
)
#: What a user who must first change a one-time password, or enrol in two-step, may reach.
SETUP_ENDPOINTS = frozenset(
    {
        "auth.change_password",
        "auth.two_step_setup",
        "auth.two_step_start",
        "auth.two_step_qr",
        "auth.reauthenticate",  # set-up asks for it too, when the sign-in is not fresh
        "auth.logout",
        # A passkey is enrolment too (and what "admins must use a passkey" sends them to add).
        "auth.passkeys",
        "auth.passkey_add_options",
        "auth.passkey_add",
        "auth.passkey_options",
        "auth.passkey_confirm",
    }
)

#: Methods that change nothing (CS-2: no state changes over GET).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

IDLE_TIMEOUT_SECONDS = 30 * 60
ABSOLUTE_TIMEOUT_SECONDS = 12 * 60 * 60
#: The idle clock is moved on at most this often: re-signing the session cookie on every
#: request would cost more than the precision is worth.
SEEN_RESOLUTION_SECONDS = 60

#: Links to other sites carry no Referer (search URLs hold phone numbers); requests to this
#: site do, which Flask-WTF's CSRF check over HTTPS requires (SECURITY notes in the README).
REFERRER_POLICY = "same-origin"
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
    app.before_request(refuse_nul_bytes)
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


def start_session(user: User, *, logout_hint: str | None = None) -> None:
    """Sign ``user`` in with a brand-new session: nothing from before carries over (the CSRF
    token included), and the clocks of the session limits start now. ``logout_hint`` marks a
    sign-in through the identity provider (single_sign_on.SIGNED_IN_WITH), so that signing
    out ends the session there too."""
    session.clear()
    login_user(user)
    now = time.time()
    session["signed_in_at"] = session["seen_at"] = session["fresh_at"] = now
    if logout_hint is not None:
        session[single_sign_on.SIGNED_IN_WITH] = logout_hint


def restart_session(user: User) -> None:
    """Start ``user``'s session again after a change that ended their others (a new password,
    two-step sign-in turned on): still the same sign-in, to be ended at the provider too."""
    hint = session.get(single_sign_on.SIGNED_IN_WITH)
    start_session(user, logout_hint=hint if isinstance(hint, str) else None)


#: Who the session belonged to, kept in the new, empty session when it ends (an integer, in
#: the signed cookie): a send form posted after that comes back to them, and only them.
SIGNED_OUT_USER = "signed_out_user"


def end_session() -> None:
    owner = session_owner()
    logout_user()
    session.clear()
    if owner is not None:
        session[SIGNED_OUT_USER] = owner


def session_owner() -> int | None:
    """The user this browser's session is, or was, of: signed in; or whose sign-in was ended
    elsewhere (the cookie still names them: ``_user_id`` is ``"<id>:<session version>"``); or
    who signed out here. Read from the signed session cookie only, which no one else can
    write: never from what a request says."""
    if current_user.is_authenticated:
        return int(current_user.id)
    ended = str(session.get("_user_id") or "").partition(":")[0]
    if ended.isdigit():
        return int(ended)
    owner = session.get(SIGNED_OUT_USER)
    return owner if isinstance(owner, int) else None


def mark_fresh() -> None:
    """The user just proved who they are again (password, and second step where it is on)."""
    session["fresh_at"] = time.time()


def is_fresh() -> bool:
    """Whether the last proof of identity is within ``DASHBOARD_FRESH_SIGN_IN_MINUTES``."""
    window = current_app.config["FRESH_SIGN_IN_MINUTES"] * 60
    return time.time() - session.get("fresh_at", 0) <= window


def refuse_nul_bytes() -> None:
    """No field or parameter legitimately holds a NUL byte, and PostgreSQL cannot store one:
    refuse such a request with a clear 400 instead of failing deeper down."""
    values = [*request.args.values(), *request.form.values()]
    if any("\x00" in value for value in values):
        raise BadRequest("The request contained a character that is not allowed (a NUL byte).")


def require_sign_in() -> Any:
    """Deny by default: every endpoint but the public ones needs a signed-in user whose session
    is within its idle and absolute limits and whose account set-up is complete."""
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return None
    if not current_user.is_authenticated:
        kept = keep_send_form(send_drafts.SIGNED_OUT)  # its session was ended elsewhere
        return kept or login_manager.unauthorized()
    now = time.time()
    too_old = now - session.get("signed_in_at", 0) > ABSOLUTE_TIMEOUT_SECONDS
    too_idle = now - session.get("seen_at", 0) > IDLE_TIMEOUT_SECONDS
    if too_old or too_idle:
        end_session()
        kept = keep_send_form(send_drafts.SIGNED_OUT)
        if kept is not None:
            return kept
        flash("Your session expired. Please sign in again.", "info")
        back = request.full_path if request.method == "GET" else None
        return redirect(url_for("auth.login", next=back))
    if now - session.get("seen_at", 0) > SEEN_RESOLUTION_SECONDS:
        session["seen_at"] = now
    if request.endpoint not in SETUP_ENDPOINTS:
        if current_user.must_change_password:
            return redirect(url_for("auth.change_password"))
        if users.two_step_required(current_user) and not current_user.two_step_enabled:
            return redirect(url_for("auth.two_step_setup"))
    return None


def requires(capability: Capability) -> Callable[[F], F]:
    """Let only users whose role has ``capability`` through; others get 403, logged and audited.

    The capability is kept on the view (``capability``), so the navigation shows each person
    only what they may use from the same table (domain.capabilities)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.may(capability):
                deny()
            return view(*args, **kwargs)

        wrapped.capability = capability  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def deny() -> None:
    """Refuse the request with 403, after logging and auditing who tried what."""
    log.warning(
        "authz.denied",
        extra={"user_id": current_user.id, "endpoint": request.endpoint, "method": request.method},
    )
    audit.log("access.denied", current_user, target=request.path[:254], method=request.method)
    abort(403)


def fresh_sign_in_required(change: str, *, back: str) -> Callable[[F], F]:
    """Sensitive actions need a sign-in (or a re-confirmation) within the fresh sign-in window;
    otherwise nothing is done and the person is asked to confirm it is them.

    ``change`` names the action on the confirmation page ("switch the environment"); ``back``
    is the endpoint of the page its form is on, which the confirmation returns to (with the
    view arguments that endpoint takes). Both travel explicitly, never from a Referer that a
    browser may leave out, and the page names the change from here, never from the URL.

    Only changes are guarded: a view that also shows its form (GET) shows it to anyone who may
    use it. ``tests/security/test_sec_fresh_sign_in.py`` holds every POST route to a decision."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if request.method not in SAFE_METHODS and not is_fresh():
                return redirect(
                    url_for("auth.reauthenticate", change=request.endpoint, next=return_to(back))
                )
            return view(*args, **kwargs)

        wrapped.fresh_change = change  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def return_to(endpoint: str) -> str:
    """The URL of ``endpoint`` with those of this request's view arguments that it takes."""
    view_args = request.view_args or {}
    taken = {name for rule in current_app.url_map.iter_rules(endpoint) for name in rule.arguments}
    return url_for(endpoint, **{k: v for k, v in view_args.items() if k in taken})


def change_named(endpoint: str | None) -> str | None:
    """What the view at ``endpoint`` changes, if it asks for a fresh sign-in and the signed-in
    user may use it."""
    view = current_app.view_functions.get(endpoint or "")
    if view is None or not may_use(current_user, endpoint or ""):
        return None
    return getattr(view, "fresh_change", None)


def may_use(user: Any, endpoint: str) -> bool:
    """Whether ``user`` may open ``endpoint`` (which every signed-in user may, unless its view
    requires a capability)."""
    view = current_app.view_functions.get(endpoint)
    if view is None or not user.is_authenticated:
        return False
    capability = getattr(view, "capability", None)
    return capability is None or user.may(capability)


def local_path(target: str | None) -> str | None:
    """``target`` as a path on this site, or None: never another origin (no open redirect).
    An absolute URL of this very host (a Referer) is reduced to its path."""
    if not target:
        return None
    parts = urlsplit(target)
    if (parts.scheme or parts.netloc) and parts.netloc != request.host:
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return None
    return path


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site, else the start page."""
    return local_path(target) or url_for("main.index")


def content_security_policy() -> str:
    """The policy of every page. With single sign-on the sign-in and sign-out forms lead to
    the identity provider (a redirect, which browsers hold to ``form-action`` too), so its
    origin is allowed there as well."""
    sso = current_app.config.get("OIDC")
    if sso is None:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'", f"form-action 'self' {sso.origin}")


def set_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy())
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", REFERRER_POLICY)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config["DASHBOARD_ENV"] == "production":
        headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
    if request.endpoint not in STATIC_ENDPOINTS:
        headers["Cache-Control"] = "no-store"
    return response


def _send_form_from_this_site() -> bool:
    """A send form posted from one of our own pages, with a token (expired, or of a session
    that ended): the form an agent filled in. A post from another site (its Origin, or
    without one its Referer, says so) or without any token is refused as ever, so that no
    other site can fill in an agent's send form for them."""
    if request.endpoint != "sms.send" or request.method != "POST":
        return False
    if not request.form.get("csrf_token"):
        return False
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin == request.host_url.rstrip("/")
    return local_path(request.referrer) is not None


def keep_send_form(why: str) -> Any:
    """The send form could not be taken: its session ended (signed out in another tab or
    device, idle or too old) or the form's token expired. Nothing is sent; what was typed is
    sealed into the address of the send form (services.send_drafts) for the session's owner,
    through the sign-in when the session is gone, so they find it again and send it with a
    fresh click. None when this is no such form, or the browser's session names no one:
    a draft without an owner would open for anyone, so a form posted by a client that was
    never signed in (it may say any Origin) fills in nobody's send form."""
    owner = session_owner()
    if owner is None or not _send_form_from_this_site():
        return None
    draft = send_drafts.seal(request.form, user_id=owner, why=why)
    back = url_for("sms.send", draft=draft)
    if why == send_drafts.FORM_EXPIRED:
        return redirect(back, 303)
    flash(send_drafts.SIGN_IN_NOTICE, "info")
    return redirect(url_for("auth.login", next=back), 303)
