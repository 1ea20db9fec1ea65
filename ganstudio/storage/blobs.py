"""Content-addressed blob store: `blobs/ab/cd/<sha256>`, written atomically, read as streams."""

import hashlib
import io
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from ganstudio.storage.private import (
    PRIVATE_DIR_MODE,
    PRIVATE_FILE_MODE,
    fsync_dir,
    make_private_dir,
)

CHUNK = 1024 * 1024
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class Readable(Protocol):
    """What the store reads from: an upload, a file, or a wrapper that counts progress."""

    def read(self, size: int = -1, /) -> bytes: ...


class BlobTooLargeError(ValueError):
    """The stream was longer than the caller allowed; nothing was stored."""


class BlobNotFoundError(KeyError):
    """No blob with that sha256 is stored."""


@dataclass(frozen=True)
class StagedBlob:
    path: Path  # a complete temp file in the store's .tmp folder
    sha256: str
    size: int


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    created: bool  # False when the same bytes were already stored


def is_sha256(value: str) -> bool:
    """Return whether `value` is a lower-case sha256 hex digest."""
    return bool(SHA256_RE.match(value))


class BlobStore:
    """Store bytes once by their sha256; a blob is complete on disk before anyone can name it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp_dir = root / ".tmp"  # same filesystem as the blobs, so rename is atomic
        make_private_dir(root)
        make_private_dir(self.tmp_dir)

    def path_for(self, sha256: str) -> Path:
        if not is_sha256(sha256):
            raise BlobNotFoundError(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return is_sha256(sha256) and self.path_for(sha256).is_file()

    def put_bytes(self, data: bytes) -> StoredBlob:
        """Store `data`; return its sha256 and whether it was new."""
        return self.put_stream(io.BytesIO(data))

    def put_stream(self, stream: Readable, *, max_bytes: int | None = None) -> StoredBlob:
        """Copy `stream` into the store, hashing as it goes; refuse past `max_bytes`."""
        with self.staged(stream, max_bytes=max_bytes) as staged:
            return self.commit(staged)

    @contextmanager
    def staged(self, stream: Readable, *, max_bytes: int | None = None) -> Iterator["StagedBlob"]:
        """Write `stream` to a temp file, hashing it; the file is gone on exit unless committed.

        Lets a caller look at the bytes (check a checkpoint, decode an image) before deciding
        to keep them, with the same atomic write as `put_stream`.
        """
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp_dir, prefix="incoming-")
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

    def commit(self, staged: "StagedBlob") -> StoredBlob:
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

    def open(self, sha256: str) -> BinaryIO:
        """Open a stored blob for streaming reads."""
        try:
            return self.path_for(sha256).open("rb")
        except FileNotFoundError:
            raise BlobNotFoundError(sha256) from None

    def read_bytes(self, sha256: str) -> bytes:
        with self.open(sha256) as handle:
            return handle.read()

    def delete(self, sha256: str) -> None:
        self.path_for(sha256).unlink(missing_ok=True)

    def iter_blobs(self) -> Iterator[tuple[str, os.stat_result]]:
        """Yield (sha256, stat) for every stored blob."""
        for first in self.root.iterdir():
            if len(first.name) != 2 or not first.is_dir():
                continue
            for second in first.iterdir():
                for path in second.iterdir():
                    if is_sha256(path.name):
                        yield path.name, path.stat()

    def iter_temp_files(self) -> Iterator[tuple[Path, os.stat_result]]:
        """Yield leftovers of writes that never finished (a crash mid-upload)."""
        for path in self.tmp_dir.iterdir():
            yield path, path.stat()


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
