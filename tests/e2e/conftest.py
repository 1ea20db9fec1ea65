"""Browser tests: a live GAN Studio on a free port, driven by headless Chromium (Playwright).

Chromium comes from the system (`apt-get install -y chromium`), never from `playwright install`.
Locally the tests skip when it is missing; under CI=true they fail instead.
Pages run under a Content-Security-Policy without 'unsafe-eval': give `wait_for_function` a
function ("() => …"), not an expression, which Playwright would eval inside the page.
"""

import base64
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from ganstudio.app import create_app
from ganstudio.roles import Role
from tests.conftest import make_settings
from tests.factories import PASSWORD, make_user
from tests.waiting import free_port, wait_for

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def find_chromium() -> str | None:
    configured = os.environ.get("GANSTUDIO_CHROMIUM")
    if configured:
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class LiveServer:
    url: str
    app: FastAPI
    users: dict[Role, str]
    password: str = PASSWORD


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """Serve a fresh GAN Studio with one user per role on 127.0.0.1."""
    app = create_app(make_settings(tmp_path / "data", worker="thread"))
    users = {role: make_user(app, role=role, name=f"{role.value}-user").name for role in Role}
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, "the test server to start", seconds=15)
    yield LiveServer(url=f"http://127.0.0.1:{port}", app=app, users=users)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session."""
    executable = find_chromium()
    if executable is None:
        message = "no Chromium found (apt-get install -y chromium, or set GANSTUDIO_CHROMIUM)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Browser tests must run under CI: {message}")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server: LiveServer):
    """A fresh browser context (no cookies) on the live server."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def sign_in_page(page, name: str, password: str = PASSWORD) -> None:
    """Sign in through the real form and wait for the home page."""
    page.goto("/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("[data-testid=user-name]")


_DROP_FILES = """
([files]) => {
  const transfer = new DataTransfer();
  for (const f of files) {
    const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
    transfer.items.add(new File([bytes], f.name, { type: f.type }));
  }
  return transfer;
}
"""


def drop_files(target, files: list[tuple[str, str, bytes]]) -> None:
    """Drop files (name, media type, bytes) onto a locator, as a real drag-and-drop does."""
    payload = [
        {"name": name, "type": media_type, "b64": base64.b64encode(data).decode()}
        for name, media_type, data in files
    ]
    transfer = target.page.evaluate_handle(_DROP_FILES, [payload])
    target.dispatch_event("drop", {"dataTransfer": transfer})
