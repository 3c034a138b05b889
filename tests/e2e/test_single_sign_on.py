"""Single sign-on in the browser (issue 19): Chromium clicks "Sign in with single sign-on",
chooses the user on oidc-provider-mock's own form (a real OpenID provider, over HTTP on a
loopback port) and lands signed in with the role its groups map to; an unmapped identity is
refused; a role changed at the provider applies at the next sign-in; signing out ends the
session at the provider too; with passwords off, only single sign-on is offered.

The dashboard runs under gunicorn with the single sign-on settings (a server of this module's
own); the provider runs in this process. Pages are watched as everywhere in these tests, with
the provider's origin allowed (its page asks a CDN for a stylesheet: answered empty here,
since these tests run on a closed network)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import AUTHENTICATOR, LiveServer, PageWatch, seed, serve
from playwright.sync_api import Browser, Page, expect
from support import base_config, migrate
from support.single_sign_on import mock_provider, sso_config

from dashboard import create_app
from dashboard.extensions import db
from dashboard.services import users

BUTTON = "Sign in with single sign-on"
DOMAIN = "sso.e2e.example.com"


@pytest.fixture(scope="module")
def provider():
    with mock_provider() as running:
        yield running


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory, simulator, private_key, provider) -> Iterator[LiveServer]:
    yield from _server(tmp_path_factory, simulator, private_key, provider, DOMAIN)


@pytest.fixture(scope="module")
def sso_only_server(tmp_path_factory, simulator, private_key, provider) -> Iterator[LiveServer]:
    yield from _server(
        tmp_path_factory,
        simulator,
        private_key,
        provider,
        f"only.{DOMAIN}",
        PASSWORD_SIGN_IN="off",
    )


def _server(tmp_path_factory, simulator, private_key, provider, domain, **settings):
    workdir: Path = tmp_path_factory.mktemp("e2e-sso")
    config = base_config(f"sqlite:///{workdir / 'sso.sqlite'}", simulator.url, workdir / "i")
    config.update(sso_config(provider.url, **settings))
    migrate(str(config["DATABASE_URL"]), workdir)
    app = create_app(config)
    accounts = seed(app, simulator.simulator, private_key, domain=domain)
    try:
        with serve(config, workdir, workers=1) as url:
            yield LiveServer(url, accounts, app, workdir)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


class ProviderAllowed(PageWatch):
    """The e2e watch, for journeys that pass through the identity provider."""

    provider: str = ""

    def on_request(self, request) -> None:  # type: ignore[no-untyped-def]
        if not request.url.startswith(self.provider + "/"):
            super().on_request(request)


@pytest.fixture
def browse(browser: Browser, provider) -> Iterator:
    contexts, watches = [], []

    def open_page(server: LiveServer, allow_error_status: bool = False) -> Page:
        context = browser.new_context(base_url=server.url)
        context.route(
            "https://cdn.jsdelivr.net/**",
            lambda route: route.fulfill(status=200, content_type="text/css", body=""),
        )
        contexts.append(context)
        watch = ProviderAllowed(server.url, allow_error_status)
        watch.provider = provider.url
        watches.append(watch)
        page = context.new_page()
        page.on("request", watch.on_request)
        page.on("console", watch.on_console)
        page.on("pageerror", watch.on_page_error)
        return page

    yield open_page
    for context in contexts:
        context.close()
    foreign = [url for w in watches for url in w.foreign_requests if "cdn.jsdelivr.net" not in url]
    assert foreign == [], "requests to other origins"
    assert [e for w in watches for e in w.console_errors] == [], "console errors or CSP violations"


def sign_in_with_sso(page: Page, provider, sub: str, path: str = "/login") -> None:
    """From the sign-in page, through the provider's form as ``sub``, back to the dashboard."""
    page.goto(path)
    with page.expect_navigation(url=re.compile(re.escape(provider.url))):
        page.get_by_role("button", name=BUTTON).click()
    expect(page.get_by_role("heading", name="Authorize Client")).to_be_visible()
    page.get_by_placeholder("sub").fill(sub)
    with page.expect_navigation(url=re.compile(r"^(?!" + re.escape(provider.url) + ")")):
        page.get_by_role("button", name="Authorize").click()


