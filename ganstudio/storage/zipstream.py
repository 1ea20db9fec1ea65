"""Stream a ZIP of stored blobs chunk by chunk, never holding the archive in memory."""

import zipfile
from collections.abc import Iterable, Iterator

from ganstudio.storage.blobs import BlobStore

CHUNK = 1024 * 1024


class _Sink:
    """A write-only, unseekable file: zipfile then writes data descriptors and streams."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def stream_zip(blobs: BlobStore, entries: Iterable[tuple[str, str]]) -> Iterator[bytes]:
    """Yield a ZIP (stored, not deflated: PNG and JPEG are compressed already) of (name, sha256)."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:  # type: ignore[call-overload]
        for name, sha256 in entries:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            with blobs.open(sha256) as source, archive.open(info, "w", force_zip64=True) as target:
                while chunk := source.read(CHUNK):
                    target.write(chunk)
                    yield sink.take()
            yield sink.take()
    yield sink.take()
