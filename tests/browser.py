"""Headless Chromium for the report's tests, driven by Playwright with the system's Chromium
(Debian's ``chromium``: ``executable_path=``, so Playwright downloads no browser).

:meth:`Browser.visit` opens a page at 1280x800, waits for its load event, runs a script in it
(the tests click every table header), lets late errors arrive, and takes a full-page
screenshot; it returns the page's errors (console errors and failed assertions, uncaught
exceptions and rejections, failed requests), the PNG and every URL the page requested.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
ENV = "SMOOTHCLI_TEST_CHROMIUM"  # a browser to use instead (a path or a name on PATH)


def find_chromium() -> str | None:
    """The path of a Chromium (or Chrome) binary: $SMOOTHCLI_TEST_CHROMIUM, else PATH."""
    if wanted := os.environ.get(ENV):
        return shutil.which(wanted) or (wanted if os.access(wanted, os.X_OK) else None)
    for name in NAMES:
        if path := shutil.which(name):
            return path
    return None


@dataclass
class Visit:
    """What one page gave: its errors, a PNG screenshot, and the URLs it requested."""

    url: str
    errors: list[str] = field(default_factory=list)
    png: bytes = b""
    requests: list[str] = field(default_factory=list)


class Browser:
    """The browser, started once; a context manager that always ends it."""

    def __init__(self, executable: str, *, timeout: float = 30.0) -> None:
        self.executable, self.timeout = executable, timeout

    def __enter__(self) -> Browser:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=self.executable, args=["--no-sandbox"]
            )
        except BaseException:
            self._playwright.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._browser.close()
        finally:
            self._playwright.stop()

    def visit(self, url: str | Path, *, script: str | None = None, settle: float = 0.3) -> Visit:
        """Open ``url`` (a path becomes a file:// URL) in a new page; see the module's text."""
        from playwright.sync_api import Error

        visit = Visit(Path(url).resolve().as_uri() if isinstance(url, Path) else url)
        page = self._browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(self.timeout * 1000)
        page.on("console", lambda m: _console(m, visit))
        page.on("pageerror", lambda e: visit.errors.append(f"uncaught: {e.name}: {e.message}"))
        page.on("requestfailed", lambda r: visit.errors.append(f"{r.url}: {r.failure}"))
        page.on("request", lambda r: visit.requests.append(r.url))
        try:
            try:
                page.goto(visit.url, wait_until="load")
            except Error as exc:
                visit.errors = [f"navigation failed: {_first_words(exc)}"]
                return visit
            if script is not None:
                try:
                    page.evaluate(script)
                except Error as exc:  # the script's own failure (not an uncaught error)
                    visit.errors.append(f"script failed: {_first_words(exc)}")
            # two animation frames: the page has been laid out and painted
            page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            page.wait_for_timeout(settle * 1000)  # late errors: timers
            visit.png = page.screenshot(full_page=True)
        finally:
            page.close()
        return visit

    def render(self, url: str | Path, **kwargs: Any) -> tuple[list[str], bytes]:
        """``(errors, png)`` of a page: see :meth:`visit`."""
        visit = self.visit(url, **kwargs)
        return visit.errors, visit.png


def _console(message: Any, visit: Visit) -> None:
    if message.type in ("error", "assert"):
        visit.errors.append(f"console.{message.type}: {message.text}")


def _first_words(exc: Exception) -> str:
    """``net::ERR_FILE_NOT_FOUND`` of Playwright's ``Page.goto: net::ERR_... at URL``."""
    line = str(exc).splitlines()[0]
    line = line.split(": ", 1)[-1]
    return line.split(" at ", 1)[0].strip()
