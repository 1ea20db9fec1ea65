"""Downloads that pages and the API share: a comparison as a ZIP, a blob under another name."""

from collections.abc import Iterator

from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from ganstudio.db.tables import Comparison
from ganstudio.services import comparison_views as views_service
from ganstudio.storage.blobs import BlobStore, sniff_media_type
from ganstudio.storage.zipstream import stream_zip

CHUNK = 256 * 1024


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
