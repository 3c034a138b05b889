"""Administration: users and run-time settings (admins only)."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from . import provider, views  # noqa: E402,F401
