"""What a damaged blob means for the rows that name it: a render's output is made again."""

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from ganstudio.db.session import rowcount
from ganstudio.db.tables import Render
from ganstudio.vocabulary import RenderState


def redo_renders_of(session: Session, sha256: str) -> int:
    """Queue again every done render whose output (or thumbnail) is the damaged blob `sha256`,
    instead of serving it; return how many. The caller commits and wakes the worker."""
    result = session.execute(
        update(Render)
        .where(
            Render.state == RenderState.DONE,
            or_(Render.output_sha256 == sha256, Render.thumb_sha256 == sha256),
        )
        .values(
            state=RenderState.QUEUED,
            output_sha256=None,
            thumb_sha256=None,
            worker_id=None,
            claimed_at=None,
            finished_at=None,
            error="",
        )
    )
    return rowcount(result)
