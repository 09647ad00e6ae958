"""The workbench in a real browser: Debian's Chromium driven by Playwright, against `sitewatch serve`
on a store filled by a real run, on SQLite and on PostgreSQL.

Screenshots go to the test's folder (and to SITEWATCH_SHOTS when set, to look at them).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from sitewatch.store import open_store
from sitewatch.store.models import AuditEntry, Review
from tests.web.conftest import HOSTILE_NAME, PASSWORD, SITE

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREEN = {"width": 1366, "height": 768}
HOSTILE_NOTE = '"><img src=x onerror=alert(1)>'
#: Access rules live in the app, not the database: checked on SQLite; the reviews on both.
SQLITE_ONLY = pytest.mark.parametrize("filled_store", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: run `sh scripts/ensure-test-tools.sh` (as root), or `make test`")
    with sync_playwright() as playwright:
        # software WebGL (SwiftShader): the maps render on machines without a GPU
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
        )
        yield chromium
        chromium.close()


class Page:
    """A signed-in tab that records script errors and any dialog a script opened."""

    def __init__(self, browser, url: str, shots: Path) -> None:
        self.context = browser.new_context(viewport=SCREEN)
        self.page = self.context.new_page()
        self.url, self.shots = url, shots
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))

    def sign_in(self, name: str, password: str = PASSWORD, path: str = "/") -> None:
        self.page.goto(self.url + path)
        self.page.fill("input[name=name]", name)
        self.page.fill("input[name=password]", password)
        self.page.click("button[type=submit]")

    def map_ready(self) -> None:
        self.page.wait_for_selector("body[data-map-ready='1']", timeout=30_000)  # drawn, its tiles loaded

    def shot(self, name: str) -> np.ndarray:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path))
        if os.environ.get("SITEWATCH_SHOTS"):
            Path(os.environ["SITEWATCH_SHOTS"]).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(os.environ["SITEWATCH_SHOTS"]) / path.name)
        image = np.asarray(Image.open(path).convert("RGB"))
        assert image.shape[:2] == (SCREEN["height"], SCREEN["width"])
        # readable on a 1366 x 768 screen: nothing wider than the window
        width = self.page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= SCREEN["width"], f"{name}: the page is {width} px wide"
        return image


def _map_shows_imagery(image: np.ndarray, box: dict) -> bool:
    """The map's pixels vary like imagery (not one flat background colour)."""
    x, y, w, h = (int(box[k]) for k in ("x", "y", "width", "height"))
    crop = image[y : y + h, x : x + w].astype(float)
    return crop.std(axis=(0, 1)).mean() > 20


def test_analyst_reviews_with_the_keyboard(browser, workbench, tmp_path):
    server, store_url = workbench
    tab = Page(browser, server.url, tmp_path)
    page = tab.page

    tab.sign_in("ana")
    tab.map_ready()
    assert page.locator(".site-label").count() == 2  # both sites on the map, with their counts
    assert "new" in page.locator(".site-label").first.inner_text()
    tab.shot("watchlist")

    page.click(f"#sites a[href='/sites/{SITE}']")
    tab.map_ready()
    image = tab.shot("site")
    assert _map_shows_imagery(image, page.locator("#map").bounding_box())
    assert page.locator("#events tbody tr").count() > 3
    assert page.locator("svg[aria-label='changed area over time'] polyline").count() >= 1

    page.click("text=Review this site's new events")
    tab.map_ready()
    first_url = page.url
    compare = page.locator("#compare")
    image = tab.shot("event")
    assert _map_shows_imagery(image, compare.bounding_box())

    # swipe: the right-hand look is uncovered from the slider's position
    page.focus("#swipe")
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    assert compare.get_attribute("data-swipe") == "60"
    assert "60%" in page.eval_on_selector("#map-after", "e => e.style.clipPath")
    # time: the slider moves the right-hand map through every look
    label = page.inner_text("#look-label")
    look = int(compare.get_attribute("data-look"))
    page.focus("#time")
    page.keyboard.press("Home")
    assert compare.get_attribute("data-look") == "0" and page.inner_text("#look-label") != label
    page.keyboard.press("End")
    assert int(compare.get_attribute("data-look")) >= look
    tab.shot("event-swiped")
    chips = page.locator(".chips img")
    assert chips.count() == 8
    assert all(chips.nth(i).evaluate("i => i.complete && i.naturalWidth > 0") for i in range(chips.count()))

    # triage three events: confirm, dismiss (with the chosen reason), needs imagery
    page.locator("body").click(position={"x": 5, "y": 5})  # focus off the sliders
    reviewed = []
    for key in ("c", "d", "i"):
        reviewed.append(int(page.url.split("/events/")[1].split("?")[0]))
        with page.expect_navigation():
            page.keyboard.press(key)
    assert page.url != first_url and len(set(reviewed)) == 3
    with page.expect_navigation():
        page.keyboard.press("b")  # back to the last one reviewed
    assert f"/events/{reviewed[-1]}" in page.url
    page.reload()
    assert "needs-imagery" in page.inner_text("#history")
    assert not tab.errors, tab.errors

    with open_store(store_url).session() as session:
        reviews = session.scalars(select(Review).where(Review.analyst == "ana").order_by(Review.id)).all()
        assert [(r.event_id, r.status, r.analyst) for r in reviews] == [
            (reviewed[0], "confirmed", "ana"),
            (reviewed[1], "dismissed", "ana"),
            (reviewed[2], "needs-imagery", "ana"),
        ]
        assert reviews[1].reason == "not-construction" and reviews[0].reason is None
        audit = session.scalars(select(AuditEntry).where(AuditEntry.actor == "web:ana")).all()
        assert [(a.action, a.target) for a in audit] == [("review", f"event:{e}") for e in reviewed]


