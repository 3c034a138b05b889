"""The simulator's inbox page: the accepted messages as an HTML table, and its CSP."""

from __future__ import annotations

import base64
import hashlib
import html

from werkzeug.wrappers import Request, Response

from .protocol import json_response

_INBOX_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem}"
    "table{border-collapse:collapse}"
    "th,td{border:1px solid #888;padding:.3rem .6rem;text-align:left;vertical-align:top}"
    "td.message{white-space:pre-wrap}"
)
_INBOX_CSP = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(_INBOX_STYLE.encode()).digest()).decode()
    + "'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def inbox_response(request: Request, messages: list[dict[str, str]]) -> Response:
    """The messages, newest first, as JSON or, for a browser, as an HTML page."""
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    if best == "text/html":
        response = Response(_inbox_html(messages), 200, content_type="text/html; charset=utf-8")
        response.headers["Content-Security-Policy"] = _INBOX_CSP
    else:
        response = json_response(200, messages)
    response.headers["Vary"] = "Accept"
    return response


def _inbox_html(messages: list[dict[str, str]]) -> str:
    rows = "".join(
        "<tr>"
        f"<td>{html.escape(item['received_at'])}</td>"
        f"<td>{html.escape(item['client_id'])}</td>"
        f"<td>+{html.escape(item['country_code'])} {html.escape(item['phone_number'])}</td>"
        f"<td>{html.escape(item['type'])}</td>"
        f'<td class="message">{html.escape(item["message"])}</td>'
        "</tr>"
        for item in messages
    )
    if not rows:
        rows = '<tr><td colspan="5">No messages yet.</td></tr>'
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>RevenueMonster simulator inbox</title>"
        f"<style>{_INBOX_STYLE}</style></head><body>"
        "<h1>RevenueMonster simulator inbox</h1>"
        f"<p>{len(messages)} accepted message(s), newest first. Nothing here left this machine.</p>"
        "<table><thead><tr>"
        '<th scope="col">Received (UTC)</th><th scope="col">Client</th><th scope="col">To</th>'
        '<th scope="col">Type</th><th scope="col">Message</th>'
        f"</tr></thead><tbody>{rows}</tbody></table></body></html>"
    )
