"""Blob store: content addressing, atomic writes, sweep, and immutable serving."""

import io
import os
import time
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert
from sqlalchemy.orm import Session

from ganstudio.db.base import BLOB_REF
from ganstudio.roles import Role
from ganstudio.storage.blobs import BlobStore, BlobTooLargeError
from ganstudio.storage.sweep import referenced_blobs, sweep_blobs
from tests.factories import bearer

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


class BrokenStream(io.BytesIO):
    """A stream that fails half-way, like a client that disconnects mid-upload."""

    def read(self, size: int = -1) -> bytes:
        if self.tell() > 0:
            raise ConnectionError("client went away")
        return super().read(4)


def test_same_bytes_are_stored_once(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    first = store.put_bytes(b"hello")
    second = store.put_stream(io.BytesIO(b"hello"))
    assert first.created and not second.created
    assert first.sha256 == second.sha256
    path = store.path_for(first.sha256)
    assert path.relative_to(tmp_path).parts[:2] == (first.sha256[:2], first.sha256[2:4])
    assert store.read_bytes(first.sha256) == b"hello"
    assert len(list(store.iter_blobs())) == 1


def test_failed_or_oversize_writes_leave_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(ConnectionError):
        store.put_stream(BrokenStream(b"0123456789"))
    with pytest.raises(BlobTooLargeError, match="limit"):
        store.put_stream(io.BytesIO(b"x" * 3_000_000), max_bytes=2 * 1024 * 1024)
    assert list(store.iter_blobs()) == []
    assert list(store.iter_temp_files()) == []


def _age(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_sweep_removes_only_old_unreferenced_blobs(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    kept_by_row = store.put_bytes(b"named by a row").sha256
    orphan = store.put_bytes(b"nobody names me").sha256
    young_orphan = store.put_bytes(b"my row is about to commit").sha256
    for sha in (kept_by_row, orphan):
        _age(store.path_for(sha), 7200)
    leftover = store.tmp_dir / "incoming-crashed"
    leftover.write_bytes(b"half an upload")
    _age(leftover, 7200)

    metadata = MetaData()
    things = Table(
        "things",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("image_sha256", String(64), info=BLOB_REF),
        Column("other", String(64)),
    )
    engine = create_engine(f"sqlite:///{tmp_path / 'refs.db'}")
    metadata.create_all(engine)
    with Session(engine) as session:
        session.execute(insert(things).values(image_sha256=kept_by_row, other=orphan))
        referenced = referenced_blobs(session, metadata)
    assert referenced == {kept_by_row}  # only marked columns count

    report = sweep_blobs(store, referenced, grace_seconds=3600)
    assert report.removed == 1
    assert report.freed_bytes == len(b"nobody names me") + len(b"half an upload")
    assert "freed" in report.describe()
    assert store.exists(kept_by_row) and store.exists(young_orphan)
    assert not store.exists(orphan) and not leftover.exists()


def test_reuploading_an_old_blob_protects_it_from_the_sweep(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    sha = store.put_bytes(b"old bytes").sha256
    _age(store.path_for(sha), 7200)
    store.put_bytes(b"old bytes")  # a new row is about to name it
    assert sweep_blobs(store, set(), grace_seconds=3600).removed == 0


def test_blobs_are_served_immutable_private_with_etag(
    client: TestClient, app: FastAPI, tokens: dict[Role, str]
) -> None:
    sha = app.state.blobs.put_bytes(PNG_1PX).sha256
    auth = bearer(tokens[Role.VIEWER])
    response = client.get(f"/blobs/{sha}", headers=auth)
    assert response.status_code == 200
    assert response.content == PNG_1PX
    assert response.headers["content-type"] == "image/png"
    # Signed-in content: a shared cache must not keep it (was "public").
    assert response.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert response.headers["etag"] == f'"{sha}"'
    cached = client.get(f"/blobs/{sha}", headers={**auth, "If-None-Match": f'"{sha}"'})
    assert cached.status_code == 304 and cached.content == b""
    assert cached.headers["cache-control"].startswith("private")


def test_blob_urls_need_sign_in_and_a_known_sha(
    client: TestClient, app: FastAPI, tokens: dict[Role, str]
) -> None:
    sha = app.state.blobs.put_bytes(b"secret-ish").sha256
    assert client.get(f"/blobs/{sha}").status_code == 401
    auth = bearer(tokens[Role.VIEWER])
    for bad in ("0" * 64, "not-a-sha"):
        response = client.get(f"/blobs/{bad}", headers=auth)
        assert response.status_code == 404
        assert "sha256" in response.json()["detail"]
    response = client.get("/blobs/..%2F..%2Fsecret_key", headers=auth)
    assert response.status_code == 404
    assert app.state.settings.signing_key not in response.text
