"""Logs (SECURITY.md A9: LG-3, LG-5): JSON lines with a request id, no forged lines, and an
error page with a reference instead of a traceback."""

from __future__ import annotations

import json
import logging

from support import sign_in

from dashboard.logs import JSONFormatter


def test_LG3_a_line_break_in_a_value_stays_on_one_line(app, client, caplog):
    with caplog.at_level(logging.WARNING):
        sign_in(client, 'evil\n{"level": "INFO"}@example.com', "whatever password")
    record = next(r for r in caplog.records if r.getMessage() == "auth.failure")
    line = JSONFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["event"] == "auth.failure" and entry["level"] == "WARNING"
    assert entry["email"].startswith("unknown account ")  # what was typed is not kept


def test_every_answer_carries_a_request_id_and_the_logs_too(app, client, caplog):
    with caplog.at_level(logging.WARNING):
        response = client.get("/login", headers={"X-Request-ID": "proxy-given-1234"})
        sign_in(client, "nobody@example.com", "whatever password")
    assert response.headers["X-Request-ID"] == "proxy-given-1234"
    assert (
        len(
            client.get("/login", headers={"X-Request-ID": "bad id <script>"}).headers[
                "X-Request-ID"
            ]
        )
        == 32
    )
    with app.test_request_context(headers={"X-Request-ID": "req-abcdef12"}):
        app.preprocess_request()
        record = logging.makeLogRecord({"msg": "x", "levelname": "INFO"})
        assert json.loads(JSONFormatter().format(record))["request_id"] == "req-abcdef12"


def test_LG5_an_unexpected_error_shows_a_reference_not_a_traceback(
    app, make_user, client, monkeypatch
):
    from dashboard.services import history

    make_user("agent@example.com", "support")
    sign_in(client, "agent@example.com")

    def broken(*args, **kwargs):
        raise RuntimeError("database exploded with secret details")

    monkeypatch.setattr(history, "search", broken)
    response = client.get("/history")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] in page
    assert "Traceback" not in page and "secret details" not in page
    assert app.debug is False
