"""The customer's pages in a real browser: Debian's Chromium driven by Playwright, against the
local stage started exactly as `make run` does (the e2e suite's `stage` fixture).

Playwright is used with `executable_path=/usr/bin/chromium`: `playwright install` downloads a
browser of its own, which this project never does. Without Chromium or Playwright these tests
skip, unless FIELDLINE_REQUIRE_BROWSER_TESTS=1 (as `make test` sets), when that fails them.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.conftest import stage  # noqa: F401  (the same local stage, started once here)

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
PHONE_WIDTH = 360


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives the customer's pages in Chromium")


def require_browser() -> None:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("playwright (pip install -r requirements-dev.txt)")
    if not missing:
        return
    message = "browser tests need " + " and ".join(missing)
    if os.environ.get("FIELDLINE_REQUIRE_BROWSER_TESTS") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium(tmp_path_factory):
    """One headless Chromium for the session, on a fresh profile (user-data-dir)."""
    require_browser()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 412, "height": 915},
        )
        context.set_default_timeout(20_000)
        yield context
        context.close()


@dataclass
class Tab:
    """A browser tab that remembers what a page should never do: open a dialog, throw, or
    trip its Content-Security-Policy."""

    page: object
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def screenshot(self, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def scroll_width(self) -> int:
        return self.page.evaluate("document.documentElement.scrollWidth")


@pytest.fixture
def tab(chromium):
    page = chromium.new_page()
    opened = Tab(page)

    def on_dialog(dialog):
        opened.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_console(message):
        if message.type == "error":
            opened.errors.append(message.text)

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    page.on("pageerror", lambda error: opened.errors.append(str(error)))
    yield opened
    page.close()
