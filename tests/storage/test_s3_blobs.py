"""The S3 backend's own promises (the shared contract is tests/test_blobs.py): its URL, its keys,
multipart uploads, no second upload of a stored key, unfinished uploads swept, and a clear
refusal to start when the store cannot be used."""

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ganstudio.runtime import open_runtime
from ganstudio.storage.blobs import (
    BlobStoreConfigError,
    BlobStoreUnavailableError,
    LocalBlobStore,
    open_blob_store,
)
from ganstudio.storage.s3 import S3BlobStore
from ganstudio.storage.sweep import sweep_blobs
from tests.conftest import make_settings
from tests.s3 import S3Server
from tests.waiting import free_port

MiB = 1024 * 1024


def s3_store(server: S3Server, tmp_path: Path, **options: int) -> S3BlobStore:
    return S3BlobStore(
        bucket=server.make_bucket(),
        prefix="team/blobs",
        endpoint_url=server.endpoint_url,
        spool_dir=tmp_path / "spool",
        **options,
    )


def test_the_blob_url_chooses_the_backend(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    default = open_blob_store(make_settings(data_dir))
    assert isinstance(default, LocalBlobStore) and default.root == data_dir.resolve() / "blobs"
    folder = open_blob_store(make_settings(data_dir, blob_url=str(tmp_path / "elsewhere")))
    assert isinstance(folder, LocalBlobStore) and folder.root == tmp_path / "elsewhere"
    by_url = open_blob_store(make_settings(data_dir, blob_url=f"file://{tmp_path}/f"))
    assert isinstance(by_url, LocalBlobStore) and by_url.root == tmp_path / "f"
    s3 = open_blob_store(
        make_settings(
            data_dir, blob_url="s3://pics/team/blobs/?endpoint_url=http://h:9000&region=eu-west-1"
        )
    )
    assert isinstance(s3, S3BlobStore)
    assert (s3.bucket, s3.prefix, s3.endpoint_url) == ("pics", "team/blobs", "http://h:9000")
    assert s3.client.meta.region_name == "eu-west-1"
    assert s3.key_for("ab" * 32) == f"team/blobs/ab/ab/{'ab' * 32}"
    assert s3.describe() == "s3://pics/team/blobs at http://h:9000"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("s3://KEY:hunter2@pics/blobs", "must not hold credentials"),
        ("s3://pics/blobs?secret=x", "unknown options secret"),
        ("https://pics.example.com/blobs", "neither a folder nor an s3:// URL"),
        ("s3:///blobs", "names no bucket"),
    ],
)
def test_a_blob_url_it_cannot_use_is_refused_saying_how(
    tmp_path: Path, url: str, says: str
) -> None:
    with pytest.raises(BlobStoreConfigError, match=says) as refused:
        open_blob_store(make_settings(tmp_path, blob_url=url))
    assert "hunter2" not in str(refused.value)


def test_keys_are_content_addressed_under_the_prefix(s3_server: S3Server, tmp_path: Path) -> None:
    store = s3_store(s3_server, tmp_path)
    sha = store.put_bytes(b"hello").sha256
    listed = store.client.list_objects_v2(Bucket=store.bucket)["Contents"]
    assert [entry["Key"] for entry in listed] == [f"team/blobs/{sha[:2]}/{sha[2:4]}/{sha}"]
    head = store.client.head_object(Bucket=store.bucket, Key=listed[0]["Key"])
    assert head["Metadata"]["sha256"] == sha
    assert list(store.spool_dir.iterdir()) == []  # the spool file is gone once uploaded


def test_a_file_past_the_threshold_goes_up_as_a_multipart_upload(
    s3_server: S3Server, tmp_path: Path
) -> None:
    store = s3_store(s3_server, tmp_path, multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    data = os.urandom(6 * MiB)
    small = store.put_bytes(b"small")
    big = store.put_stream(io.BytesIO(data))
    etag = store.client.head_object(Bucket=store.bucket, Key=store.key_for(big.sha256))["ETag"]
    assert etag.strip('"').endswith("-2")  # S3's ETag of a 2-part multipart upload
    small_etag = store.client.head_object(Bucket=store.bucket, Key=store.key_for(small.sha256))
    assert "-" not in small_etag["ETag"]  # one PUT
    assert store.read_bytes(big.sha256) == data  # and verified on the way back


def test_a_stored_key_is_not_uploaded_again(
    s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = s3_store(s3_server, tmp_path)
    first = store.put_bytes(b"same bytes")

    def no_upload(*args: object, **kwargs: object) -> None:
        raise AssertionError("uploaded again")

    monkeypatch.setattr(store.client, "upload_file", no_upload)
    again = store.put_bytes(b"same bytes")
    assert again.sha256 == first.sha256 and not again.created


def test_an_unfinished_multipart_upload_is_invisible_and_swept(
    s3_server: S3Server, tmp_path: Path
) -> None:
    """What a worker SIGKILLed mid-upload leaves: parts, no object, no row (the row commits
    after the upload completes); the sweep aborts it past the grace period."""
    store = s3_store(s3_server, tmp_path)
    sha = "ab" * 32
    key = store.key_for(sha)
    upload = store.client.create_multipart_upload(Bucket=store.bucket, Key=key)
    store.client.upload_part(
        Bucket=store.bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 1000
    )
    assert not store.exists(sha)
    assert list(store.iter_blobs()) == []
    (leftover,) = store.iter_leftovers()
    assert key in leftover.name and leftover.size == 1000
    # (moto dates every upload's Initiated in 2010, so the grace period is not tested here.)
    report = sweep_blobs(store, set(), grace_seconds=3600, now=time.time() + 7200)
    assert report.freed_bytes == 1000
    assert store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []) == []


def test_an_unreachable_store_is_refused_at_start_with_what_to_do(tmp_path: Path) -> None:
    url = f"s3://pics/blobs?endpoint_url=http://127.0.0.1:{free_port()}"
    with pytest.raises(BlobStoreUnavailableError, match="cannot be reached") as refused:
        open_runtime(make_settings(tmp_path / "data", blob_url=url))
    assert "endpoint_url in GANSTUDIO_BLOB_URL" in str(refused.value)


def test_a_missing_bucket_is_refused_at_start(s3_server: S3Server, tmp_path: Path) -> None:
    url = s3_server.blob_url("no-such-bucket")
    with pytest.raises(BlobStoreUnavailableError, match="does not exist") as refused:
        open_runtime(make_settings(tmp_path / "data", blob_url=url))
    assert "aws s3 mb s3://no-such-bucket" in str(refused.value)


def test_missing_credentials_are_refused_at_start(
    s3_server: S3Server, s3_blob_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(BlobStoreUnavailableError, match="No AWS credentials"):
        open_runtime(make_settings(tmp_path / "data", blob_url=s3_blob_url))


@pytest.mark.parametrize("command", [["worker"], ["serve", "--port", "1"]])
def test_server_and_worker_refuse_to_start_without_their_store(
    s3_server: S3Server, tmp_path: Path, command: list[str]
) -> None:
    env = {
        **os.environ,
        **s3_server.env,
        "GANSTUDIO_DATA_DIR": str(tmp_path / "data"),
        "GANSTUDIO_BLOB_URL": s3_server.blob_url("no-such-bucket"),
        "GANSTUDIO_WORKER": "off",
    }
    result = subprocess.run(
        [sys.executable, "-m", "ganstudio", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "bucket 'no-such-bucket' does not exist" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