@SQLITE_ONLY
def test_viewer_looks_but_cannot_review(browser, workbench, tmp_path):
    server, _ = workbench
    tab = Page(browser, server.url, tmp_path)
    tab.sign_in("vic", path="/events/1")
    tab.map_ready()
    assert tab.page.locator("form#review").count() == 0
    token = tab.page.input_value("header input[name=csrf_token]")
    refused = tab.context.request.post(
        f"{server.url}/api/events/1/reviews", data={"status": "confirmed"}, headers={"X-CSRF-Token": token}
    )
    assert refused.status == 403 and "role" in refused.json()["error"]


@SQLITE_ONLY
def test_no_session_no_token_no_entry(browser, workbench, tmp_path):
    server, _ = workbench
    tab = Page(browser, server.url, tmp_path)
    tab.page.goto(f"{server.url}/sites/{SITE}")
    assert "/login?next=%2Fsites%2Fparis-1" in tab.page.url
    api = tab.context.request.get(f"{server.url}/api/sites")
    assert api.status == 401 and api.json() == {"error": "not signed in; sign in at /login"}
    tab.sign_in("ana", path="/events/1")
    tab.map_ready()
    without = tab.context.request.post(f"{server.url}/api/events/1/reviews", data={"status": "confirmed"})
    assert without.status == 403 and "CSRF" in without.json()["error"]
    form = tab.context.request.post(f"{server.url}/events/1/review", form={"verdict": "confirmed"})
    assert form.status == 403


@SQLITE_ONLY
def test_hostile_names_and_notes_stay_text(browser, workbench, tmp_path):
    server, _ = workbench
    tab = Page(browser, server.url, tmp_path)
    page = tab.page
    tab.sign_in("hal")
    tab.map_ready()
    labels = page.locator(".site-label").all_inner_texts()
    assert any(HOSTILE_NAME in label for label in labels), labels  # on the map, as text
    assert HOSTILE_NAME in page.inner_text("#sites")  # and in the list
    assert page.locator("#sites script, .site-label script").count() == 0
    page.goto(f"{server.url}/sites/odd-1")
    tab.map_ready()
    assert page.locator("h1").inner_text().startswith(HOSTILE_NAME)
    page.goto(f"{server.url}/events/140")
    tab.map_ready()
    page.select_option("#reason", "other")
    page.fill("textarea[name=note]", HOSTILE_NOTE)
    with page.expect_navigation():
        page.click("button[value=dismissed]")
    assert HOSTILE_NOTE in page.inner_text("#history")
    assert page.locator("img[src='x']").count() == 0
    tab.shot("hostile")
    assert tab.dialogs == [] and not tab.errors


@SQLITE_ONLY
def test_wrong_passwords_slow_down_sign_in(browser, workbench, tmp_path):
    server, _ = workbench
    tab = Page(browser, server.url, tmp_path)
    for _ in range(5):
        tab.sign_in("tess", "not the password")
        assert "wrong user name or password" in tab.page.inner_text("main")
    tab.sign_in("tess")  # the right one, too soon
    assert "too many failed sign-ins" in tab.page.inner_text("main")
    assert "/login" in tab.page.url
