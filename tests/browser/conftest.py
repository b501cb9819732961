"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright against a live server.

Playwright's own browser downloads are never used. Without the browser these tests are
skipped with the reason shown, except in CI (`CI=true`), where that is a failure.
"""

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("REGISTRY_TEST_CHROMIUM", "/usr/bin/chromium"))
PASSWORD = "correct horse battery"  # tests.factories.UserFactory's


@pytest.fixture(scope="package")
def _orm_beside_playwright():
    # Playwright's sync API keeps an event loop on the test's thread; the tests' own ORM
    # calls are synchronous all the same (Django's documented switch for such callers).
    # Package scope: set until the browser is gone, for these tests only.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="package")
def browser(_orm_beside_playwright):
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, accept_downloads=True)
    # Nothing may come from outside the live server: GraphiQL and the admin are offline.
    outside: list[str] = []

    def only_the_live_server(route) -> None:
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_live_server)
    page = context.new_page()
    page.outside_requests = outside
    yield page
    # A test may end while the live server still answers the page's last requests; the
    # database is flushed right after, and SQLite's shared in-memory database refuses that.
    page.wait_for_load_state("networkidle")
    context.close()


def log_in(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    assert page.url.endswith("/admin/"), page.url
