"""The S3-compatible blob store (AWS S3, MinIO, Ceph): keys `prefix/ab/cd/<sha256>`.

- Writes are staged in a local spool file (hashed as they arrive), then uploaded whole; files
  past `multipart_threshold` go up as a multipart upload (boto3's TransferConfig). A key that
  already holds the same bytes (its `sha256` metadata and size match) is not uploaded again.
- The object exists only once its upload completed, and the row that names a blob commits after
  `commit` returns: a worker killed mid-upload leaves at most an unfinished multipart upload,
  which no reader sees and the sweep aborts.
- Reads stream and are hashed as they go (`VerifyingReader`): a damaged object raises
  BlobCorruptError at the end, is logged and deleted, so writing the same bytes repairs it.
- Credentials come from boto3's usual chain (environment, AWS_PROFILE, ~/.aws, instance role).
- Connection failures and throttling raise BlobStoreUnavailableError (transient: callers retry).
"""

import hashlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from ganstudio.storage.blobs import (
    CHUNK,
    BlobInfo,
    BlobNotFoundError,
    BlobStore,
    BlobStoreUnavailableError,
    Leftover,
    StagedBlob,
    StoredBlob,
    VerifyingReader,
    is_sha256,
)
from ganstudio.storage.private import make_private_dir

log = logging.getLogger(__name__)
T = TypeVar("T")
MiB = 1024 * 1024
SHA256_META = "sha256"  # x-amz-meta-sha256: what the bytes hash to, written with them
NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


