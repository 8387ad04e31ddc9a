"""The MLflow UI in a real browser: Debian's Chromium driven by Playwright's Python
package (Playwright's own browser download cannot work offline)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def chromium() -> str:
    """Debian's Chromium, which ``make setup`` installs when it is missing."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise AssertionError("Chromium is not installed: run `make setup` (it installs it).")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MlflowUI:
    """An MLflow UI starting on the store, on 127.0.0.1 (it takes 10-25 s: start it
    early, ask for its ``url()`` late)."""

    def __init__(self, store_uri: str, artifacts: Path) -> None:
        self.port = _free_port()
        mlflow_bin = str(Path(sys.executable).with_name("mlflow"))
        self.server = subprocess.Popen(
            [mlflow_bin, "server", "--backend-store-uri", store_uri,
             "--default-artifact-root", artifacts.resolve().as_uri(),
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def url(self) -> str:
        """Its base URL, once it answers."""
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2).close()
                return url
            except OSError:
                if self.server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the MLflow UI did not start on {url}") from None
                time.sleep(0.3)


@contextmanager
def mlflow_ui(store_uri: str, artifacts: Path) -> Iterator[MlflowUI]:
    """An MLflow UI on the store for the block, stopped after it."""
    ui = MlflowUI(store_uri, artifacts)
    try:
        yield ui
    finally:
        ui.server.terminate()
        ui.server.wait(timeout=30)


def page_text(url: str, *, wait_for: str, screenshot: Path | None = None) -> str:
    """The visible text of a page once ``wait_for`` shows (the UI renders client-side)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.get_by_text(wait_for).first.wait_for(timeout=60_000)
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=True)
            return str(page.inner_text("body"))
        finally:
            browser.close()
