"""A comparison's report: one self-contained HTML file (images embedded) that opens offline."""

import base64
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ganstudio.db.tables import Comment, Comparison
from ganstudio.services import arena as arena_service
from ganstudio.services import comparisons as comparisons_service
from ganstudio.services import reviews as reviews_service
from ganstudio.storage.blobs import BlobStore, sniff_media_type


@dataclass(frozen=True)
class ReportData:
    grid: comparisons_service.Grid
    picks: reviews_service.PickSummary
    comments: list[Comment]
    leaderboard: arena_service.LeaderboardView
    images: dict[str, str]  # blob sha256 → data: URI


def build_report(
    session: Session, *, comparison: Comparison, blobs: BlobStore, max_rows: int
) -> ReportData:
    """Gather everything the report shows, with every thumbnail inlined as a data URI."""
    grid = comparisons_service.read_grid(session, comparison=comparison, per_page=max_rows)
    wanted = {sample.thumb_sha256 for sample, _ in grid.rows}
    wanted |= {
        cell.render.thumb_sha256
        for _, cells in grid.rows
        for cell in cells
        if cell.render.thumb_sha256
    }
    images = {}
    for sha in wanted:
        data = blobs.read_bytes(sha)
        images[sha] = f"data:{sniff_media_type(data[:16])};base64,{base64.b64encode(data).decode()}"
    return ReportData(
        grid=grid,
        picks=reviews_service.summarize_picks(session, comparison=comparison, reviewer=None),
        comments=reviews_service.list_comments(session, comparison=comparison),
        leaderboard=arena_service.filter_leaderboard(session, filter_=comparison.filter),
        images=images,
    )
