"""A comparison's report: one self-contained HTML file (images embedded) that opens offline.

The page is rendered with a placeholder where each image goes, and `stream_report` fills the
placeholders in while the file is sent: one image is in memory at a time, not every image of
up to 1,000 rows.
"""

import base64
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache

from sqlalchemy.orm import Session

from ganstudio.db.tables import Comment, Comparison
from ganstudio.paths import resource_dir
from ganstudio.services import arena as arena_service
from ganstudio.services import comparisons as comparisons_service
from ganstudio.services import reference_metrics
from ganstudio.services import reviews as reviews_service
from ganstudio.storage.blobs import BlobStore, sniff_media_type

_NOT_ASCII_NAME = re.compile(r"[^A-Za-z0-9._-]+")
CHUNK = 3 * 64 * 1024  # a multiple of 3: base64 of each chunk joins with the next


@dataclass(frozen=True)
class ReportData:
    grid: comparisons_service.Grid
    picks: reviews_service.PickSummary
    comments: list[Comment]
    leaderboard: arena_service.LeaderboardView
    metrics: reference_metrics.ComparisonMetrics  # PSNR/SSIM against references, where any
    images: frozenset[str]  # blob sha256s the report embeds
    # Unguessable per report, so that text a user wrote cannot pose as a placeholder.
    nonce: str = field(default_factory=lambda: secrets.token_hex(16))

    def image(self, sha256: str) -> str:
        """Return the placeholder the template writes where this image goes."""
        return f"@@image-{self.nonce}:{sha256}@@"


def build_report(session: Session, *, comparison: Comparison, max_rows: int) -> ReportData:
    """Gather everything the report shows; images stay on disk until the report is streamed."""
    grid = comparisons_service.read_grid(session, comparison=comparison, per_page=max_rows)
    wanted = {sample.thumb_sha256 for sample, _ in grid.rows}
    wanted |= {
        cell.render.thumb_sha256
        for _, cells in grid.rows
        for cell in cells
        if cell.render.thumb_sha256
    }
    return ReportData(
        grid=grid,
        picks=reviews_service.summarize_picks(session, comparison=comparison, reviewer=None),
        comments=reviews_service.list_comments(session, comparison=comparison),
        leaderboard=arena_service.filter_leaderboard(session, filter_=comparison.filter),
        metrics=reference_metrics.comparison_metrics(
            session, comparison=comparison, version_ids=[v.id for v in grid.versions]
        ),
        images=frozenset(wanted),
    )


@cache
def report_css() -> str:
    """Return the report's style sheet, which the file carries inline (it opens offline)."""
    return (resource_dir("static") / "css" / "report.css").read_text()


def report_filename(comparison: Comparison) -> str:
    """Return the download's file name: the title in ASCII letters, digits, '.', '_', '-'."""
    # ASCII only: the name rides in a Content-Disposition header.
    name = _NOT_ASCII_NAME.sub("-", comparison.title).strip("-")[:80] or comparison.slug
    return f"{name}-report.html"


def stream_report(html: str, *, data: ReportData, blobs: BlobStore) -> Iterator[bytes]:
    """Yield the rendered report with each image placeholder replaced by a data: URI."""
    placeholder = re.compile(rf"@@image-{data.nonce}:([0-9a-f]{{64}})@@")
    position = 0
    for match in placeholder.finditer(html):
        yield html[position : match.start()].encode()
        if match.group(1) in data.images:
            yield from _data_uri(blobs, match.group(1))
        position = match.end()
    yield html[position:].encode()


def _data_uri(blobs: BlobStore, sha256: str) -> Iterator[bytes]:
    with blobs.open(sha256) as handle:
        chunk = handle.read(CHUNK)
        yield f"data:{sniff_media_type(chunk[:16])};base64,".encode()
        while chunk:
            yield base64.b64encode(chunk)
            chunk = handle.read(CHUNK)
