"""References through the API: one at a time, zips of pairs, and bad input."""

import io

import numpy as np
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from ganstudio.roles import Role
from tests import imagegen
from tests.factories import bearer, make_sample

QA = Role.QA


def png(size: tuple[int, int], seed: int, fmt: str = "PNG") -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def post_pairs(client: TestClient, token: str, data: bytes, name: str = "pairs.zip", **fields):
    return client.post(
        "/api/v1/samples/pairs",
        files={"file": (name, data, "application/zip")},
        data=fields,
        headers=bearer(token),
    )


def test_reference_put_shows_in_the_sample_and_can_be_removed(
    client: TestClient, app: FastAPI, tokens: dict[Role, str]
) -> None:
    sample_id = make_sample(app, png((60, 40), 1), "cat.png")
    target = png((120, 80), 2)
    url = f"/api/v1/samples/{sample_id}/reference"
    viewer = client.put(
        url, files={"reference": ("t.png", target)}, headers=bearer(tokens[Role.VIEWER])
    )
    assert viewer.status_code == 403
    answer = client.put(url, files={"reference": ("t.png", target)}, headers=bearer(tokens[QA]))
    assert answer.status_code == 200, answer.text
    reference_url = answer.json()["reference_url"]
    assert reference_url and client.get(reference_url, headers=bearer(tokens[QA])).content == target
    misshapen = client.put(
        url, files={"reference": ("sq.png", png((80, 80), 3))}, headers=bearer(tokens[QA])
    )
    assert misshapen.status_code == 422
    assert "80×80" in misshapen.json()["detail"] and "60×40" in misshapen.json()["detail"]
    broken = client.put(
        url, files={"reference": ("x.png", b"not an image")}, headers=bearer(tokens[QA])
    )
    assert broken.status_code == 422 and "refused" in broken.json()["detail"]
    # Refusals changed nothing.
    read = client.get(f"/api/v1/samples/{sample_id}", headers=bearer(tokens[QA])).json()
    assert read["reference_url"] == reference_url
    removed = client.delete(url, headers=bearer(tokens[QA]))
    assert removed.status_code == 200 and removed.json()["reference_url"] is None


def test_pairs_zip_matches_by_name_lists_the_unmatched_and_loses_nothing(
    client: TestClient, app: FastAPI, tokens: dict[Role, str]
) -> None:
    data = imagegen.zip_bytes(
        {
            "input/cat.jpg": png((60, 40), 10, "JPEG"),
            "target/cat.png": png((120, 80), 11),  # same stem, another extension and size
            "input/dog.png": png((40, 40), 12),
            "target/DOG.webp": png((40, 40), 13, "WEBP"),  # names match whatever the case
            "input/lonely.png": png((30, 30), 14),  # no target
            "target/orphan.png": png((30, 30), 15),  # no input
            "input/wide.png": png((80, 40), 16),
            "target/wide.png": png((40, 40), 17),  # the wrong shape: refused, input kept
            "readme.txt": b"pairs",
        }
    )
    answer = post_pairs(client, tokens[QA], data, tags="paired", set="Pairs")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    created = {a["filename"].split(" › ")[1]: a["id"] for a in body["created"]}
    assert set(created) == {"input/cat.jpg", "input/dog.png", "input/wide.png"}
    assert {r["filename"].split(" › ")[1] for r in body["references"]} == {
        "target/cat.png",
        "target/DOG.webp",
    }
    assert [n.split(" › ")[1] for n in body["inputs_without_target"]] == ["input/lonely.png"]
    assert [n.split(" › ")[1] for n in body["targets_without_input"]] == ["target/orphan.png"]
    rejected = {r["filename"].split(" › ")[1]: r["reason"] for r in body["rejected"]}
    assert set(rejected) == {"target/wide.png", "readme.txt"}
    assert "40×40" in rejected["target/wide.png"] and "80×40" in rejected["target/wide.png"]
    assert body["set"]["name"] == "Pairs"
    for name, sample_id in created.items():
        sample = client.get(f"/api/v1/samples/{sample_id}", headers=bearer(tokens[QA])).json()
        assert (sample["reference_url"] is not None) == (name != "input/wide.png")
        assert sample["tags"] == ["paired"] and sample["filename"] == name.split("/")[1]
    # Every file is accounted for: in, attached, listed unmatched, or refused with a reason.
    listed = (
        len(body["created"])
        + len(body["existing"])
        + len(body["references"])
        + len(body["inputs_without_target"])
        + len(body["targets_without_input"])
        + len(body["rejected"])
    )
    assert listed == 9
    # The same zip again: the samples exist, the references are attached again.
    again = post_pairs(client, tokens[QA], data).json()
    assert len(again["existing"]) == 3 and not again["created"] and len(again["references"]) == 2


