"""In a real browser: an admin finds the render workers in the navigation, sees the server's own
worker alive, and sees a worker that fell silent turn up dead without reloading the page."""

from datetime import timedelta
from pathlib import Path

import pytest

from ganstudio.db.base import utcnow
from ganstudio.db.tables import WorkerRow
from ganstudio.roles import Role
from tests.e2e.conftest import LiveServer, sign_in_page

pytestmark = pytest.mark.browser


def test_admin_watches_the_workers_page_refresh_itself(
    page, live_server: LiveServer, tmp_path: Path
) -> None:
    sign_in_page(page, live_server.users[Role.ADMIN])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Workers").click()
    page.wait_for_url("**/admin/workers")
    own = live_server.app.state.worker.worker_id
    row = page.locator(f"[data-testid=worker][data-worker-id='{own}']")
    row.wait_for()  # the server's thread worker wrote its first heartbeat when it started
    assert row.get_attribute("data-state") == "alive"
    assert row.get_by_test_id("worker-last-seen").get_attribute("title").endswith("UTC")
    assert page.get_by_test_id("dead-count").count() == 0

    # A GPU worker elsewhere stops sending heartbeats: the page shows it dead, first.
    silent = "gpu-7/cuda:3/999-dead"
    with live_server.app.state.sessions.begin() as session:
        session.add(
            WorkerRow(
                id=silent,
                host="gpu-7",
                device="cuda:3",
                pid=999,
                started_at=utcnow() - timedelta(hours=2),
                last_seen=utcnow() - timedelta(minutes=10),
            )
        )
    page.wait_for_selector("[data-testid=dead-count]", timeout=20_000)  # no reload: it polls
    first = page.get_by_test_id("worker").first
    assert first.get_attribute("data-worker-id") == silent
    assert first.get_by_test_id("worker-state").inner_text() == "dead"
    assert "10 min ago" in first.get_by_test_id("worker-last-seen").inner_text()
    page.screenshot(path=str(tmp_path / "workers.png"), full_page=True)
