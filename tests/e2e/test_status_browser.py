"""In a real browser: an admin reads which sandbox runs pushed networks and re-measures it."""

import pytest

from ganstudio.roles import Role
from tests.e2e.conftest import LiveServer, sign_in_page

pytestmark = pytest.mark.browser


def test_admin_runs_the_sandbox_self_test_from_the_status_page(
    page, live_server: LiveServer, sandboxed: None
) -> None:
    sign_in_page(page, live_server.users[Role.ADMIN])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Status").click()
    page.wait_for_url("**/admin/status")
    page.set_default_timeout(120_000)  # the first executor starts the zygote (imports torch)
    page.get_by_role("button", name="Run the self-test now").click()
    page.wait_for_selector("text=Self-test done")
    sandbox = page.get_by_test_id("sandbox")
    assert sandbox.locator(".status").inner_text() == "active"
    rows = page.get_by_test_id("sandbox-checks").locator("tbody tr").all_inner_texts()
    assert rows and all(row.split("\t")[-1] == "denied" for row in rows), rows
    assert "Landlock ABI" in page.get_by_test_id("sandbox-summary").inner_text()
    assert "Runs inside this server" in page.get_by_test_id("worker").inner_text()
