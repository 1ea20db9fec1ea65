"""Content-addressed blob store: bytes stored once under their sha256, read as verified streams.

`BlobStore` is the interface every caller uses; two backends implement it:
- `LocalBlobStore`: files under a folder, `blobs/ab/cd/<sha256>` (the embedded default);
- `S3BlobStore` (ganstudio/storage/s3.py): an S3-compatible bucket, keys `prefix/ab/cd/<sha256>`.
`open_blob_store(settings)` builds the one that GANSTUDIO_BLOB_URL names.

Both keep two promises: a blob is complete in the store before any row can name it (writes are
staged in a local spool file, hashed, then moved or uploaded whole), and every read is checked
against its sha256 (a mismatch raises BlobCorruptError, logs it, and takes the damaged copy out
of the store so that writing the same bytes again repairs it).
"""

import hashlib
import io
import logging
import os
import re
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, Protocol
from urllib.parse import parse_qs, urlsplit

from ganstudio.storage.private import (
    PRIVATE_DIR_MODE,
    PRIVATE_FILE_MODE,
    fsync_dir,
    make_private_dir,
)

if TYPE_CHECKING:
    from ganstudio.config import Settings

log = logging.getLogger(__name__)
CHUNK = 1024 * 1024
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class Readable(Protocol):
    """What the store reads from: an upload, a file, or a wrapper that counts progress."""

    def read(self, size: int = -1, /) -> bytes: ...


class BlobTooLargeError(ValueError):
    """The stream was longer than the caller allowed; nothing was stored."""


class BlobNotFoundError(KeyError):
    """No blob with that sha256 is stored."""


class BlobCorruptError(Exception):
    """The bytes the store gave back do not hash to the blob's sha256 (damaged in the store)."""

    def __init__(self, sha256: str, where: str) -> None:
        super().__init__(
            f"The stored file {sha256} in {where} is damaged: its bytes no longer match its "
            "sha256. It was taken out of the store; a render is redone, any other file must be "
            "uploaded again."
        )
        self.sha256 = sha256


class BlobStoreUnavailableError(ConnectionError):
    """The store cannot be reached or refused the request (transient: try again later)."""


class BlobStoreConfigError(ValueError):
    """GANSTUDIO_BLOB_URL cannot be used; the message says how to write it."""


@dataclass(frozen=True)
class StagedBlob:
    path: Path  # a complete temp file in the store's local spool folder
    sha256: str
    size: int


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    created: bool  # False when the same bytes were already stored


@dataclass(frozen=True)
class BlobInfo:
    """One stored blob, as the sweep sees it."""

    sha256: str
    size: int
    modified: float  # POSIX seconds: last written (or re-named by a new row)


@dataclass(frozen=True)
class Leftover:
    """What a write that never finished left behind: a spool file or an unfinished upload."""

    name: str
    size: int
    modified: float
    remove: Callable[[], None] = field(compare=False, repr=False)


def is_sha256(value: str) -> bool:
    """Return whether `value` is a lower-case sha256 hex digest."""
    return bool(SHA256_RE.match(value))


