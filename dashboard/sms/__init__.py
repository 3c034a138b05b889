"""Sending a verification code and reading the result."""

from flask import Blueprint

bp = Blueprint("sms", __name__)

from . import views  # noqa: E402,F401
