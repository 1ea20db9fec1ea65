"""The samples API: uploads (mixed, zip, bad input), dedup, formats, tags, notes, masks, roles."""

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from ganstudio.config import Settings
from ganstudio.roles import Role
from tests import imagegen
from tests.conftest import make_settings
from tests.factories import bearer
from tests.web.samples_helpers import reasons, stored, upload

QA = Role.QA


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Small limits so the over-size and bomb cases stay small and fast.
    return make_settings(
        tmp_path / "data",
        max_image_bytes=150_000,
        max_image_pixels=4_000_000,
        max_zip_bytes=600_000,
        max_zip_members=12,
    )


def noise_png(side: int) -> bytes:
    pixels = np.random.default_rng(side).integers(0, 255, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_mixed_upload_takes_the_good_and_explains_each_bad_file(
    client: TestClient, app: FastAPI, tokens: dict[Role, str]
) -> None:
    hostile = "../../<script>alert(1)</script>" + "x" * 300 + ".png"
    result = upload(
        client,
        tokens[QA],
        [
            ("good.png", imagegen.distinct_png(1)),
            ("photo.jpg", imagegen.exif_rotated_jpeg()),
            (hostile, imagegen.distinct_png(2)),
            ("notes.png", b"this is a text file, not a PNG\n"),
            ("cut.jpg", imagegen.truncated_jpeg()),
            ("bomb.png", imagegen.huge_declared_png(3000, 3000)),
            ("huge.png", noise_png(400)),
            ("empty.jpg", b""),
            ("fake.zip", b"not a zip at all"),
        ],
        tags="smile",
    )
    assert [c["filename"] for c in result["created"]][:2] == ["good.png", "photo.jpg"]
    assert len(result["created"]) == 3
    shown = result["created"][2]["filename"]
    assert "/" not in shown and "<" not in shown and len(shown) <= 120
    why = reasons(result)
    assert "not an image" in why["notes.png"]
    assert "truncated" in why["cut.jpg"]
    assert "decompression" in why["bomb.png"]
    assert "over the 0.1 MiB limit" in why["huge.png"]
    assert "empty" in why["empty.jpg"]
    assert "not a zip archive" in why["fake.zip"]
    # Nothing orphaned: three samples, each with its original and its thumbnail.
    assert stored(app) == (3, 6)
    listed = client.get("/api/v1/samples?tag=smile", headers=bearer(tokens[QA])).json()
    assert listed["total"] == 3


def test_zip_archives_are_opened_safely(
    client: TestClient, app: FastAPI, tokens: dict[Role, str]
) -> None:
    archive = imagegen.zip_bytes(
        {
            "a.png": imagegen.distinct_png(10),
            "folder/b.jpg": imagegen.image_bytes("JPEG"),
            "../escape.png": imagegen.distinct_png(11),
            "/etc/abs.png": imagegen.distinct_png(12),
            "C:/win.png": imagegen.distinct_png(13),
            "text.png": b"hello",
            "inner.zip": imagegen.zip_bytes({"c.png": imagegen.distinct_png(14)}),
            "__MACOSX/._a.png": b"resource fork",
        }
    )
    result = upload(client, tokens[QA], [("batch.zip", archive)], set="From zip")
    assert sorted(c["filename"] for c in result["created"]) == [
        "batch.zip › a.png",
        "batch.zip › folder/b.jpg",
    ]
    why = reasons(result)
    assert len(why) == 5
    for name in ("batch.zip › _/escape.png", "batch.zip › etc/abs.png", "batch.zip › C_/win.png"):
        assert "climbs out" in why[name]
    assert "not an image" in why["batch.zip › text.png"]
    assert "Archives inside archives" in why["batch.zip › inner.zip"]
    assert result["set"]["name"] == "From zip"
    assert stored(app) == (2, 4)


def test_zip_bombs_are_refused_before_extracting(
    client: TestClient, app: FastAPI, tokens: dict[Role, str]
) -> None:
    zeros = imagegen.zip_bytes({f"z{i}.png": b"\0" * 200_000 for i in range(4)})
    assert len(zeros) < 10_000  # tiny on the wire, 800 kB unpacked
    many = imagegen.zip_bytes({f"m{i}.png": imagegen.distinct_png(i) for i in range(13)})
    big_member = imagegen.zip_bytes(
        {"big.png": b"\0" * 160_000, "ok.png": imagegen.distinct_png(1)}
    )
    result = upload(
        client, tokens[QA], [("zeros.zip", zeros), ("many.zip", many), ("big.zip", big_member)]
    )
    why = reasons(result)
    assert "zip-bomb guard" in why["zeros.zip"]
    assert "13 files, more than the 12 allowed" in why["many.zip"]
    assert "over the 0.1 MiB limit" in why["big.zip › big.png"]
    assert [c["filename"] for c in result["created"]] == ["big.zip › ok.png"]
    assert stored(app) == (1, 2)


def test_zip_member_that_expands_past_its_declared_size_is_stopped(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("liar.png", b"\0" * 400_000)
    data = bytearray(buffer.getvalue())
    # Rewrite the declared uncompressed size (local header and central directory) to 100 bytes.
    for offset, field in ((22, 4), (data.rfind(b"PK\x01\x02") + 24, 4)):
        data[offset : offset + field] = (100).to_bytes(4, "little")
    result = upload(client, tokens[QA], [("liar.zip", bytes(data))])
    assert result["created"] == []
    assert len(result["rejected"]) == 1
    assert "liar.png" in result["rejected"][0]["filename"]


def test_same_bytes_again_is_the_existing_sample_with_new_tags_and_set(
    client: TestClient, app: FastAPI, tokens: dict[Role, str]
) -> None:
    data = imagegen.distinct_png(5)
    first = upload(client, tokens[QA], [("one.png", data)], tags="smile")
    again = upload(
        client,
        tokens[QA],
        [("copy.png", data), ("copy2.png", data)],
        tags="glasses, Smile",
        set="Faces",
    )
    sample_id = first["created"][0]["id"]
    assert again["created"] == []
    assert [e["id"] for e in again["existing"]] == [sample_id, sample_id]
    detail = client.get(f"/api/v1/samples/{sample_id}", headers=bearer(tokens[QA])).json()
    assert detail["tags"] == ["glasses", "smile"]
    assert detail["filename"] == "one.png"
    assert [s["name"] for s in detail["sets"]] == ["Faces"]
    sets = client.get("/api/v1/sets", headers=bearer(tokens[QA])).json()["items"]
    assert sets[0]["sample_count"] == 1
    assert stored(app) == (1, 2)


def test_formats_are_recorded_and_thumbnails_render(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    files = [
        ("rotated.jpg", imagegen.exif_rotated_jpeg((80, 40))),
        ("cmyk.jpg", imagegen.image_bytes("JPEG", (30, 20), (0, 255, 255, 0), mode="CMYK")),
        ("deep.png", imagegen.sixteen_bit_png((30, 20))),
        ("palette.png", imagegen.palette_png_with_transparency()),
        ("alpha.webp", imagegen.image_bytes("WEBP", (30, 20), (0, 0, 255, 0), mode="RGBA")),
        ("scan.tiff", imagegen.image_bytes("TIFF", (30, 20))),
    ]
    result = upload(client, tokens[QA], files)
    assert len(result["created"]) == 6, result
    ids = {c["filename"]: c["id"] for c in result["created"]}
    headers = bearer(tokens[QA])

    def detail(name: str) -> dict:
        return client.get(f"/api/v1/samples/{ids[name]}", headers=headers).json()

    def thumb_pixel(name: str, xy: tuple[int, int]) -> tuple[int, ...]:
        response = client.get(detail(name)["thumbnail_url"], headers=headers)
        assert response.headers["content-type"] == "image/webp"
        assert "immutable" in response.headers["cache-control"]
        image = Image.open(io.BytesIO(response.content))
        assert image.mode == "RGB"
        return image.getpixel(xy)

    rotated = detail("rotated.jpg")
    assert (rotated["width"], rotated["height"], rotated["format"]) == (40, 80, "JPEG")
    original = client.get(rotated["image_url"], headers=headers).content
    assert original == files[0][1]  # the original bytes, untouched
    assert detail("cmyk.jpg")["mode"] == "CMYK"
    red = thumb_pixel("cmyk.jpg", (10, 10))
    assert red[0] > 220 and red[1] < 40
    assert detail("deep.png")["mode"].startswith("I")
    assert abs(thumb_pixel("deep.png", (10, 10))[0] - 156) <= 3
    assert thumb_pixel("palette.png", (15, 5)) >= (250, 250, 250)
    assert thumb_pixel("alpha.webp", (10, 10)) >= (250, 250, 250)
    assert detail("scan.tiff")["format"] == "TIFF"


def test_tags_add_remove_replace_rename_and_filter(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    headers = bearer(tokens[QA])
    a, b, c = (
        upload(client, tokens[QA], [(f"{n}.png", imagegen.distinct_png(i))])["created"][0]["id"]
        for i, n in enumerate("abc")
    )
    patch = client.patch(
        f"/api/v1/samples/{a}", json={"add_tags": ["Smile", "glasses"]}, headers=headers
    )
    assert patch.json()["tags"] == ["glasses", "smile"]
    client.patch(f"/api/v1/samples/{b}", json={"add_tags": ["smile"]}, headers=headers)
    client.patch(
        f"/api/v1/samples/{c}", json={"tags": ["closed eyes", "<b>bold</b>"]}, headers=headers
    )
    assert client.patch(
        f"/api/v1/samples/{a}", json={"remove_tags": ["glasses"]}, headers=headers
    ).json()["tags"] == ["smile"]
    client.patch(f"/api/v1/samples/{a}", json={"add_tags": ["glasses"]}, headers=headers)

    def ids(query: str) -> list[int]:
        return [
            s["id"] for s in client.get(f"/api/v1/samples?{query}", headers=headers).json()["items"]
        ]

    assert ids("tag=smile") == [b, a]
    assert ids("tag=smile&tag=glasses") == [a]
    assert ids("tag=smile,glasses") == [a]
    assert ids("tag=nothing") == []
    counts = {t["name"]: t["count"] for t in client.get("/api/v1/tags", headers=headers).json()}
    assert counts == {"smile": 2, "glasses": 1, "closed eyes": 1, "<b>bold</b>": 1}
    renamed = client.patch("/api/v1/tags/glasses", json={"name": "Spectacles"}, headers=headers)
    assert renamed.json() == {"name": "spectacles", "count": 1}
    merged = client.patch("/api/v1/tags/<b>bold</b>", json={"name": "smile"}, headers=headers)
    assert merged.json() == {"name": "smile", "count": 3}
    assert ids("tag=smile") == [c, b, a]
    missing = client.patch("/api/v1/tags/nope", json={"name": "x"}, headers=headers)
    assert missing.status_code == 404
    too_long = client.patch(f"/api/v1/samples/{a}", json={"add_tags": ["x" * 41]}, headers=headers)
    assert too_long.status_code == 422
    assert "longer than 40" in too_long.json()["detail"]


def test_note_archive_and_no_hard_delete(client: TestClient, tokens: dict[Role, str]) -> None:
    headers = bearer(tokens[QA])
    sid = upload(client, tokens[QA], [("n.png", imagegen.distinct_png(3))])["created"][0]["id"]
    note = "<script>alert('x')</script> eyes half closed"
    body = client.patch(f"/api/v1/samples/{sid}", json={"note": note}, headers=headers).json()
    assert body["note"] == note
    client.patch(f"/api/v1/samples/{sid}", json={"archived": True}, headers=headers)
    assert client.get("/api/v1/samples", headers=headers).json()["total"] == 0
    archived = client.get("/api/v1/samples?archived=true", headers=headers).json()
    assert [s["id"] for s in archived["items"]] == [sid]
    assert client.delete(f"/api/v1/samples/{sid}", headers=headers).status_code == 405
    # Uploading the same bytes again brings it back.
    again = upload(client, tokens[QA], [("n.png", imagegen.distinct_png(3))])
    assert again["existing"][0]["id"] == sid
    assert client.get("/api/v1/samples", headers=headers).json()["total"] == 1


def test_masks_must_match_the_sample_and_can_be_replaced(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    headers = bearer(tokens[QA])
    sid = upload(client, tokens[QA], [("m.jpg", imagegen.exif_rotated_jpeg((80, 40)))])["created"][
        0
    ]["id"]

    def put(data: bytes):
        return client.put(
            f"/api/v1/samples/{sid}/mask", files={"mask": ("mask.png", data)}, headers=headers
        )

    wrong = put(imagegen.image_bytes("PNG", (80, 40), 255, mode="L"))
    assert wrong.status_code == 422
    assert "mask is 80×40 but the sample is 40×80" in wrong.json()["detail"]
    assert put(b"garbage").status_code == 422
    first = put(imagegen.image_bytes("PNG", (40, 80), (255, 255, 255)))
    assert first.status_code == 200
    mask_url = first.json()["mask_url"]
    mask = Image.open(io.BytesIO(client.get(mask_url, headers=headers).content))
    assert (mask.mode, mask.size) == ("L", (40, 80))
    second = put(imagegen.image_bytes("PNG", (40, 80), 7, mode="L"))
    assert second.json()["mask_url"] != mask_url


def test_list_is_paginated_newest_first_and_filtered_by_name_and_set(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    headers = bearer(tokens[QA])
    files = [(f"img_{i}.png", imagegen.distinct_png(100 + i)) for i in range(7)]
    files.append(("other_100%.png", imagegen.distinct_png(99)))
    created = upload(client, tokens[QA], files)["created"]
    ids = [c["id"] for c in created]
    page = client.get("/api/v1/samples?per_page=3&page=3", headers=headers).json()
    assert (page["total"], page["page"], page["per_page"]) == (8, 3, 3)
    assert [s["id"] for s in page["items"]] == ids[1::-1]
    by_name = client.get("/api/v1/samples?q=IMG_", headers=headers).json()
    assert by_name["total"] == 7
    percent = client.get("/api/v1/samples?q=100%25", headers=headers).json()
    assert [s["filename"] for s in percent["items"]] == ["other_100%.png"]
    sset = client.post("/api/v1/sets", json={"name": "Pick"}, headers=headers).json()
    client.put(
        f"/api/v1/sets/{sset['id']}/samples", json={"sample_ids": [ids[4], ids[0]]}, headers=headers
    )
    in_set = client.get("/api/v1/samples?set=Pick", headers=headers).json()
    assert [s["id"] for s in in_set["items"]] == [ids[4], ids[0]]
    assert client.get("/api/v1/samples?per_page=501", headers=headers).status_code == 422
    assert client.get("/api/v1/samples?set=Nope", headers=headers).status_code == 404


def test_viewers_read_but_cannot_write(client: TestClient, tokens: dict[Role, str]) -> None:
    sid = upload(client, tokens[QA], [("v.png", imagegen.distinct_png(8))])["created"][0]["id"]
    viewer = bearer(tokens[Role.VIEWER])
    assert client.get("/api/v1/samples", headers=viewer).json()["total"] == 1
    assert client.get(f"/api/v1/samples/{sid}", headers=viewer).status_code == 200
    assert client.get("/api/v1/tags", headers=viewer).status_code == 200
    refused = [
        client.post(
            "/api/v1/samples", files={"files": ("x.png", imagegen.distinct_png(9))}, headers=viewer
        ),
        client.patch(f"/api/v1/samples/{sid}", json={"note": "x"}, headers=viewer),
        client.put(f"/api/v1/samples/{sid}/mask", files={"mask": ("m.png", b"x")}, headers=viewer),
        client.post("/api/v1/samples/bulk", json={"ids": [sid], "archived": True}, headers=viewer),
        client.patch("/api/v1/tags/x", json={"name": "y"}, headers=viewer),
        client.post("/api/v1/sets", json={"name": "nope"}, headers=viewer),
    ]
    for response in refused:
        assert response.status_code == 403
        assert "needs the 'qa' role" in response.json()["detail"]
    assert client.get("/api/v1/samples", headers=viewer).json()["total"] == 1
    developer = bearer(tokens[Role.DEVELOPER])
    assert (
        client.patch(f"/api/v1/samples/{sid}", json={"note": "ok"}, headers=developer).status_code
        == 200
    )


def test_bulk_update_and_unknown_ids(client: TestClient, tokens: dict[Role, str]) -> None:
    headers = bearer(tokens[QA])
    created = upload(
        client, tokens[QA], [(f"b{i}.png", imagegen.distinct_png(50 + i)) for i in range(3)]
    )["created"]
    ids = [c["id"] for c in created]
    done = client.post(
        "/api/v1/samples/bulk", json={"ids": ids[:2], "add_tags": ["group"]}, headers=headers
    )
    assert done.json() == {"updated": 2, "message": "Tagged 2 sample(s) with group.", "set": None}
    assert client.get("/api/v1/samples?tag=group", headers=headers).json()["total"] == 2
    unknown = client.post("/api/v1/samples/bulk", json={"ids": [ids[0], 999]}, headers=headers)
    assert unknown.status_code == 404
    assert "999" in unknown.json()["detail"]
    assert client.get("/api/v1/samples/999", headers=headers).status_code == 404
    assert client.get("/api/v1/samples/abc", headers=headers).status_code == 422


def test_upload_without_files_is_a_clear_422(client: TestClient, tokens: dict[Role, str]) -> None:
    response = client.post("/api/v1/samples", data={"tags": "x"}, headers=bearer(tokens[QA]))
    assert response.status_code == 422
    assert "files" in response.json()["detail"]
