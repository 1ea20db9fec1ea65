"""In a real browser: a developer creates a filter, pushes a parent and a child, promotes one."""

from pathlib import Path

import pytest

from ganstudio.roles import Role
from tests import checkpoints as ck
from tests.e2e.conftest import LiveServer, drop_files, sign_in_page

pytestmark = pytest.mark.browser


def test_developer_builds_a_version_tree(page, live_server: LiveServer, tmp_path: Path) -> None:
    sign_in_page(page, live_server.users[Role.DEVELOPER])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Filters").click()
    form = page.get_by_test_id("new-filter")
    form.get_by_label("Name").fill("Toon")
    form.get_by_label("Input size").fill("256")
    form.get_by_role("button", name="Create filter").click()
    page.wait_for_url("**/filters/toon")

    # v1: dragged onto the drop zone; the upload and the server's check run in the page.
    push = page.get_by_test_id("push-form")
    v1 = ck.safetensors_file(tmp_path / "v1.safetensors").read_bytes()
    drop_files(
        page.get_by_test_id("push-dropzone"), [("v1.safetensors", "application/octet-stream", v1)]
    )
    assert "v1.safetensors" in push.locator(".dropzone-text").inner_text()
    push.get_by_label("Label").fill("v1")
    push.get_by_label("Notes (Markdown)").fill("First **toon** try.")
    push.get_by_role("button", name="Push and check").click()
    page.wait_for_url("**/versions/*", timeout=60_000)
    assert page.get_by_test_id("version-notes").locator("strong").inner_text() == "toon"

    # v2: a child of v1, chosen with the file picker, in a state-dict format with its config.
    page.goto("/filters/toon")
    push.get_by_test_id("push-file").set_input_files(ck.state_dict_file(tmp_path / "v2.pt", 1))
    push.get_by_label("Label").fill("v2")
    push.get_by_label("Parent").fill("v1")
    push.locator("summary").click()
    push.get_by_label("Architecture").fill("se-unet")
    push.get_by_label("Config (JSON)").fill('{"base_width": 4, "depth": 2}')
    push.get_by_role("button", name="Push and check").click()
    page.wait_for_url("**/versions/*", timeout=60_000)
    assert "compare with parent" in page.content()

    page.goto("/filters/toon")
    nodes = page.get_by_test_id("tree-node")
    assert nodes.count() == 2
    assert page.locator("svg.tree path.edge").count() == 1  # v1 → v2
    rows = page.get_by_test_id("versions-table").locator("tbody tr")
    assert rows.nth(0).locator("td").nth(0).inner_text() == "v2"
    assert rows.nth(0).locator("td").nth(3).inner_text() == "v1"
    assert rows.nth(0).locator("td").nth(4).inner_text().endswith("k")  # params shown

    # A bad file is refused in place with the reason.
    push.get_by_test_id("push-file").set_input_files(ck.text_file(tmp_path / "x.pt", "nope"))
    push.get_by_label("Label").fill("v3")
    push.get_by_role("button", name="Push and check").click()
    status = push.get_by_test_id("push-status")
    page.wait_for_function(
        "el => el.textContent.includes('not a checkpoint')",
        arg=status.element_handle(),
        timeout=60_000,
    )

    page.locator('[data-testid=tree-node][data-label="v2"] text.node-label').click()
    page.get_by_test_id("status-form").get_by_label("Status").select_option("production")
    page.get_by_test_id("status-form").get_by_role("button", name="Change status").click()
    assert page.get_by_test_id("version-status").inner_text() == "production"
    assert "candidate → production" in page.get_by_test_id("status-history").inner_text()
    page.goto("/filters/toon")
    assert page.locator("svg.tree .node-production").count() == 1
    assert "production: v2" in page.content()
