"""Opaque, signed page cursors: a keyset position that cannot be edited into another one."""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer


class BadCursor(ValueError):
    """A page link that was not made here (edited, or from another deployment)."""


def make(last_id: int, *extra: int, kind: str, secret: str) -> str:
    """A cursor for the rows after ``last_id``, carrying ``extra`` numbers along, signed with
    ``secret`` (the app's secret key)."""
    return _serializer(kind, secret).dumps([last_id, *extra])


def read(cursor: str, *, kind: str, secret: str, size: int = 1) -> list[int]:
    """The ``size`` numbers a cursor of ``kind`` carries: a row id (>= 1), then the extras."""
    try:
        values = _serializer(kind, secret).loads(cursor)
    except BadSignature:
        raise BadCursor("That page link is not valid.") from None
    if (
        not isinstance(values, list)
        or len(values) != size
        or not all(type(v) is int and v >= 0 for v in values)
        or values[0] < 1
    ):
        raise BadCursor("That page link is not valid.")
    return values


def _serializer(kind: str, secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=f"{kind} cursor")