class S3BlobStore(BlobStore):
    """Blobs as objects in an S3-compatible bucket, under `prefix`."""

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        spool_dir: Path,
        multipart_threshold: int = 64 * MiB,
        multipart_chunksize: int = 16 * MiB,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.spool_dir = make_private_dir(spool_dir)
        config = Config(
            region_name=region,
            connect_timeout=5,
            read_timeout=60,
            retries={"mode": "standard", "max_attempts": 3},
            # The render worker's finish pool stores outputs from up to 16 threads at once.
            max_pool_connections=32,
            # Path-style URLs (host/bucket/key) work on MinIO, Ceph and moto without DNS per bucket.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
        )
        self.client = boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)
        self.transfer = TransferConfig(
            multipart_threshold=multipart_threshold, multipart_chunksize=multipart_chunksize
        )

    # --- where ---------------------------------------------------------------------------

    def describe(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        return f"{where} at {self.endpoint_url}" if self.endpoint_url else where

    def key_for(self, sha256: str) -> str:
        if not is_sha256(sha256):
            raise BlobNotFoundError(sha256)
        name = f"{sha256[:2]}/{sha256[2:4]}/{sha256}"
        return f"{self.prefix}/{name}" if self.prefix else name

    def _list_prefix(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    def check(self) -> None:
        """Raise BlobStoreUnavailableError unless the bucket answers and may be read."""
        where = self.describe()
        try:
            self.client.head_bucket(Bucket=self.bucket)
            self.client.list_objects_v2(Bucket=self.bucket, Prefix=self._list_prefix(), MaxKeys=1)
        except NoCredentialsError:
            raise BlobStoreUnavailableError(
                f"No AWS credentials were found for the blob store {where}. Set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or ~/.aws/"
                "credentials) for this user; never put them in GANSTUDIO_BLOB_URL."
            ) from None
        except ClientError as exc:
            code = _code(exc)
            if code in NOT_FOUND:
                raise BlobStoreUnavailableError(
                    f"The bucket {self.bucket!r} does not exist at {where}. Create it (e.g. "
                    f"`aws s3 mb s3://{self.bucket}`), or fix the bucket in GANSTUDIO_BLOB_URL."
                ) from None
            if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                raise BlobStoreUnavailableError(
                    f"The blob store {where} refused access ({code}). Check the AWS credentials "
                    "(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE) and that they "
                    "may read, write, list and delete in the bucket."
                ) from None
            raise BlobStoreUnavailableError(
                f"The blob store {where} answered {code}: {_message(exc)}. Check the store, "
                "then start again."
            ) from None
        except BotoCoreError as exc:
            raise BlobStoreUnavailableError(
                f"The blob store {where} cannot be reached ({exc}). Check that it is running "
                "and that endpoint_url in GANSTUDIO_BLOB_URL is right, then start again."
            ) from None

    # --- writes ----------------------------------------------------------------------------

    def commit(self, staged: StagedBlob) -> StoredBlob:
        key = self.key_for(staged.sha256)
        head = self._head(key)
        if head is not None and _holds(head, staged):
            # Copied onto itself (in the store, not uploaded again): LastModified is now, so the
            # sweep's grace period protects it until the row that names it commits.
            self._call(
                self.client.copy_object,
                Bucket=self.bucket,
                Key=key,
                CopySource={"Bucket": self.bucket, "Key": key},
                Metadata={SHA256_META: staged.sha256},
                MetadataDirective="REPLACE",
            )
            return StoredBlob(staged.sha256, staged.size, created=False)
        # Uploads the whole file, as one PUT or (past the threshold) a multipart upload that
        # boto3 aborts if a part fails; the object appears only when the upload completes.
        self._call(
            self.client.upload_file,
            str(staged.path),
            self.bucket,
            key,
            ExtraArgs={"Metadata": {SHA256_META: staged.sha256}},
            Config=self.transfer,
        )
        return StoredBlob(staged.sha256, staged.size, created=head is None)

    # --- reads -----------------------------------------------------------------------------

    def exists(self, sha256: str) -> bool:
        return is_sha256(sha256) and self._head(self.key_for(sha256)) is not None

    def open(self, sha256: str) -> VerifyingReader:
        key = self.key_for(sha256)
        try:
            answer = self._call(self.client.get_object, Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in NOT_FOUND:
                raise BlobNotFoundError(sha256) from None
            raise
        body = answer["Body"]

        def read_chunk(size: int) -> bytes:
            try:
                return body.read(size)
            except (BotoCoreError, OSError) as exc:  # the connection broke mid-stream
                raise self._unavailable(exc) from None

        return VerifyingReader(
            body,
            sha256=sha256,
            size=int(answer.get("ContentLength", 0)),
            on_corrupt=lambda: self._corrupt(sha256),
            read_chunk=read_chunk,
        )

    def _quarantine(self, sha256: str) -> None:
        # Read again before deleting: only bytes damaged in the store, not on the way, go.
        key = self.key_for(sha256)
        body = self._call(self.client.get_object, Bucket=self.bucket, Key=key)["Body"]
        digest = hashlib.sha256()
        while chunk := body.read(CHUNK):
            digest.update(chunk)
        if digest.hexdigest() != sha256:
            self.delete(sha256)

    # --- the sweep -------------------------------------------------------------------------

    def delete(self, sha256: str) -> None:
        self._call(self.client.delete_object, Bucket=self.bucket, Key=self.key_for(sha256))

    def iter_blobs(self) -> Iterator[BlobInfo]:
        for page in self._pages("list_objects_v2", Prefix=self._list_prefix()):
            for entry in page.get("Contents", []):
                name = entry["Key"].rsplit("/", 1)[-1]
                if is_sha256(name) and self.key_for(name) == entry["Key"]:
                    yield BlobInfo(name, entry["Size"], entry["LastModified"].timestamp())

    def iter_leftovers(self) -> Iterator[Leftover]:
        """Spool files of this machine, and multipart uploads that never completed (a worker
        killed mid-upload): no reader sees them, but the store keeps their parts until aborted."""
        yield from super().iter_leftovers()
        for page in self._pages("list_multipart_uploads", Prefix=self._list_prefix()):
            for upload in page.get("Uploads", []):
                key, upload_id = upload["Key"], upload["UploadId"]
                yield Leftover(
                    name=f"unfinished upload of {key}",
                    size=self._parts_size(key, upload_id),
                    modified=upload["Initiated"].timestamp(),
                    remove=lambda key=key, upload_id=upload_id: self._abort(key, upload_id),  # type: ignore[misc]
                )

    def _parts_size(self, key: str, upload_id: str) -> int:
        try:
            parts = self.client.list_parts(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError:  # completed or aborted meanwhile
            return 0
        return sum(part["Size"] for part in parts.get("Parts", []))

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if _code(exc) not in NOT_FOUND | {"NoSuchUpload"}:
                raise

    # --- errors ----------------------------------------------------------------------------

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return self._call(self.client.head_object, Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in NOT_FOUND:
                return None
            raise

    def _call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call boto3; a connection failure, throttling or a 5xx becomes BlobStoreUnavailable."""
        try:
            return function(*args, **kwargs)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status >= 500 or _code(exc) in ("SlowDown", "RequestTimeout", "AccessDenied"):
                raise self._unavailable(exc) from None
            raise
        except (BotoCoreError, OSError, S3UploadFailedError) as exc:
            raise self._unavailable(exc) from None

    def _pages(self, operation: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """The pages of a listing, fetched one at a time (errors as in `_call`)."""
        pages = iter(self.client.get_paginator(operation).paginate(Bucket=self.bucket, **kwargs))
        while True:
            try:
                page = self._call(next, pages, None)
            except ClientError as exc:
                if _code(exc) in NOT_FOUND:
                    return
                raise
            if page is None:
                return
            yield page

    def _unavailable(self, exc: Exception) -> BlobStoreUnavailableError:
        log.warning("Blob store %s failed: %s", self.describe(), exc)
        return BlobStoreUnavailableError(
            f"The blob store {self.describe()} cannot be used right now ({exc}); try again "
            "in a minute. If it lasts, an admin should check the object store."
        )


def _holds(head: dict[str, Any], staged: StagedBlob) -> bool:
    """Whether an existing object is the staged bytes (else it is written again: a repair)."""
    meta = head.get("Metadata", {})
    return meta.get(SHA256_META) == staged.sha256 and head.get("ContentLength") == staged.size


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))[:200]