class VerifyingReader(io.RawIOBase):
    """Hashes a blob as it is read; at the end, raises BlobCorruptError if it was damaged.

    Not seekable (Pillow then reads it whole, through here): every byte a caller sees is hashed.
    """

    def __init__(
        self,
        raw: BinaryIO,
        *,
        sha256: str,
        size: int,
        on_corrupt: Callable[[], BlobCorruptError],
        read_chunk: Callable[[int], bytes] | None = None,
    ) -> None:
        super().__init__()
        self.size = size
        self._raw = raw
        self._sha256 = sha256
        self._digest = hashlib.sha256()
        self._seen = 0
        self._checked = False
        self._on_corrupt = on_corrupt
        self._read_chunk = read_chunk or raw.read

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        if self._checked:
            return b""
        if size is None or size < 0:
            parts = []
            while chunk := self._read_chunk(CHUNK):
                parts.append(chunk)
            data = b"".join(parts)
            self._take(data)
            self._finish()
            return data
        data = self._read_chunk(size) if size else b""
        self._take(data)
        if size and not data:
            self._finish()
        return data

    def readinto(self, buffer: "bytearray | memoryview") -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        return self.read(-1)

    def _take(self, data: bytes) -> None:
        self._digest.update(data)
        self._seen += len(data)

    def _finish(self) -> None:
        self._checked = True
        if self._digest.hexdigest() != self._sha256:
            raise self._on_corrupt()

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()

    def __enter__(self) -> "VerifyingReader":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class BlobStore(ABC):
    """Store bytes once by their sha256; a blob is complete in the store before anyone can name
    it, and reads are verified against the sha256. Subclasses say where the bytes live."""

    spool_dir: Path  # local folder for staged writes (same filesystem as a local store's blobs)

    # --- where ---------------------------------------------------------------------------

    @abstractmethod
    def describe(self) -> str:
        """Where the blobs live, for messages (no secrets)."""

    @abstractmethod
    def check(self) -> None:
        """Raise BlobStoreUnavailableError (saying what to do) unless the store can be used."""

    # --- writes ----------------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> StoredBlob:
        """Store `data`; return its sha256 and whether it was new."""
        return self.put_stream(io.BytesIO(data))

    def put_stream(self, stream: Readable, *, max_bytes: int | None = None) -> StoredBlob:
        """Copy `stream` into the store, hashing as it goes; refuse past `max_bytes`."""
        with self.staged(stream, max_bytes=max_bytes) as staged:
            return self.commit(staged)

    @contextmanager
    def staged(self, stream: Readable, *, max_bytes: int | None = None) -> Iterator[StagedBlob]:
        """Write `stream` to a local spool file, hashing it; the file is gone on exit.

        Lets a caller look at the bytes (check a checkpoint, decode an image) before deciding
        to keep them with `commit`, which stores them whole or not at all.
        """
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.spool_dir, prefix="incoming-")
        tmp_path = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as tmp:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise BlobTooLargeError(
                            f"larger than the {max_bytes / (1024 * 1024):.0f} MiB limit"
                        )
                    digest.update(chunk)
                    tmp.write(chunk)
                tmp.flush()
                os.fsync(tmp.fileno())
            yield StagedBlob(path=tmp_path, sha256=digest.hexdigest(), size=size)
        finally:
            tmp_path.unlink(missing_ok=True)

    @abstractmethod
    def commit(self, staged: StagedBlob) -> StoredBlob:
        """Store a staged file under its sha256, whole; an existing copy is kept (and its age
        reset, so the sweep's grace period protects it until the row naming it commits)."""

    # --- reads -----------------------------------------------------------------------------

    @abstractmethod
    def exists(self, sha256: str) -> bool: ...

    @abstractmethod
    def open(self, sha256: str) -> VerifyingReader:
        """Open a stored blob for streaming reads, verified against its sha256 at the end."""

    def read_bytes(self, sha256: str) -> bytes:
        """Return a stored blob's bytes (verified: BlobCorruptError if damaged)."""
        with self.open(sha256) as handle:
            return handle.read()

    def _corrupt(self, sha256: str) -> BlobCorruptError:
        """Log a damaged blob loudly and take it out of the store; return the error to raise."""
        error = BlobCorruptError(sha256, self.describe())
        log.error("%s", error)
        try:
            self._quarantine(sha256)
        except Exception:
            log.exception("Could not take the damaged blob %s out of the store", sha256)
        return error

    @abstractmethod
    def _quarantine(self, sha256: str) -> None:
        """Remove a damaged blob from where readers find it (writing it again repairs it)."""

    # --- the sweep -------------------------------------------------------------------------

    @abstractmethod
    def delete(self, sha256: str) -> None: ...

    @abstractmethod
    def iter_blobs(self) -> Iterator[BlobInfo]:
        """Yield every stored blob with its size and when it was last written."""

    def iter_leftovers(self) -> Iterator[Leftover]:
        """Yield leftovers of writes that never finished (a crash mid-upload)."""
        for path in self.spool_dir.iterdir():
            try:
                stat = path.stat()
            except FileNotFoundError:  # finished meanwhile
                continue
            yield Leftover(
                name=str(path),
                size=stat.st_size,
                modified=stat.st_mtime,
                remove=lambda path=path: path.unlink(missing_ok=True),  # type: ignore[misc]
            )


