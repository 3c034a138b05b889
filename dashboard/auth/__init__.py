"""Signing in and out (a password, single sign-on, a passkey), the second step, changing one's
password, and one's passkeys."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from . import passkeys, single_sign_on, views  # noqa: E402,F401
