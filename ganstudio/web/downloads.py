"""Downloads that pages and the API share: a comparison as a ZIP."""

from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from ganstudio.db.tables import Comparison
from ganstudio.services import comparison_views as views_service
from ganstudio.storage.blobs import BlobStore
from ganstudio.storage.zipstream import stream_zip


def zip_response(db: Session, blobs: BlobStore, comparison: Comparison) -> StreamingResponse:
    """Stream the ZIP of a comparison's inputs and done renders."""
    entries = [(e.name, e.sha256) for e in views_service.zip_entries(db, comparison=comparison)]
    return StreamingResponse(
        stream_zip(blobs, entries),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="comparison-{comparison.slug}.zip"'},
    )
