"""Giving claimed work back to the queue: the one rule for renders, analysis items and precision
checks (a claim is `state` running + `worker_id` + `claimed_at`). A module that imports no
service, so that any service may use it without an import cycle."""

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from ganstudio.db.session import rowcount


def release_claims(
    session: Session, model: Any, *, running: Any, queued: Any, orphaned: Any
) -> int:
    """Queue again the rows of `model` (renders, analysis items, precision checks: each has
    `state`, `worker_id`, `claimed_at`) left `running` that `orphaned` (a condition on their
    rows) says no live step holds: a dead worker's (RenderWorker.recover, on each heartbeat), or
    a worker's own after its step failed (release_own_claims). Not a failure: the work is done
    again. Return how many."""
    result = session.execute(
        update(model)
        .where(model.state == running, orphaned)
        .values(state=queued, worker_id=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)
