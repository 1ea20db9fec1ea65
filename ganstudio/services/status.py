"""The admin's view of the machine: the sandbox, the render worker, its warm executors."""

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ganstudio.config import Settings
from ganstudio.db.tables import Filter, Render, Version
from ganstudio.inference.networks import SandboxStatus, measure_sandbox, sandbox_status
from ganstudio.inference.runner import RenderWorker
from ganstudio.vocabulary import RenderState


@dataclass(frozen=True)
class WarmExecutor:
    pid: int
    checkpoint_sha256: str
    format: str
    versions: list[str]  # "toon v2", every version with this checkpoint
    requests: int


@dataclass(frozen=True)
class SystemStatus:
    sandbox: SandboxStatus
    worker_mode: str  # "thread" (in this server) or "off" (a `ganstudio worker` process)
    device: str
    renders_run: int
    queued: int
    running: int
    executors: list[WarmExecutor]


def system_status(session: Session, *, settings: Settings, worker: RenderWorker) -> SystemStatus:
    """Return the sandbox's newest measurement, the queue and this process's executors."""
    counts = dict(
        session.execute(
            select(Render.state, func.count())
            .where(Render.state.in_([RenderState.QUEUED, RenderState.RUNNING]))
            .group_by(Render.state)
        ).all()
    )
    warm = worker.pool.executors()
    labels: dict[str, list[str]] = {}
    if warm:
        rows = session.execute(
            select(Version.checkpoint_sha256, Filter.slug, Version.label)
            .join(Filter, Filter.id == Version.filter_id)
            .where(Version.checkpoint_sha256.in_([sha for sha, _ in warm]))
            .order_by(Filter.slug, Version.id)
        )
        for sha, slug, label in rows:
            labels.setdefault(sha, []).append(f"{slug} {label}")
    return SystemStatus(
        sandbox=sandbox_status(settings),
        worker_mode=settings.worker,
        device=worker.device,  # "auto" resolved once a network is loaded
        renders_run=worker.renders_run,
        queued=counts.get(RenderState.QUEUED, 0),
        running=counts.get(RenderState.RUNNING, 0),
        executors=[
            WarmExecutor(
                pid=loaded.executor.pid,
                checkpoint_sha256=sha,
                format=loaded.format,
                versions=labels.get(sha, []),
                requests=loaded.executor.requests,
            )
            for sha, loaded in reversed(warm)
        ],
    )


def run_self_test(*, settings: Settings) -> SandboxStatus:
    """Start a fresh executor, measure what its sandbox blocks, and return the new status."""
    measure_sandbox(settings)
    return sandbox_status(settings)
