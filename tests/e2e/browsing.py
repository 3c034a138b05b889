"""What the history, audit log, overview and time zone journeys share: signing in as an
account without two-step, the screen sizes, and what "fits a phone" means. (Test modules do
not import conftest: its fixtures are theirs through pytest, its helpers are not.)"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect
from support import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
KUALA_LUMPUR = "Asia/Kuala_Lumpur"


def sign_in_as(page: Page, email: str) -> None:
    """Sign in through the sign-in page, as an account that has no second step (support and
    auditors made by ``live_server.create_user``)."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in", exact=True).click()
    assert urlsplit(page.url).path != "/login", "the sign-in was refused"


def fits_the_screen(page: Page) -> None:
    """Nothing on the page is wider than its window: no sideways scrolling."""
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def within_the_first_screen(page: Page, selector: str) -> None:
    """The first element matching ``selector`` is visible and starts within the first screen,
    without scrolling."""
    element = page.locator(selector).first
    expect(element).to_be_visible()
    box = element.bounding_box()
    assert box is not None and box["y"] + 20 <= page.viewport_size["height"], box


def text_without_spaces(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def screenshot(page: Page, name: str) -> None:
    """Keep a picture of the page as it is (git-ignored, next to the other journeys')."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
