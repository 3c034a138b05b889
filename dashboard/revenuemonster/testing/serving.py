"""Serving the simulator: from a daemon thread for tests, or in the foreground for people."""

from __future__ import annotations

import logging
import ssl
import threading
from typing import TYPE_CHECKING

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from .simulator import Simulator

logger = logging.getLogger(__name__)


class _QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without the per-request access log line."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def _base_url(host: str, port: int, scheme: str = "http") -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def serve_in_thread(
    simulator: Simulator,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_context: ssl.SSLContext | None = None,
) -> tuple[BaseWSGIServer, str]:
    """Serve the simulator from a daemon thread; return the server (call ``.shutdown()``) and
    its base URL. ``port=0`` picks a free port; with ``ssl_context`` it serves HTTPS, as a
    production configuration requires."""
    server = make_server(
        host,
        port,
        simulator,
        threaded=True,
        request_handler=_QuietRequestHandler,
        ssl_context=ssl_context,
    )
    thread = threading.Thread(target=server.serve_forever, name="rm-simulator", daemon=True)
    thread.start()
    return server, _base_url(host, server.server_port, "https" if ssl_context else "http")


class _PlainRequestHandler(WSGIRequestHandler):
    """Werkzeug's access log line without its terminal colours (they would land in log files)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.log("info", '"%s" %s %s', self.requestline, code, size)


def run(simulator: Simulator, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the simulator in the foreground until interrupted."""
    server = make_server(host, port, simulator, threaded=True, request_handler=_PlainRequestHandler)
    logger.info("RevenueMonster simulator listening on %s", _base_url(host, server.server_port))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