def navigation(page: Page):
    return page.get_by_role("navigation", name="Main")


def new_identity(provider, role_group: str | None, email: str | None = None) -> tuple[str, str]:
    sub = f"staff-{uuid.uuid4().hex[:8]}"
    email = email or f"{sub}@{DOMAIN}"
    groups = [role_group] if role_group else []
    provider.staff(sub, email, *groups, name=f"SSO {sub}")
    return sub, email


@pytest.mark.parametrize(
    ("group", "sees", "does_not_see"),
    [
        ("sms-support", "Send code", "Audit log"),
        ("sms-auditors", "Audit log", "Send code"),
    ],
)
def test_staff_sign_in_with_single_sign_on_as_their_mapped_role(
    browse, sso_server, provider, group, sees, does_not_see
):
    page = browse(sso_server)
    sub, email = new_identity(provider, group)
    sign_in_with_sso(page, provider, sub, "/login?next=/history")
    expect(page).to_have_url(re.compile(r"/history$"))
    expect(navigation(page).get_by_role("link", name=sees)).to_be_visible()
    expect(navigation(page).get_by_role("link", name=does_not_see)).to_have_count(0)
    with sso_server.app.app_context():
        assert users.find_by_email(email).role == group.removeprefix("sms-").rstrip("s")


def test_an_admin_signs_in_with_single_sign_on_then_passes_the_second_step(
    browse, sso_server, provider
):
    page = browse(sso_server)
    email = sso_server.accounts["admin"]  # enrolled in two-step by seed()
    sub, _ = new_identity(provider, "sms-admins", email=email)
    sign_in_with_sso(page, provider, sub)
    expect(page).to_have_url(re.compile(r"/login/two-step"))
    page.get_by_label("Code").fill(AUTHENTICATOR.code(email))
    with page.expect_navigation():
        page.get_by_role("button", name="Verify").click()
    expect(navigation(page).get_by_role("link", name="Admin", exact=True)).to_be_visible()
    page.goto("/admin/users")
    expect(page).to_have_url(re.compile(r"/admin/users$"))  # no enrolment, no sign-in asked


def test_an_identity_in_no_mapped_group_is_refused(browse, sso_server, provider):
    page = browse(sso_server, allow_error_status=True)
    sub, email = new_identity(provider, "sales")
    sign_in_with_sso(page, provider, sub)
    expect(page.get_by_role("alert")).to_contain_text("in none of the groups")
    expect(page.get_by_role("heading", name="You are not signed in")).to_be_visible()
    page.get_by_role("link", name="Back to sign in").click()
    expect(page.get_by_role("button", name=BUTTON)).to_be_visible()
    with sso_server.app.app_context():
        assert users.find_by_email(email) is None


def test_a_role_changed_at_the_provider_applies_at_the_next_sign_in(browse, sso_server, provider):
    page = browse(sso_server)
    sub, email = new_identity(provider, "sms-support")
    sign_in_with_sso(page, provider, sub)
    expect(navigation(page).get_by_role("link", name="Send code")).to_be_visible()
    # Signing out ends the session here and at the provider, which sends the browser back.
    navigation(page).get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(re.escape(provider.url) + "/oauth2/end_session"))
    page.get_by_role("button", name="End session").click()
    # (authlib adds a ``state`` to the way back, which the sign-in page has no use for)
    expect(page).to_have_url(re.compile(re.escape(sso_server.url) + r"/login(\?state=\w+)?$"))
    expect(page.get_by_role("alert").filter(has_text="You are signed out.")).to_be_visible()
    provider.staff(sub, email, "sms-auditors", name=f"SSO {sub}")
    sign_in_with_sso(page, provider, sub)
    expect(navigation(page).get_by_role("link", name="Audit log")).to_be_visible()
    expect(navigation(page).get_by_role("link", name="Send code")).to_have_count(0)


def test_with_passwords_off_only_single_sign_on_is_offered(browse, sso_only_server, provider):
    page = browse(sso_only_server)
    page.goto("/login")
    expect(page.get_by_label("Password")).to_have_count(0)
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_have_count(0)
    sub, _ = new_identity(provider, "sms-support")
    sign_in_with_sso(page, provider, sub)
    expect(navigation(page).get_by_role("link", name="Send code")).to_be_visible()