class LocalBlobStore(BlobStore):
    """Blobs as files under `root`: `ab/cd/<sha256>`, written by atomic rename from `.tmp`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp_dir = root / ".tmp"  # same filesystem as the blobs, so rename is atomic
        self.spool_dir = self.tmp_dir
        make_private_dir(root)
        make_private_dir(self.tmp_dir)

    def describe(self) -> str:
        return f"the folder {self.root}"

    def check(self) -> None:
        if not self.root.is_dir() or not self.tmp_dir.is_dir():
            raise BlobStoreUnavailableError(
                f"The blob folder {self.root} is missing. Restore it from a backup, or point "
                "GANSTUDIO_BLOB_URL (or GANSTUDIO_DATA_DIR) at the folder that holds the blobs."
            )
        if not os.access(self.tmp_dir, os.W_OK | os.X_OK):
            raise BlobStoreUnavailableError(
                f"The blob folder {self.root} is not writable by this user; give the server's "
                "user ownership of it (chown -R)."
            )

    def path_for(self, sha256: str) -> Path:
        """Where a blob's file is (this backend only: callers use `open`)."""
        if not is_sha256(sha256):
            raise BlobNotFoundError(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return is_sha256(sha256) and self.path_for(sha256).is_file()

    def commit(self, staged: StagedBlob) -> StoredBlob:
        """Move a staged file into place under its sha256 (atomic rename, then fsync the dir)."""
        final = self.path_for(staged.sha256)
        if final.exists():
            # Fresh mtime: the sweep's grace period now protects it until its row commits.
            os.utime(final)
            return StoredBlob(staged.sha256, staged.size, created=False)
        for folder in (final.parent.parent, final.parent):  # mkdir(parents=True) ignores mode
            folder.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
        os.chmod(staged.path, PRIVATE_FILE_MODE)  # mkstemp's mode already; said for the reader
        os.replace(staged.path, final)
        fsync_dir(final.parent)
        return StoredBlob(staged.sha256, staged.size, created=True)

    def open(self, sha256: str) -> VerifyingReader:
        try:
            handle = self.path_for(sha256).open("rb")
        except FileNotFoundError:
            raise BlobNotFoundError(sha256) from None
        size = os.fstat(handle.fileno()).st_size
        return VerifyingReader(
            handle, sha256=sha256, size=size, on_corrupt=lambda: self._corrupt(sha256)
        )

    def _quarantine(self, sha256: str) -> None:
        # Kept for a look in .tmp; the sweep removes it after the grace period.
        os.replace(self.path_for(sha256), self.tmp_dir / f"corrupt-{sha256}-{int(time.time())}")

    def delete(self, sha256: str) -> None:
        self.path_for(sha256).unlink(missing_ok=True)

    def iter_blobs(self) -> Iterator[BlobInfo]:
        for first in self.root.iterdir():
            if len(first.name) != 2 or not first.is_dir():
                continue
            for second in first.iterdir():
                for path in second.iterdir():
                    if is_sha256(path.name):
                        stat = path.stat()
                        yield BlobInfo(path.name, stat.st_size, stat.st_mtime)


def open_blob_store(settings: "Settings") -> BlobStore:
    """The store GANSTUDIO_BLOB_URL names (unset: the `blobs` folder in the data dir).

    - unset, a path, or `file:///path`: a `LocalBlobStore` there;
    - `s3://bucket/prefix?endpoint_url=http://host:9000&region=eu-west-1`: an `S3BlobStore`,
      with credentials from boto3's usual chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
      AWS_PROFILE, ~/.aws, an instance role): never in the URL.
    Raises BlobStoreConfigError for a URL it cannot use.
    """
    url = (settings.blob_url or "").strip()
    if not url:
        return LocalBlobStore(settings.blob_dir)
    parts = urlsplit(url)
    if parts.scheme in ("", "file"):
        raw = parts.path if parts.scheme == "file" else url
        if parts.scheme == "file" and parts.netloc not in ("", "localhost"):
            raise BlobStoreConfigError(
                f"GANSTUDIO_BLOB_URL {url!r} names a host; a file URL is file:///absolute/path."
            )
        return LocalBlobStore(Path(raw).expanduser().resolve())
    if parts.scheme != "s3":
        raise BlobStoreConfigError(
            f"GANSTUDIO_BLOB_URL {url[:100]!r} is neither a folder nor an s3:// URL; use e.g. "
            "/srv/blobs or s3://bucket/prefix?endpoint_url=http://host:9000."
        )
    if parts.username or parts.password:
        raise BlobStoreConfigError(
            "GANSTUDIO_BLOB_URL must not hold credentials (they would show in logs and process "
            "lists); remove them and set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or "
            "AWS_PROFILE) instead."
        )
    bucket = parts.hostname or ""
    if not bucket:
        raise BlobStoreConfigError(
            f"GANSTUDIO_BLOB_URL {url[:100]!r} names no bucket; write s3://bucket/prefix."
        )
    query = parse_qs(parts.query, keep_blank_values=False)
    unknown = set(query) - {"endpoint_url", "region"}
    if unknown:
        raise BlobStoreConfigError(
            f"GANSTUDIO_BLOB_URL has unknown options {', '.join(sorted(unknown))}; it takes "
            "endpoint_url and region only."
        )
    from ganstudio.storage.s3 import S3BlobStore  # boto3 is imported only when S3 is used

    return S3BlobStore(
        bucket=bucket,
        prefix=parts.path.strip("/"),
        endpoint_url=query.get("endpoint_url", [None])[-1],
        region=query.get("region", [None])[-1],
        spool_dir=settings.resolved_data_dir / "blob-spool",
    )


# Magic numbers of the formats GAN Studio serves; anything else goes out as octet-stream.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)


def sniff_media_type(head: bytes) -> str:
    """Return the media type of a blob from its first bytes."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            return media_type
    return "application/octet-stream"
