"""Training metrics: pushed with a version (API, page), checked, shown, charted across the tree."""

import html
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ganstudio.roles import Role
from tests import checkpoints as ck
from tests.factories import bearer
from tests.web.agreement_helpers import seed_tree
from tests.web.test_versions import push, stored_versions


@pytest.fixture
def dev(tokens: dict[Role, str]) -> dict[str, str]:
    return bearer(tokens[Role.DEVELOPER])


@pytest.fixture
def toon(client: TestClient, dev: dict[str, str]) -> str:
    response = client.post("/api/v1/filters", json={"name": "Toon"}, headers=dev)
    assert response.status_code == 201, response.text
    return response.json()["slug"]


def test_push_with_metrics_stores_them_and_shows_them_in_the_api_and_on_the_page(
    client: TestClient, dev: dict, toon: str, tmp_path: Path
) -> None:
    nested = '{"step": 120000, "metrics": {"fid": 31.2, "loss_g": 0.81, "lpips_val": 0.21}}'
    pushed = push(client, dev, toon, ck.safetensors_file(tmp_path / "v1.st"), label="v1",
                  metrics=nested)  # fmt: skip
    assert pushed.status_code == 201, pushed.text
    expected = {"step": 120000, "fid": 31.2, "loss_g": 0.81, "lpips_val": 0.21}
    assert pushed.json()["metrics"] == expected
    version_id = pushed.json()["id"]
    one = client.get(f"/api/v1/versions/{version_id}", headers=dev).json()
    assert one["metrics"] == expected and isinstance(one["metrics"]["step"], int)
    listed = client.get(f"/api/v1/filters/{toon}/versions", headers=dev).json()["items"]
    assert listed[0]["metrics"] == expected
    bare = push(client, dev, toon, ck.safetensors_file(tmp_path / "v2.st", seed=2), label="v2")
    assert bare.status_code == 201 and bare.json()["metrics"] == {}

    page = client.get(f"/versions/{version_id}", headers=dev).text
    table = page.split('data-testid="training-metrics-table"')[1].split("</table>")[0]
    names = re.findall(r'<tr data-metric="([^"]+)"', table)
    assert names == ["step", "fid", "loss_g", "lpips_val"]  # the step first
    assert "120,000" in table and "31.2" in table and "lower is better" in table
    step_row = table.split('<tr data-metric="step"')[1].split("</tr>")[0]
    assert "training progress" in step_row and "better" not in step_row  # progress, no side
    none_page = client.get(f"/versions/{bare.json()['id']}", headers=dev).text
    assert "None were pushed with v2" in none_page


@pytest.mark.parametrize(
    ("metrics", "says"),
    [
        ("{fid: 31}", "are not valid JSON"),
        ("[31.2]", "must be a JSON object, not a list"),
        ('{"fid": "31.2"}', "give 'fid' a string; every value must be a number"),
        ('{"fid": true}', "give 'fid' true/false"),
        ('{"fid": null}', "give 'fid' null"),
        ('{"fid": NaN}', "contain NaN, which is not a finite number"),
        ('{"fid": 1e999}', "give 'fid' a value that is not a finite number"),
        ('{"fid": {"val": 3}}', "give 'fid' an object"),
        ('{"fid": 1, "metrics": {"fid": 2}}', "give 'fid' both outside and inside"),
        (
            "{" + ", ".join(f'"m{i}": {i}' for i in range(101)) + "}",
            "have 101 names; send at most 100",
        ),
        ('{"' + "x" * 65 + '": 1}', "have a name longer than 64 characters"),
        ('{"": 1}', "have an empty or unprintable name"),
    ],
)
def test_bad_metrics_are_refused_with_a_sentence_and_store_nothing(
    client: TestClient, app: FastAPI, dev: dict, toon: str, tmp_path: Path, metrics: str, says: str
) -> None:
    refused = push(client, dev, toon, ck.safetensors_file(tmp_path / "v1.st"), label="v1",
                   metrics=metrics)  # fmt: skip
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert says in detail
    assert "Send a JSON object of name → number" in detail  # and what to send instead
    assert stored_versions(app) == 0


