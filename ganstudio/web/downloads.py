"""Downloads that pages and the API share: a blob, a comparison as a ZIP, a blob under another
name.

Every blob goes out through the app, after the route's permission check, whichever store holds
it: the server reads it (verifying its sha256) and streams it on. The S3 store could hand out
presigned URLs instead, but a presigned URL is a bearer link: it works for whoever holds it, for
as long as it is valid, after the person signs out or loses access, and it leaks through browser
history, proxy logs and Referer headers. Images must stay behind sign-in, so none is issued.
"""

from collections.abc import Iterator
from urllib.parse import quote

from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from ganstudio.db.tables import Comparison
from ganstudio.services import comparison_views as views_service
from ganstudio.services.errors import NotFoundError
from ganstudio.storage.blobs import BlobNotFoundError, BlobStore, sniff_media_type
from ganstudio.storage.zipstream import stream_zip

CHUNK = 256 * 1024
# Blobs up to this size are read (and their sha256 checked) before the first byte goes out, so
# a damaged one is answered with a clear error instead of a cut-off image. Larger ones (e.g.
# checkpoints) stream, checked as they go: a damaged one is cut off at the end, and logged.
CHECKED_BEFORE_SENDING = 16 * 1024 * 1024


def blob_response(
    blobs: BlobStore,
    sha256: str,
    *,
    headers: dict[str, str],
    media_type: str | None = None,
    filename: str | None = None,
) -> Response:
    """Send a stored blob (the caller checked the permission and set the caching headers)."""
    try:
        handle = blobs.open(sha256)
    except BlobNotFoundError:
        raise NotFoundError(
            f"No stored file has the sha256 '{sha256[:64]}'. Links to files come from sample, "
            "version and render pages; copy the link again from there."
        ) from None
    headers = dict(headers)
    if filename is not None:
        quoted = quote(filename)
        headers["Content-Disposition"] = (
            f'attachment; filename="{filename}"'
            if quoted == filename
            else f"attachment; filename*=utf-8''{quoted}"
        )
    if handle.size <= CHECKED_BEFORE_SENDING:
        with handle:
            data = handle.read()  # BlobCorruptError here: the error handlers answer it
        return Response(data, media_type=media_type or sniff_media_type(data[:16]), headers=headers)
    head = handle.read(16)

    def chunks() -> Iterator[bytes]:
        with handle:
            yield head
            while chunk := handle.read(CHUNK):
                yield chunk

    headers["Content-Length"] = str(handle.size)
    return StreamingResponse(
        chunks(), media_type=media_type or sniff_media_type(head), headers=headers
    )


def zip_response(db: Session, blobs: BlobStore, comparison: Comparison) -> StreamingResponse:
    """Stream the ZIP of a comparison's inputs and done renders."""
    entries = [(e.name, e.sha256) for e in views_service.zip_entries(db, comparison=comparison)]
    return StreamingResponse(
        stream_zip(blobs, entries),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="comparison-{comparison.slug}.zip"'},
    )


def opaque_blob_response(blobs: BlobStore, sha256: str) -> StreamingResponse:
    """Stream a blob with no header that names or fingerprints it (no ETag, no Last-Modified)."""
    handle = blobs.open(sha256)
    head = handle.read(16)

    def chunks() -> Iterator[bytes]:
        with handle:
            yield head
            while chunk := handle.read(CHUNK):
                yield chunk

    return StreamingResponse(
        chunks(),
        media_type=sniff_media_type(head),
        # Only for this viewer, and not kept: the same URL never serves anyone else.
        headers={"Cache-Control": "private, no-store"},
    )
