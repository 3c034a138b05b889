"""No 500 on any input (SECURITY.md A6: IV-2, and DESIGN's quality bar): every GET route's
query parameters and every form's fields, driven by Hypothesis with huge, negative, NUL,
out-of-range and mixed-script values, for each role. A refusal is a 4xx with a message; a 5xx
(or an exception, which the test client raises) fails."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import csrf_token, sign_in
from werkzeug.routing import IntegerConverter
from wtforms.fields.core import UnboundField

import dashboard

#: Routes that would end the session under test, or that a signed-in user never reaches.
SKIPPED = {
    "static",
    "bootstrap.static",
    "auth.logout",
    "auth.sign_out_everywhere",
    "auth.login",
    "auth.second_step",
}
ZONES = ["UTC", "Pacific/Kiritimati", "Etc/GMT-14", "America/Adak", "Asia%2FKuala_Lumpur", "x/.."]
TRICKY = [
    "9999-12-31",
    "0001-01-01",
    "2026-02-30",
    "10000-01-01",
    "-1",
    "0",
    str(2**63),
    str(2**64 + 1),
    "1e309",
    "NaN",
    "ａdmin@example.com",
    "аdmin@example.com",
    "@y@example.com",
    "\u200b",
    "\x00",
    "%_\\'\"",
    "<script>alert(1)</script>",
    "+60123456789",
    "production",
    "sandbox",
    "admin",
    "ends",
    "starts",
    "contains",
    "exact",
    "csv",
    "jsonl",
    "y",
]
VALUES = st.one_of(
    st.sampled_from(TRICKY),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=300, max_size=2000),
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.dates().map(lambda day: day.isoformat()),
)


def form_field_names() -> list[str]:
    """The name of every field of every form in the package (the GET filters included)."""
    for module in pkgutil.walk_packages(dashboard.__path__, "dashboard."):
        if module.name.endswith("forms"):
            importlib.import_module(module.name)
    names = {"after", "limit", "format", "next", "change", "csrf_token"}
    stack = list(FlaskForm.__subclasses__())
    while stack:
        form = stack.pop()
        stack.extend(form.__subclasses__())
        names.update(n for n in dir(form) if isinstance(getattr(form, n, None), UnboundField))
    return sorted(names)


FIELDS = form_field_names()
PARAMETERS = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=6)
NUMBERS_IN_PATHS = st.sampled_from([0, 2, 10**6, 2**31, 2**63 - 1, 2**63, 2**64 + 1, 10**20])
WORDS_IN_PATHS = st.one_of(
    st.sampled_from(["sandbox", "production", "default", "remove", "x", "..", "%00"]),
    st.text(alphabet="abcdef0123456789-", min_size=1, max_size=40),
)


@pytest.fixture(params=["support", "auditor", "admin"])
def signed_in(request, client, make_user, sandbox):
    role = request.param
    make_user(f"{role}@example.com", role)
    make_user("victim@example.com", "support")
    assert sign_in(client, f"{role}@example.com").status_code == 302
    return client


def rules(app, method: str):
    return sorted(
        (r for r in app.url_map.iter_rules() if method in r.methods and r.endpoint not in SKIPPED),
        key=lambda rule: rule.rule,
    )


def url_of(rule, draw) -> str:
    values = {}
    for name in rule.arguments:
        is_number = isinstance(rule._converters[name], IntegerConverter)
        values[name] = draw(NUMBERS_IN_PATHS if is_number else WORDS_IN_PATHS)
    return rule.build(values)[1]


FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(data=st.data(), zone=st.sampled_from(ZONES))
def test_IV2_no_query_string_gives_a_server_error(app, signed_in, data, zone):
    rule = data.draw(st.sampled_from(rules(app, "GET")))
    url = url_of(rule, data.draw)
    signed_in.set_cookie("tz", zone)
    response = signed_in.get(url, query_string=data.draw(PARAMETERS))
    assert response.status_code < 500, (url, response.status_code)


@FUZZ
@given(data=st.data(), zone=st.sampled_from(ZONES))
def test_IV2_no_form_gives_a_server_error(app, signed_in, data, zone):
    rule = data.draw(st.sampled_from(rules(app, "POST")))
    url = url_of(rule, data.draw)
    signed_in.set_cookie("tz", zone)
    fields = data.draw(PARAMETERS)
    if data.draw(st.booleans()):  # a real token, as a browser sends: the form itself is read
        fields["csrf_token"] = csrf_token(signed_in.get("/account").get_data(as_text=True))
    response = signed_in.post(url, data=fields)
    assert response.status_code < 500, (url, fields, response.status_code)