def test_page_push_carries_metrics_and_refuses_bad_ones_in_words(signed_in, tmp_path: Path) -> None:
    browser, csrf = signed_in(Role.DEVELOPER)
    browser.post("/filters", data={"name": "Web Toon", "csrf_token": csrf})
    form = browser.get("/filters/web-toon").text
    assert 'name="metrics"' in form and "nested as" in form  # the field and its help
    path = ck.safetensors_file(tmp_path / "v1.safetensors")
    with path.open("rb") as handle:
        bad = browser.post(
            "/filters/web-toon/versions",
            files={"checkpoint": ("v1.safetensors", handle)},
            data={"label": "v1", "metrics": '{"fid": "good"}', "csrf_token": csrf},
        )
    assert bad.url.path == "/filters/web-toon"
    assert "give &#39;fid&#39; a string" in bad.text or "give 'fid' a string" in html.unescape(
        bad.text
    )
    with path.open("rb") as handle:
        pushed = browser.post(
            "/filters/web-toon/versions",
            files={"checkpoint": ("v1.safetensors", handle)},
            data={"label": "v1", "metrics": '{"fid": 28.5, "step": 5000}', "csrf_token": csrf},
        )
    assert pushed.url.path.startswith("/versions/")
    assert 'data-metric="fid"' in pushed.text and "28.5" in pushed.text


def points(page: str) -> dict[str, tuple[str, str]]:
    """Chart point label → (link, value)."""
    found = re.findall(
        r'<a href="(/versions/\d+)" data-testid="metric-point" data-label="([^"]+)" '
        r'data-value="([^"]+)"',
        page,
    )
    return {label: (href, value) for href, label, value in found}


def test_filter_page_charts_a_chosen_metric_across_the_tree(
    client: TestClient, app: FastAPI, dev: dict
) -> None:
    slug, ids = seed_tree(app)
    page = client.get(f"/filters/{slug}", headers=dev).text
    chart = page.split('data-testid="training-metrics-chart"')[1].split("</section>")[0]
    assert 'data-metric="fid"' in chart  # FID first by default
    assert points(chart) == {
        label: (f"/versions/{ids[label]}", value)
        for label, value in (("v1", "60.0"), ("v2", "45.0"), ("e1", "40.0"), ("v3", "42.0"),
                             ("e2", "35.5"))
    }  # fmt: skip
    assert "lower is better" in chart and "1 version without" in chart  # "bare" left out
    options = re.findall(
        r'<option value="([^"]+)"', chart.split('name="metric"')[1].split("</select>")[0]
    )
    assert options == ["fid", "loss_g"]  # the step is the x-axis option, not a metric
    # Without JavaScript the picker still works: a submit button that app.css hides under htmx.
    assert re.search(r'<button type="submit" class="js-fallback"[^>]*>Show chart<', chart)
    # Every charted version but the root is joined to its parent; e1 forks off main (dashed).
    assert chart.count('class="series ') == 4 and chart.count(' fork"') == 1
    # Steps on every charted version: the x axis is the training step.
    assert "training step →" in chart and 'data-testid="x-tick">2,000' in chart
    assert 'data-testid="y-tick"' in chart

    by_order = client.get(f"/filters/{slug}/metric-chart?metric=fid&axis=order", headers=dev).text
    x_labels = re.findall(r'data-testid="x-tick">([^<]+)<', by_order)
    assert x_labels == ["v1", "v2", "e1", "v3", "e2"]  # tree order: parents before children

    loss = client.get(f"/filters/{slug}/metric-chart?metric=loss_g", headers=dev).text
    assert list(points(loss)) == ["e1"] and "5 versions without" in loss

    asked_step = client.get(f"/filters/{slug}/metric-chart?metric=step", headers=dev).text
    assert 'data-metric="fid"' in asked_step and "step ↑" not in asked_step
    assert 'data-testid="axis-select"' in asked_step  # "Across" stays on offer

    unknown = client.get(f"/filters/{slug}?metric=nope", headers=dev)
    assert unknown.status_code == 200 and 'data-metric="fid"' in unknown.text
    assert client.get(f"/filters/{slug}?axis=sideways", headers=dev).status_code == 422


def test_a_filter_with_only_the_step_says_it_is_progress_not_a_metric(
    client: TestClient, app: FastAPI, dev: dict
) -> None:
    slug, _ids = seed_tree(
        app, rows=[("a", None, "main", {"step": 100}), ("b", "a", "main", {"epoch": 2})]
    )
    chart = (
        client.get(f"/filters/{slug}", headers=dev)
        .text.split('data-testid="training-metrics-chart"')[1]
        .split("</section>")[0]
    )
    assert 'data-testid="metric-chart"' not in chart
    assert "only their training step" in chart and "not a quality to chart" in chart


def test_a_filter_without_metrics_says_how_to_push_them(
    client: TestClient, dev: dict, toon: str
) -> None:
    page = client.get(f"/filters/{toon}", headers=dev).text
    assert 'data-testid="no-training-metrics"' in page and "--metrics FILE.json" in page
