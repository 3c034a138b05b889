"""CSRF and method discipline (SECURITY.md A4: CS-1, CS-2), over every rule of the app."""

from __future__ import annotations

from sqlalchemy import text
from support import csrf_token, routes, sign_in

from dashboard.extensions import db

#: Requests that end the session: made last.
SESSION_ENDING = ("auth.logout", "auth.sign_out_everywhere")


def post_routes(app):
    found = sorted(routes(app, "POST"), key=lambda route: route[0] in SESSION_ENDING)
    assert {endpoint for endpoint, _ in found} >= {"auth.login", "auth.logout", "sms.send"}
    return found


def test_CS1_every_post_needs_a_csrf_token(app, client, make_user):
    make_user("target@example.com", "support")
    make_user("boss@example.com", "admin")
    sign_in(client, "boss@example.com")
    for endpoint, url in post_routes(app):
        response = client.post(url, data={})
        assert response.status_code == 400, endpoint
        assert "security token" in response.get_data(as_text=True), endpoint
    assert client.get("/account").status_code == 200  # and nothing was done: still signed in


def test_CS1_with_the_token_every_post_is_answered(app, client, make_user):
    make_user("target@example.com", "support")  # user 1: what the admin actions change
    make_user("boss@example.com", "admin")
    make_user("leaver@example.com", "support")
    sign_in(client, "boss@example.com")
    token = csrf_token(client.get("/account").get_data(as_text=True))
    for endpoint, url in post_routes(app):
        if endpoint in SESSION_ENDING:  # each on a session of its own
            client = app.test_client()
            sign_in(client, "leaver@example.com")
            token = csrf_token(client.get("/account").get_data(as_text=True))
        response = client.post(url, data={"csrf_token": token})
        # Past the CSRF check: answered, redirected, refused for its (empty) form, or (with
        # placeholder ids) not found; never refused for want of a token.
        assert response.status_code in (200, 302, 400, 404), endpoint
        assert "security token" not in response.get_data(as_text=True), endpoint


def test_CS1_sign_in_itself_needs_the_token(app, client, make_user):
    make_user("agent@example.com", "support")
    response = client.post("/login", data={"email": "agent@example.com", "password": "x" * 20})
    assert response.status_code == 400


def table_counts(app) -> dict[str, object]:
    with app.app_context():
        tables = db.metadata.sorted_tables
        return {
            table.name: db.session.execute(text(f"SELECT * FROM {table.name}")).all()  # noqa: S608
            for table in tables
            if table.name != "sign_in_throttles"
        }


def test_CS2_no_get_changes_anything(app, client, make_user):
    make_user("target@example.com", "support")
    make_user("boss@example.com", "admin")
    sign_in(client, "boss@example.com")
    before = table_counts(app)
    visited = 0
    for endpoint, url in routes(app, "GET"):
        client.get(url)
        visited += 1
    after = table_counts(app)
    assert visited >= 15
    for table in before:
        assert before[table] == after[table], table
