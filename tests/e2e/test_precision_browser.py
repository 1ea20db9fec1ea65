"""In a real browser: a developer opts a filter into bf16, watches a version's page fill in its
measured difference from fp32, and the next comparison renders that version in bf16."""

from pathlib import Path

import pytest
from sqlalchemy import select

from ganstudio.db.tables import Comparison, ComparisonCell, Render
from ganstudio.demo import DEMO_CHECKPOINTS_DIR
from ganstudio.roles import Role
from tests import imagegen
from tests.e2e.conftest import LiveServer, sign_in_page
from tests.factories import make_filter, make_sample, make_version
from tests.web.compare_helpers import make_set

pytestmark = pytest.mark.browser


def compare(page, title: str) -> None:
    """Make a comparison of v1 and v2 on the Faces set through the Compare page."""
    page.goto("/compare?filter=toon")
    page.wait_for_selector("[data-testid=new-comparison]")
    for label in ("v1", "v2"):
        page.locator(f"input[name=versions][value={label}]").check()
    page.get_by_label("Sample set").select_option(label="Faces")
    page.get_by_label("Title").fill(title)
    page.get_by_role("button", name="Create comparison").click()
    page.wait_for_url("**/c/*")
    page.wait_for_selector("#progress[data-finished=true]", timeout=60_000)


def rendered(live_server: LiveServer, title: str) -> list[Render]:
    with live_server.app.state.sessions() as session:
        return list(
            session.scalars(
                select(Render)
                .join(ComparisonCell, ComparisonCell.render_id == Render.id)
                .join(Comparison, Comparison.id == ComparisonCell.comparison_id)
                .where(Comparison.title == title)
            )
        )


def test_developer_opts_into_bf16_sees_the_measurement_and_renders_use_it(
    page, live_server: LiveServer, tmp_path: Path
) -> None:
    app = live_server.app
    make_filter(app, name="Toon", input_size=64)
    ids = {
        label: make_version(
            app,
            filter_slug="toon",
            label=label,
            checkpoint=DEMO_CHECKPOINTS_DIR / f"{label}.safetensors",  # trained: real outputs
        )
        for label in ("v1", "v2")
    }
    samples = [
        make_sample(app, imagegen.distinct_png(n, size=(64, 48)), f"{n}.png") for n in (0, 1, 2)
    ]
    make_set(app, "Faces", samples)
    sign_in_page(page, live_server.users[Role.DEVELOPER])
    compare(page, "First look")  # the filter's first comparison: its demo set
    assert all("precision" not in r.settings for r in rendered(live_server, "First look"))

    page.goto("/filters/toon")
    assert "Renders in fp32" in page.get_by_test_id("filter-precision").inner_text()
    page.get_by_test_id("precision-select").select_option("bf16")
    page.get_by_test_id("precision-select").locator("xpath=ancestor::form").get_by_role(
        "button", name="Save"
    ).click()
    page.wait_for_url("**/filters/toon")
    assert "renders in bf16 once it was measured" in page.content()
    assert "bf16" in page.get_by_test_id("filter-precision").inner_text()

    # The version page says why it is still fp32, then fills in the numbers by itself.
    page.goto(f"/versions/{ids['v1']}")
    section = page.get_by_test_id("version-precision")
    page.wait_for_selector("[data-testid=precision-in-use]", timeout=60_000)
    bf16 = section.locator("[data-testid=precision-row][data-precision=bf16]")
    max_diff = int(bf16.get_by_test_id("precision-max").inner_text())
    mean_diff = float(bf16.get_by_test_id("precision-mean").inner_text())
    assert max_diff >= mean_diff > 0
    row = bf16.inner_text()
    assert bf16.get_by_test_id("precision-on").inner_text() == (
        "3 of the 3 samples of the comparison “First look”"
    )
    assert "cpu" in row and "UTC" in row and "in use" in row
    assert "Renders in bf16" in section.get_by_test_id("precision-use").inner_text()
    page.screenshot(path=str(tmp_path / "version-precision.png"), full_page=True)

    page.goto(f"/versions/{ids['v2']}")
    page.wait_for_selector("[data-testid=precision-in-use]", timeout=60_000)
    page.goto("/filters/toon")
    assert page.get_by_test_id("precision-measured").inner_text() == "v2, v1"
    assert page.get_by_test_id("precision-unmeasured").count() == 0
    page.screenshot(path=str(tmp_path / "filter-precision.png"), full_page=True)

    compare(page, "In bf16")
    renders = rendered(live_server, "In bf16")
    assert len(renders) == 6
    assert all(r.settings["precision"] == "bf16" for r in renders)
    assert all(r.state == "done" for r in renders)
