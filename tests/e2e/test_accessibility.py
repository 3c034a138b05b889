"""Accessibility in a real browser: axe-core (the copy axe-playwright-python bundles) on every
page the navigation reaches, for each role, in the light and the dark theme, at desktop and
phone width; and the page behaviours that keyboard and screen-reader users rely on (the theme
toggle's state, focus on an error summary, buttons that say a request is under way, the
navigation on one row)."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, Route, expect

from dashboard.services import users

PASSWORD = "correct horse battery staple"  # the one tests/support gives every test account
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
THEMES = ("light", "dark")
#: WCAG 2.0, 2.1 and 2.2, levels A and AA: what the issue asks for, and no best-practice rules.
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"],
    },
    "resultTypes": ["violations"],
}
FAILING_IMPACTS = {"serious", "critical"}
AXE = Axe()


@dataclass(frozen=True)
class Account:
    email: str
    cookies: list  # the signed-in browser's cookies, for every context of this role


@pytest.fixture(scope="module")
def signed_in(browser: Browser, live_server) -> dict[str, Account]:
    """An account of each role of this module's own (admins with two-step, as they must),
    signed in once: each browser context of a role starts with its cookies."""
    accounts = {}
    for role in ("support", "auditor", "admin"):
        email = f"a11y-{role}-{uuid.uuid4().hex[:6]}@e2e.example.com"
        with live_server.app.app_context():
            user, _ = users.create_user(
                email, role, "test", name=f"Axe {role.title()}", password=PASSWORD
            )
            secret = None
            if role == "admin":
                secret = users.begin_two_step(user)
                users.confirm_two_step(user, pyotp.TOTP(secret).now())
        context = browser.new_context(base_url=live_server.url)
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in", exact=True).click()
        if secret is not None:
            # The step after the one that confirmed the enrolment: each is accepted once.
            page.get_by_label("Code").fill(pyotp.TOTP(secret).at(time.time() + 30))
            with page.expect_navigation():
                page.get_by_role("button", name="Verify").click()
        expect(page).not_to_have_url(re.compile(r"/login"))
        accounts[role] = Account(email, context.cookies())
        context.close()
    return accounts


@pytest.fixture(scope="module")
def attempt_id(live_server, signed_in) -> str:
    """An attempt every role may open (sent by this module's support account)."""
    return live_server.send(signed_in["support"].email, f"17-{uuid.uuid4().int % 900 + 100} 4410")


@pytest.fixture(scope="module")
def admin_user_id(live_server, signed_in) -> int:
    with live_server.app.app_context():
        user = users.find_by_email(signed_in["support"].email)
        assert user is not None
        return user.id


def pages_of(role: str, attempt: str, user_id: int) -> list[str]:
    """Every page the navigation reaches for ``role`` (and one page behind each kind of link:
    an attempt, a user), the account page and a page that is not there."""
    common = ["/", "/history", f"/attempts/{attempt}", "/account", "/no-such-page"]
    senders = ["/send", "/check"]
    by_role = {
        "support": common + senders,
        "auditor": common + ["/audit"],
        "admin": common
        + senders
        + ["/audit", "/admin/users", f"/admin/users/{user_id}", "/admin/provider"]
        + ["/admin/limits", "/admin/templates", "/admin/settings"],
    }
    return by_role[role]


def violations(page: Page, state: str) -> list[str]:
    """axe's serious and critical violations on the page as it is, one line per element:
    where, the rule, its impact, the element's selector and what axe measured."""
    results = AXE.run(page, options=AXE_OPTIONS)
    found = []
    for violation in results.response["violations"]:
        if violation["impact"] not in FAILING_IMPACTS:
            continue
        for node in violation["nodes"]:
            checks = node.get("any", []) + node.get("all", []) + node.get("none", [])
            detail = checks[0]["message"] if checks else violation["help"]
            found.append(
                f"{state}: {violation['id']} ({violation['impact']}) at "
                f"{' > '.join(str(t) for t in node['target'])}: {detail}"
            )
    return found


def check_page(page: Page, path: str, state: str) -> list[str]:
    page.goto(path)
    page.wait_for_load_state("load")
    return violations(page, f"{state} {path}")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("role", ["support", "auditor", "admin"])
def test_every_page_passes_axe(watched, signed_in, attempt_id, admin_user_id, role, theme, width):
    page = watched(viewport=WIDTHS[width], color_scheme=theme, allow_error_status=True)
    page.context.add_cookies(signed_in[role].cookies)
    state = f"{role}, {theme}, {width}"
    found = []
    for path in pages_of(role, attempt_id, admin_user_id):
        found += check_page(page, path, state)
        expect(page.locator("html")).to_have_attribute("data-bs-theme", theme)
    if width == "phone":  # the collapsed menu, open
        page.goto("/")
        page.get_by_role("button", name="Menu").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        found += violations(page, f"{state} / (menu open)")
    if role == "support":  # a form that came back with errors
        page.goto("/send")
        page.get_by_label("Phone number").fill("1")
        page.get_by_role("button", name="Send code").click()
        page.wait_for_load_state("load")
        expect(page.locator(".is-invalid").first).to_be_visible()
        found += violations(page, f"{state} /send (with errors)")
    assert not found, "axe found serious or critical violations:\n" + "\n".join(found)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("theme", THEMES)
def test_the_sign_in_pages_pass_axe(watched, theme, width):
    page = watched(viewport=WIDTHS[width], color_scheme=theme, allow_error_status=True)
    state = f"signed out, {theme}, {width}"
    found = check_page(page, "/login", state)
    page.get_by_label("Email").fill("nobody@e2e.example.com")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    found += violations(page, f"{state} /login (with errors)")
    found += check_page(page, "/no-such-page", state)
    assert not found, "axe found serious or critical violations:\n" + "\n".join(found)


def test_the_admin_navigation_fits_on_one_row_at_1280_px(watched, signed_in):
    page = watched(viewport=WIDTHS["desktop"])
    page.context.add_cookies(signed_in["admin"].cookies)
    page.goto("/")
    navigation = page.get_by_role("navigation", name="Main")
    controls = [
        navigation.get_by_role("link", name=name, exact=True)
        for name in ("Overview", "Send code", "History", "Check a code", "Audit log", "Admin")
    ] + [
        navigation.get_by_role("link", name=re.compile("^Axe Admin")),
        navigation.get_by_role("button", name="Dark mode", exact=True),
        navigation.get_by_role("button", name="Sign out"),
    ]
    middles = []
    for control in controls:
        expect(control).to_be_visible()
        box = control.bounding_box()
        assert box is not None
        middles.append(box["y"] + box["height"] / 2)
    assert max(middles) - min(middles) < 4, middles


def test_every_control_shows_a_solid_focus_outline(watched, signed_in):
    """The focus indicator is a 2 px outline set off from the control, in both themes, on the
    primary button too (where Bootstrap's glow did not show)."""
    for theme in THEMES:
        page = watched(viewport=WIDTHS["desktop"], color_scheme=theme)
        page.context.add_cookies(signed_in["support"].cookies)
        page.goto("/send")
        for control in (
            page.get_by_role("button", name="Send code"),
            page.get_by_label("Phone number"),
            page.get_by_role("button", name="Sign out"),
            page.get_by_role("link", name="History"),
        ):
            control.focus()
            page.keyboard.press("Shift+Tab")
            page.keyboard.press("Tab")  # focus by keyboard: :focus-visible for buttons too
            assert control.evaluate("e => e.matches(':focus-visible')"), (theme, control)
            outline = control.evaluate(
                "e => { const s = getComputedStyle(e);"
                " return [s.outlineStyle, s.outlineWidth, s.outlineOffset]; }"
            )
            assert outline == ["solid", "2px", "2px"], (theme, outline)


def test_sign_in_says_it_is_under_way_and_still_sends_the_button(watched, signed_in):
    page = watched()
    held: list[Route] = []

    def hold(route: Route) -> None:
        if route.request.method == "POST":
            held.append(route)
        else:
            route.continue_()

    page.route("**/login", hold)
    page.goto("/login")
    # Back to a form kept in the browser's cache, as it was left while sending: it works again.
    page.evaluate(
        "() => { const b = document.querySelector('[data-submitting]');"
        " b.disabled = true; b.value = 'Signing in…'; b.setAttribute('data-idle-label', 'Sign in');"
        " window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true})); }"
    )
    button = page.locator("[data-submitting]")
    expect(button).to_be_enabled()
    expect(button).to_have_value("Sign in")
    page.get_by_label("Email").fill(signed_in["auditor"].email)
    page.get_by_label("Password").fill(PASSWORD)
    # While the request is held the page is navigating, and locators wait for that to end:
    # the button tells what becomes of it instead.
    seen: list[tuple[str, bool]] = []
    page.expose_function("reportButton", lambda value, disabled: seen.append((value, disabled)))
    page.evaluate(
        "() => { const b = document.querySelector('[data-submitting]');"
        " new MutationObserver(() => reportButton(b.value, b.disabled))"
        ".observe(b, {attributes: true}); }"
    )
    page.locator("[data-submitting]").click(no_wait_after=True)
    for _ in range(50):
        if held and ("Signing in…", True) in seen:
            break
        page.wait_for_timeout(100)
    assert ("Signing in…", True) in seen, seen
    assert len(held) == 1
    # Disabled after the browser had read the form: the button's own name and value went too.
    assert "submit=Sign+in" in (held[0].request.post_data or "")
    held[0].continue_()
    expect(page).not_to_have_url(re.compile(r"/login"))


def test_an_error_summary_takes_the_focus_and_leads_to_its_fields(watched, signed_in):
    page = watched()
    page.context.add_cookies(signed_in["admin"].cookies)
    page.goto("/admin/limits")
    cooldown = page.get_by_label("Seconds between two sends to one number")
    cooldown.fill("-5")
    page.get_by_role("button", name="Save limits").click()
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    expect(page).to_have_title(re.compile("^Error: "))
    summary.get_by_role("link").first.click()
    expect(cooldown).to_be_focused()


def test_relative_times_stay_current_and_countdowns_reach_now(watched, live_server, signed_in):
    email = live_server.create_user("support")
    with live_server.app.app_context():
        created = users.find_by_email(email)
        assert created is not None
        user_id = created.id
    page = watched()
    page.clock.install()
    page.context.add_cookies(signed_in["admin"].cookies)
    page.goto(f"/admin/users/{user_id}")  # created moments ago
    relative = page.locator("[data-relative-text]").first
    expect(relative).to_have_text(re.compile(r"^\((just now|\d+ s ago)\)$"))
    page.clock.fast_forward("05:00")
    expect(relative).to_have_text(re.compile(r"^\([5-9] min ago\)$"))
    # A countdown drawn later (as a cooldown message is) is found at the next turn.
    page.evaluate(
        "() => { const t = document.createElement('time'); t.id = 'countdown';"
        " t.setAttribute('data-countdown', '');"
        " t.setAttribute('datetime', new Date(Date.now() + 60000).toISOString());"
        " t.textContent = 'in 60 s'; document.querySelector('main').append(t); }"
    )
    countdown = page.locator("#countdown")
    page.clock.run_for(16_000)  # the slow pace: no time was within 90 s of now
    expect(countdown).to_have_text(re.compile(r"^in 4\d s$"))
    before = int(countdown.inner_text().split()[1])
    page.clock.run_for(3_000)  # now every second
    after = int(countdown.inner_text().split()[1])
    assert before - after == 3
    page.clock.run_for(60_000)
    expect(countdown).to_have_text("now")


def test_the_axe_check_reports_what_it_finds(watched):
    """The check above can fail: a faint text and an unnamed button on a page are reported,
    with the rule, its impact and the element."""
    page = watched()
    page.goto("/login")
    page.evaluate(
        "() => { const main = document.querySelector('main');"
        " const faint = document.createElement('p'); faint.id = 'faint';"
        " faint.textContent = 'Hard to read'; faint.style.color = '#bbbbbb';"
        " const unnamed = document.createElement('button'); unnamed.id = 'unnamed';"
        " main.append(faint, unnamed); }"
    )
    found = "\n".join(violations(page, "probe"))
    assert "probe: color-contrast (serious) at #faint" in found
    assert "probe: button-name (critical) at #unnamed" in found
