"""Blob store contract (both backends): content addressing, atomic writes, verified reads, the
sweep; and immutable serving through the app."""

import io
import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert
from sqlalchemy.orm import Session

from ganstudio.db.base import BLOB_REF
from ganstudio.roles import Role
from ganstudio.storage.blobs import (
    BlobCorruptError,
    BlobNotFoundError,
    BlobStore,
    BlobTooLargeError,
    LocalBlobStore,
)
from ganstudio.storage.sweep import referenced_blobs, sweep_blobs
from tests.factories import bearer
from tests.s3 import damage_blob

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
LATER = 7200  # seconds: `now` for a sweep that finds every blob past a 3600 s grace


class BrokenStream(io.BytesIO):
    """A stream that fails half-way, like a client that disconnects mid-upload."""

    def read(self, size: int = -1) -> bytes:
        if self.tell() > 0:
            raise ConnectionError("client went away")
        return super().read(4)


def test_same_bytes_are_stored_once(blob_store: BlobStore) -> None:
    first = blob_store.put_bytes(b"hello")
    second = blob_store.put_stream(io.BytesIO(b"hello"))
    assert first.created and not second.created
    assert first.sha256 == second.sha256
    assert blob_store.exists(first.sha256)
    assert blob_store.read_bytes(first.sha256) == b"hello"
    with blob_store.open(first.sha256) as handle:
        assert handle.size == 5
        assert handle.read(2) + handle.read() == b"hello"
    assert [blob.sha256 for blob in blob_store.iter_blobs()] == [first.sha256]


def test_local_blobs_live_under_two_levels_of_their_sha(tmp_path) -> None:
    store = LocalBlobStore(tmp_path)
    sha = store.put_bytes(b"hello").sha256
    path = store.path_for(sha)
    assert path.relative_to(tmp_path).parts == (sha[:2], sha[2:4], sha)


def test_unknown_blobs_are_not_found(blob_store: BlobStore) -> None:
    for name in ("0" * 64, "not-a-sha", "../secret_key"):
        assert not blob_store.exists(name)
        with pytest.raises(BlobNotFoundError):
            blob_store.open(name)


def test_failed_or_oversize_writes_leave_nothing(blob_store: BlobStore) -> None:
    with pytest.raises(ConnectionError):
        blob_store.put_stream(BrokenStream(b"0123456789"))
    with pytest.raises(BlobTooLargeError, match="limit"):
        blob_store.put_stream(io.BytesIO(b"x" * 3_000_000), max_bytes=2 * 1024 * 1024)
    assert list(blob_store.iter_blobs()) == []
    assert list(blob_store.iter_leftovers()) == []


def test_a_damaged_blob_fails_loudly_and_writing_it_again_repairs_it(
    blob_store: BlobStore, caplog: pytest.LogCaptureFixture
) -> None:
    sha = blob_store.put_bytes(b"the real bytes").sha256
    damage_blob(blob_store, sha)
    with pytest.raises(BlobCorruptError, match="damaged") as raised:
        blob_store.read_bytes(sha)
    assert raised.value.sha256 == sha
    assert sha in caplog.text  # logged, not only raised
    assert not blob_store.exists(sha)  # taken out: nobody is served the damaged bytes
    assert blob_store.put_bytes(b"the real bytes").created
    assert blob_store.read_bytes(sha) == b"the real bytes"


def test_a_damaged_blob_read_as_a_stream_fails_at_its_end(blob_store: BlobStore) -> None:
    sha = blob_store.put_bytes(b"0123456789" * 1000).sha256
    damage_blob(blob_store, sha, b"9876543210" * 1000)  # same size, other bytes
    with blob_store.open(sha) as handle, pytest.raises(BlobCorruptError):  # noqa: PT012
        while handle.read(4096):
            pass


def test_sweep_removes_only_old_unreferenced_blobs(blob_store: BlobStore, tmp_path) -> None:
    kept_by_row = blob_store.put_bytes(b"named by a row").sha256
    orphan = blob_store.put_bytes(b"nobody names me").sha256
    leftover = blob_store.spool_dir / "incoming-crashed"  # a write killed half-way
    leftover.write_bytes(b"half an upload")

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

    # Young: the row that will name an orphan may be about to commit.
    assert sweep_blobs(blob_store, referenced, grace_seconds=3600).removed == 0
    assert blob_store.exists(orphan) and leftover.exists()

    report = sweep_blobs(blob_store, referenced, grace_seconds=3600, now=time.time() + LATER)
    assert report.removed == 1
    assert report.freed_bytes == len(b"nobody names me") + len(b"half an upload")
    assert "freed" in report.describe()
    assert blob_store.exists(kept_by_row)
    assert not blob_store.exists(orphan) and not leftover.exists()


def test_reuploading_an_old_blob_protects_it_from_the_sweep(blob_store: BlobStore) -> None:
    sha = blob_store.put_bytes(b"old bytes").sha256
    (first,) = blob_store.iter_blobs()
    time.sleep(1.1)  # S3's LastModified counts whole seconds
    assert not blob_store.put_bytes(b"old bytes").created  # a new row is about to name it
    (second,) = blob_store.iter_blobs()
    assert second.modified > first.modified
    # A sweep that would have taken the first write keeps the renewed one.
    now = first.modified + 3600 + 0.5
    assert sweep_blobs(blob_store, set(), grace_seconds=3600, now=now).removed == 0
    assert blob_store.read_bytes(sha) == b"old bytes"


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


def test_a_damaged_blob_is_answered_with_a_clear_error(
    client: TestClient, app: FastAPI, tokens: dict[Role, str]
) -> None:
    sha = app.state.blobs.put_bytes(PNG_1PX).sha256
    damage_blob(app.state.blobs, sha)
    response = client.get(f"/blobs/{sha}", headers=bearer(tokens[Role.VIEWER]))
    assert response.status_code == 503
    assert "damaged" in response.json()["detail"] and "Upload it again" in response.json()["detail"]


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
