"""Precision through the API and the pages: a filter opts into bf16, each version says what its
renders use and why, Measure queues a check, and the worker's numbers show up."""

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ganstudio.demo import DEMO_CHECKPOINTS_DIR
from ganstudio.roles import Role
from tests import imagegen
from tests.factories import bearer, make_sample
from tests.web.compare_helpers import make_set

V1 = DEMO_CHECKPOINTS_DIR / "v1.safetensors"  # trained: its output follows the photo


@pytest.fixture
def dev(tokens: dict[Role, str]) -> dict[str, str]:
    return bearer(tokens[Role.DEVELOPER])


def push(client: TestClient, headers: dict, label: str, path: Path = V1) -> dict:
    with path.open("rb") as handle:
        response = client.post(
            "/api/v1/filters/toon/versions",
            files={"checkpoint": (path.name, handle)},
            data={"label": label},
            headers=headers,
        )
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def toon(client: TestClient, app: FastAPI, dev: dict[str, str]) -> dict:
    """Filter `toon` (fp32) with v1 and v2, two samples and a comparison (the demo set)."""
    response = client.post("/api/v1/filters", json={"name": "Toon", "input_size": 64}, headers=dev)
    assert response.status_code == 201, response.text
    assert response.json()["precision"] == "fp32"
    v1 = push(client, dev, "v1")
    push(client, dev, "v2", DEMO_CHECKPOINTS_DIR / "v2.safetensors")
    ids = [make_sample(app, imagegen.distinct_png(n, size=(48, 32)), f"s{n}.png") for n in (0, 1)]
    make_set(app, "Demo", ids)
    made = client.post(
        "/api/v1/comparisons",
        json={"filter": "toon", "versions": ["v1", "v2"], "set": "Demo", "title": "first look"},
        headers=dev,
    )
    assert made.status_code == 201, made.text
    return v1


def test_a_filter_opts_into_bf16_and_each_version_says_what_its_renders_use(
    client: TestClient, app: FastAPI, dev: dict, toon: dict, tokens: dict[Role, str]
) -> None:
    assert toon["render_precision"] == {"chosen": "fp32", "used": "fp32", "reason": ""}
    assert toon["precision_checks"] == []

    refused = client.patch("/api/v1/filters/toon", json={"precision": "fp8"}, headers=dev)
    assert refused.status_code == 422
    viewer = bearer(tokens[Role.VIEWER])
    assert (
        client.patch("/api/v1/filters/toon", json={"precision": "bf16"}, headers=viewer).status_code
        == 403
    )
    patched = client.patch("/api/v1/filters/toon", json={"precision": "bf16"}, headers=dev)
    assert patched.status_code == 200, patched.text
    assert patched.json()["precision"] == "bf16"
    assert client.get("/api/v1/filters/toon", headers=dev).json()["precision"] == "bf16"

    version = client.get(f"/api/v1/versions/{toon['id']}", headers=dev).json()
    assert version["render_precision"] == {
        "chosen": "bf16",
        "used": "fp32",
        "reason": "bf16 is being measured for v1: renders in fp32 until then",
    }
    [queued] = version["precision_checks"]
    assert queued["precision"] == "bf16" and queued["state"] == "queued"
    assert queued["max_diff"] is None

    # A version pushed to a filter that opted in is queued at once.
    v3 = push(client, dev, "v3", DEMO_CHECKPOINTS_DIR / "v2-se.safetensors")
    assert [c["state"] for c in v3["precision_checks"]] == ["queued"]

    worker = app.state.worker
    assert [worker.precision_step() for _ in range(4)] == [True, True, True, False]
    listed = client.get("/api/v1/filters/toon/versions", headers=dev).json()["items"]
    for item in listed:
        [check] = item["precision_checks"]
        assert check["state"] == "done", check["error"]
        assert check["samples"] == 2 and check["device"] == "cpu"
        assert check["max_diff"] >= check["mean_diff"] > 0
        assert check["set_name"] == "the 2 samples of the comparison “first look”"
        assert item["render_precision"] == {"chosen": "bf16", "used": "bf16", "reason": ""}


def test_measure_queues_a_check_and_refuses_what_it_cannot_measure(
    client: TestClient, dev: dict, toon: dict, tokens: dict[Role, str]
) -> None:
    url = f"/api/v1/versions/{toon['id']}/precision-checks"
    made = client.post(url, json={"precision": "fp16"}, headers=dev)
    assert made.status_code == 202, made.text
    assert made.json()["precision"] == "fp16" and made.json()["state"] == "queued"
    again = client.post(url, json={"precision": "fp16"}, headers=dev)
    assert again.json()["id"] == made.json()["id"]  # still queued: the same check
    assert client.post(url, json={"precision": "fp32"}, headers=dev).status_code == 422
    assert client.post(url, json={}, headers=dev).status_code == 422
    viewer = bearer(tokens[Role.VIEWER])
    assert client.post(url, json={"precision": "bf16"}, headers=viewer).status_code == 403
    missing = "/api/v1/versions/999999/precision-checks"
    assert client.post(missing, json={"precision": "bf16"}, headers=dev).status_code == 404
    # The filter is fp32: measuring does not change what renders use.
    version = client.get(f"/api/v1/versions/{toon['id']}", headers=dev).json()
    assert version["render_precision"]["used"] == "fp32"


def test_the_pages_show_the_choice_the_reason_and_the_numbers(
    app: FastAPI, toon: dict, signed_in
) -> None:
    browser, csrf = signed_in(Role.DEVELOPER)
    page = browser.get("/filters/toon")
    assert 'data-testid="precision-select"' in page.text
    assert "Renders in <strong>fp32</strong>" in page.text
    saved = browser.post(
        "/filters/toon", data={"precision": "bf16", "csrf_token": csrf}, follow_redirects=False
    )
    assert saved.status_code == 303
    page = browser.get("/filters/toon")
    assert '<span data-testid="precision-unmeasured">v2, v1</span>' in page.text

    version = browser.get(f"/versions/{toon['id']}")
    assert "bf16 is being measured for v1: renders in fp32 until then" in version.text
    assert 'hx-get="/versions/' in version.text  # polls while the check is pending

    assert app.state.worker.precision_step()  # v1's check (the oldest)
    version = browser.get(f"/versions/{toon['id']}")
    assert 'data-testid="precision-in-use"' in version.text
    assert "of the 2 samples of the comparison “first look”" in version.text
    assert 'hx-get="/versions/' not in version.text  # nothing pending: no polling
    page = browser.get("/filters/toon")
    assert 'Measured: <span data-testid="precision-measured">v1</span>' in page.text
    assert '<span data-testid="precision-unmeasured">v2</span>' in page.text

    # The Measure button; a bad precision is refused with the reason, nothing queued.
    measured = browser.post(
        f"/versions/{toon['id']}/precision-checks",
        data={"precision": "fp16", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert measured.status_code == 303
    activity = browser.get("/filters/toon").text
    assert "asked to measure v1 of Toon in fp16 against fp32" in activity
    refused = browser.post(
        f"/versions/{toon['id']}/precision-checks",
        data={"precision": "int8", "csrf_token": csrf},
    )
    assert refused.status_code == 200 and "is not a precision" in refused.text
    fragment = browser.get(f"/versions/{toon['id']}/precision")
    assert fragment.status_code == 200 and "queued for measuring" in fragment.text