def test_bad_pairs_zips_get_a_sentence_and_change_nothing(
    client: TestClient, app: FastAPI, tokens: dict[Role, str]
) -> None:
    not_zip = post_pairs(client, tokens[QA], b"hello", name="pairs.zip")
    assert not_zip.status_code == 422 and "is not a zip archive" in not_zip.json()["detail"]
    broken = post_pairs(client, tokens[QA], b"PK\x03\x04" + b"\x00" * 40)
    assert broken.status_code == 422 and "not a readable zip" in broken.json()["detail"]
    flat = post_pairs(client, tokens[QA], imagegen.zip_bytes({"cat.png": png((10, 10), 1)}))
    assert flat.status_code == 422 and "no input/ or target/ folder" in flat.json()["detail"]
    clash = post_pairs(
        client,
        tokens[QA],
        imagegen.zip_bytes(
            {
                "input/a.png": png((10, 10), 2),
                "input/a.jpg": png((10, 10), 3, "JPEG"),
                "target/a.png": png((10, 10), 4),
            }
        ),
    ).json()
    assert not clash["created"] and len(clash["rejected"]) == 3
    assert all("ambiguous" in r["reason"] for r in clash["rejected"])
    viewer = post_pairs(client, tokens[Role.VIEWER], imagegen.zip_bytes({"input/a.png": b"x"}))
    assert viewer.status_code == 403
    listed = client.get("/api/v1/samples", headers=bearer(tokens[QA])).json()
    assert listed["total"] == 0


def test_reference_and_pairs_routes_take_the_upload_limit() -> None:
    from ganstudio.app import ROUTERS
    from ganstudio.web.limits import upload_routes

    uploads = upload_routes(route for router in ROUTERS for route in router.routes)
    for method, path in (
        ("PUT", "/api/v1/samples/3/reference"),
        ("POST", "/api/v1/samples/pairs"),
        ("POST", "/samples/3/reference"),
        ("POST", "/samples/upload/pairs"),
    ):
        assert any(upload.matches(method, path) for upload in uploads), (method, path)


def test_sample_page_attaches_refuses_and_removes_a_reference(app: FastAPI, signed_in) -> None:
    sample_id = make_sample(app, png((60, 40), 1), "cat.png")
    browser, csrf = signed_in(QA)
    page = browser.get(f"/samples/{sample_id}").text
    assert 'data-testid="no-reference"' in page and "within 2% of the sample" in page
    refused = browser.post(
        f"/samples/{sample_id}/reference",
        files={"reference": ("sq.png", png((50, 50), 2), "image/png")},
        data={"csrf_token": csrf},
    )
    assert refused.status_code == 200 and "50×50" in refused.text and "60×40" in refused.text
    assert 'data-testid="no-reference"' in refused.text
    saved = browser.post(
        f"/samples/{sample_id}/reference",
        files={"reference": ("t.png", png((30, 20), 3), "image/png")},
        data={"csrf_token": csrf},
    )
    assert 'data-testid="reference-image"' in saved.text and "Reference saved" in saved.text
    removed = browser.post(f"/samples/{sample_id}/reference/remove", data={"csrf_token": csrf})
    assert 'data-testid="no-reference"' in removed.text and "Reference removed" in removed.text


def test_the_feed_names_the_photo_and_an_identical_reference_is_not_logged_twice(
    client: TestClient, app: FastAPI, tokens: dict[Role, str], signed_in
) -> None:
    from sqlalchemy import func, select

    from ganstudio.db.tables import AuditEvent

    sample_id = make_sample(app, png((60, 40), 1), "cat.png")
    target = png((60, 40), 2)
    for _ in range(2):  # e.g. the same pairs zip uploaded twice
        answer = client.put(
            f"/api/v1/samples/{sample_id}/reference",
            files={"reference": ("t.png", target)},
            headers=bearer(tokens[QA]),
        )
        assert answer.status_code == 200
    with app.state.sessions() as session:
        logged = session.scalar(select(func.count()).where(AuditEvent.action == "sample.reference"))
    assert logged == 1
    browser, _ = signed_in(Role.VIEWER)
    assert "attached the reference image of cat.png" in browser.get("/").text
