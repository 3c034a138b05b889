"""Security headers on every response, found by walking every GET route of the app."""

from __future__ import annotations

import pytest
from support import routes, sign_in


def check_headers(response, endpoint):
    csp = dict(
        part.strip().split(" ", 1)
        for part in response.headers["Content-Security-Policy"].split(";")
    )
    assert csp["default-src"] == "'self'"
    assert csp["object-src"] == "'none'"
    assert csp["base-uri"] == "'none'"
    assert csp["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp.get("script-src", csp["default-src"])
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # Other sites get no Referer (search URLs hold numbers); this one does, for CSRF over HTTPS.
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Server" not in response.headers or "Werkzeug" not in response.headers["Server"]
    if endpoint not in ("static", "bootstrap.static"):
        assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "admin"])
def test_every_get_route_sends_the_security_headers(app, client, make_user, signed_in):
    if signed_in:
        make_user("admin@example.com", "admin")
        sign_in(client, "admin@example.com")
    checked = 0
    for endpoint, url in routes(app, "GET"):
        response = client.get(url)
        assert response.status_code < 500, url
        check_headers(response, endpoint)
        checked += 1
    assert checked >= 7


def test_error_pages_send_them_too(app, client):
    for url, endpoint in (("/no-such-page", None), ("/static/no-such-file.css", "static")):
        response = client.get(url)
        assert response.status_code == 404
        check_headers(response, endpoint)


def test_hsts_in_production_only(app, client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    app.config["DASHBOARD_ENV"] = "production"
    hsts = client.get("/login").headers["Strict-Transport-Security"]
    assert int(hsts.split("max-age=")[1].split(";")[0]) >= 31536000
