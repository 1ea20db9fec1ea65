"""GAN Studio on an S3-compatible blob store (moto): upload a sample, push a version, render,
download through the API, and nothing large lands in the data dir."""

import io
import zipfile
from pathlib import Path

from fastapi.testclient import TestClient
from PIL import Image

from ganstudio.app import create_app
from ganstudio.config import Settings
from ganstudio.roles import Role
from ganstudio.storage.s3 import S3BlobStore
from tests import checkpoints as ck
from tests import imagegen
from tests.conftest import make_settings
from tests.factories import bearer, make_token, make_user
from tests.s3 import S3Server

SMALL = 64 * 1024  # the database, its journal and the secret key may be larger than nothing


def test_the_app_keeps_every_blob_in_the_bucket(
    settings: Settings, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    data_dir = settings.data_dir  # a migrated database, no blobs
    app = create_app(make_settings(data_dir, blob_url=s3_server.blob_url(s3_bucket)))
    assert isinstance(app.state.blobs, S3BlobStore)
    make_user(app, role=Role.ADMIN, name="ana")
    auth = bearer(make_token(app, name="ana"))
    photo = imagegen.distinct_png(1, size=(80, 60))
    with TestClient(app) as client:
        uploaded = client.post(
            "/api/v1/samples", files=[("files", ("p.png", photo, "image/png"))], headers=auth
        )
        assert uploaded.status_code == 200, uploaded.text
        sample_id = uploaded.json()["created"][0]["id"]
        slug = client.post(
            "/api/v1/filters", json={"name": "Toon", "input_size": 64}, headers=auth
        ).json()["slug"]
        versions = []
        for seed in range(2):
            path = ck.safetensors_file(tmp_path / f"v{seed}.safetensors", seed=seed)
            with path.open("rb") as handle:
                pushed = client.post(
                    f"/api/v1/filters/{slug}/versions",
                    files={"checkpoint": (path.name, handle)},
                    data={"label": f"v{seed}"},
                    headers=auth,
                )
            assert pushed.status_code == 201, pushed.text
            versions.append(pushed.json())
        created = client.post(
            "/api/v1/comparisons",
            json={"filter": slug, "versions": ["v0", "v1"], "samples": [sample_id]},
            headers=auth,
        )
        assert created.status_code == 201, created.text
        assert app.state.worker.run_until_idle() == 2

        grid = client.get(f"/api/v1/comparisons/{created.json()['slug']}", headers=auth).json()
        assert {cell["state"] for cell in grid["cells"]} == {"done"}
        render = client.get(grid["cells"][0]["render_url"], headers=auth)
        assert render.status_code == 200 and render.headers["content-type"] == "image/png"
        assert render.headers["etag"] and "private" in render.headers["cache-control"]
        assert Image.open(io.BytesIO(render.content)).size == (64, 48)
        assert client.get(grid["cells"][0]["render_url"]).status_code == 401  # behind sign-in
        checkpoint = client.get(f"/api/v1/versions/{versions[0]['id']}/checkpoint", headers=auth)
        assert checkpoint.content == (tmp_path / "v0.safetensors").read_bytes()
        assert 'filename="v0.safetensors"' in checkpoint.headers["content-disposition"]
        archive = client.get(f"/api/v1/comparisons/{created.json()['slug']}/download", headers=auth)
        assert archive.status_code == 200
        assert len(zipfile.ZipFile(io.BytesIO(archive.content)).namelist()) == 3  # input, 2 renders
        assert client.get("/healthz").json()["blobs"] == "ok"

    listed = s3_server.client().list_objects_v2(Bucket=s3_bucket)["Contents"]
    # The photo, its thumbnail, two checkpoints, two renders and their thumbnails (at least).
    assert len(listed) >= 8 and all(entry["Key"].startswith("blobs/") for entry in listed)
    on_disk = {
        path.relative_to(data_dir): path.stat().st_size
        for path in data_dir.rglob("*")
        if path.is_file() and not path.name.startswith("ganstudio.db")
    }
    assert all(size <= SMALL for size in on_disk.values()), on_disk
    assert not (data_dir / "blobs").exists()
