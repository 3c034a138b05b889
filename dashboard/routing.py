"""URL converters: what a path may hold, refused with a 404 before any view or query runs."""

from __future__ import annotations

from flask.sansio.app import App
from werkzeug.routing import IntegerConverter, Map

#: The largest id of a row: a BigInteger on PostgreSQL, an INTEGER on SQLite (both 64 bits).
MAX_ID = 2**63 - 1


class IdConverter(IntegerConverter):
    """``<id:name>``: a row id, 1 to MAX_ID. Any other number is no row, so a 404; left to the
    database, one beyond 64 bits is an error on PostgreSQL (a 500), not "nothing there"."""

    def __init__(self, map: Map) -> None:
        super().__init__(map, min=1, max=MAX_ID)


def init_app(app: App) -> None:
    """Make the converters known to ``app``'s routes: before the blueprints are registered."""
    app.url_map.converters.setdefault("id", IdConverter)
