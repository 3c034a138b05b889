"""What one send costs the database: statements and transactions of the POST and its result
page (issue 18), on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from test_send import send, send_form

from dashboard.extensions import db


@contextmanager
def statements(app) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        seen.append(" ".join(statement.split()))

    def begin(conn):  # noqa: ANN001
        seen.append("BEGIN")

    def commit(conn):  # noqa: ANN001
        seen.append("COMMIT")

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    event.listen(engine, "begin", begin)
    event.listen(engine, "commit", commit)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
        event.remove(engine, "begin", begin)
        event.remove(engine, "commit", commit)


def test_a_send_is_two_short_write_transactions_and_reads_nothing_twice(
    app, support, sandbox, simulator
):
    """The lean send path (issue 18): one transaction records the pending attempt, code hash
    included, after one limit statement; one UPDATE records the outcome; the attempt is never
    read back, and the provider's token comes from the worker's memory."""
    send(support, phone_number="012-345 6789")  # the first send fetches and stores the token
    form = send_form(support, phone_number="012-345 6790")
    with statements(app) as post:
        response = support.post("/send", data=form)
    assert response.status_code == 302
    assert post.count("COMMIT") == 2
    writes = [s for s in post if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert [w.split()[:3] for w in writes] == [
        ["INSERT", "INTO", "attempts"],
        ["UPDATE", "attempts", "SET"],
    ]
    insert = post.index(writes[0])
    assert not any(s.startswith("SELECT attempts.") for s in post[insert:])  # no reloads
    assert not any("FROM provider_tokens" in s for s in post)
    assert sum("FROM attempts" in s for s in post) == 2  # the form's key, the limits
    assert sum("pg_advisory_xact_lock" in s for s in post) <= 1  # every lock in one
    with statements(app) as page:
        assert support.get(response.headers["Location"]).status_code == 200
    assert page.count("COMMIT") == 0  # the result page writes nothing
