"""Opaque, signed page cursors: a keyset position that cannot be edited into another one."""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer


class BadCursor(ValueError):
    """A page link that was not made here (edited, or from another deployment)."""


def make(last_id: int, *, kind: str) -> str:
    return _serializer(kind).dumps(last_id)


def read(cursor: str, *, kind: str) -> int:
    try:
        value = _serializer(kind).loads(cursor)
    except BadSignature:
        raise BadCursor("That page link is not valid.") from None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadCursor("That page link is not valid.")
    return value


def _serializer(kind: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"{kind} cursor")
