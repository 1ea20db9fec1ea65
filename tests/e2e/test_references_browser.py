"""In a real browser: QA uploads a pairs zip, compares two versions on it, and the grid shows
PSNR/SSIM per cell and per column, with rows sortable by a version's worst."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganstudio.roles import Role
from tests import imagegen
from tests.e2e.conftest import LiveServer, sign_in_page
from tests.web.compare_helpers import make_bench

pytestmark = pytest.mark.browser


def photo(seed: int, size: tuple[int, int]) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_qa_uploads_pairs_and_the_grid_sorts_by_worst_ssim(
    page, live_server: LiveServer, tmp_path: Path
) -> None:
    make_bench(live_server.app, tmp_path, filenames=("other.png",))
    pairs = imagegen.zip_bytes(
        {
            "input/anna.png": photo(1, (48, 36)),
            "target/anna.png": photo(2, (96, 72)),
            "input/ben.png": photo(3, (48, 36)),
            "target/ben.png": photo(4, (48, 36)),
            "input/cleo.png": photo(5, (48, 36)),
            "target/cleo.jpg": photo(6, (48, 36)),
            "input/dora.png": photo(7, (48, 36)),  # no target
            "target/eve.png": photo(8, (48, 36)),  # no input
        }
    )
    archive = tmp_path / "pairs.zip"
    archive.write_bytes(pairs)
    sign_in_page(page, live_server.users[Role.QA])
    page.goto("/samples/upload")
    form = page.get_by_test_id("pairs-form")
    form.get_by_label("Pairs zip").set_input_files(str(archive))
    form.get_by_label("Add them to the set").fill("Pairs")
    form.get_by_role("button", name="Upload pairs").click()
    page.wait_for_selector("[data-testid=pairs-summary]")
    assert page.get_by_test_id("pairs-summary").inner_text().startswith("3 references attached")
    unmatched = page.get_by_test_id("unmatched").all_inner_texts()
    assert len(unmatched) == 2
    assert "input/dora.png" in unmatched[0] and "target/eve.png" in unmatched[1]

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Compare").click()
    page.get_by_label("Filter").select_option("toon")
    page.wait_for_selector("[data-testid=new-comparison]")
    for label in ("v1", "v2"):
        page.locator(f"input[name=versions][value={label}]").check()
    page.get_by_label("Sample set").select_option(label="Pairs")
    page.get_by_role("button", name="Create comparison").click()
    page.wait_for_url("**/c/*")
    # Renders land live; the metrics follow in the background and the page reloads for them.
    page.wait_for_function(
        "() => document.querySelectorAll('[data-metrics-state=done]').length === 6",
        timeout=60_000,
    )
    means = page.get_by_test_id("metric-mean").all_inner_texts()
    assert len(means) == 2 and all("PSNR" in m and "SSIM" in m for m in means)
    assert page.get_by_test_id("metric-foot-cell").count() == 2
    assert "LPIPS is off" in page.get_by_test_id("lpips-off").inner_text()

    v1 = page.get_by_test_id("column-head").first.get_attribute("data-col")
    ssim_of_v1 = page.evaluate(
        """(v1) => [...document.querySelectorAll('tr[data-testid=row]')].map((row) => [
             row.querySelector('[data-testid=row-name]').textContent,
             Number(row.querySelector(`td[data-col="${v1}"] [data-ssim]`).dataset.ssim)])""",
        v1,
    )
    worst_first = [name for name, _ in sorted(ssim_of_v1, key=lambda item: item[1])]
    assert worst_first != [name for name, _ in ssim_of_v1]  # a sort must move something
    page.get_by_test_id("sort-rows").select_option(label="worst SSIM of v1 first")
    page.get_by_test_id("sort-form").get_by_role("button", name="Sort").click()
    page.wait_for_url("**sort=ssim*")
    assert page.get_by_test_id("row-name").all_inner_texts() == worst_first


def test_a_refused_reference_says_why_where_qa_can_read_it(
    page, live_server: LiveServer, tmp_path: Path
) -> None:
    from tests.factories import make_sample

    sample_id = make_sample(live_server.app, photo(9, (160, 120)), "wide.png")
    square = tmp_path / "square.png"
    square.write_bytes(photo(10, (100, 100)))
    sign_in_page(page, live_server.users[Role.QA])
    page.goto(f"/samples/{sample_id}")
    form = page.get_by_test_id("reference-form")
    form.locator("input[type=file]").set_input_files(str(square))
    form.get_by_role("button", name="Save reference").click()
    message = page.locator(".flash", has_text="100×100")
    message.wait_for()
    # The refusal is on screen, below the sticky top bar: not scrolled away above it.
    box = message.bounding_box()
    bar = page.locator("header.topbar").bounding_box()
    assert box is not None and bar is not None
    assert box["y"] >= bar["y"] + bar["height"] and box["y"] < page.viewport_size["height"]
