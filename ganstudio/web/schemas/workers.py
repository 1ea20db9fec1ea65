"""JSON shapes of the render workers (admins): who is alive, what each renders, how fast."""

from datetime import datetime

from pydantic import BaseModel, Field

from ganstudio.services.workers import CurrentRender, CurrentTask, WorkerView


class CurrentRenderPublic(BaseModel):
    id: int = Field(description="the render's id")
    version: str = Field(description="the label of the version it renders")
    claimed_at: datetime | None
    kind: str | None = Field(description="comparison or webtest; null when no job waits for it")
    comparison: str | None = Field(description="the comparison's slug (its page is /c/{slug})")
    url: str | None = Field(description="the page that shows it (web tests are private: none)")
    owner: str | None = Field(description="who started the job")


class CurrentTaskPublic(BaseModel):
    kind: str = Field(description="analysis or precision check")
    title: str = Field(description="the analysis's title, or the filter, version and precision")
    url: str = Field(description="the page that shows it")
    items: int = Field(description="the analysis items the worker holds (1 for a check)")


class WorkerPublic(BaseModel):
    id: str = Field(description="host/device/pid-xxxx: one life of a worker")
    host: str
    device: str
    pid: int
    state: str = Field(
        description="alive, draining (finishing its renders, claiming none), stopped, or dead "
        "(no heartbeat for timeout_seconds: its renders are queued again)"
    )
    started_at: datetime
    last_seen: datetime
    seconds_since_seen: float
    renders_done: int = Field(description="renders this worker recorded since it started")
    renders_per_minute: float = Field(description="over the last five minutes")
    current_render: CurrentRenderPublic | None = Field(description="the oldest of current_renders")
    current_renders: list[CurrentRenderPublic] = Field(
        description="every render it holds (a worker pipelines a few at once)"
    )
    current_tasks: list[CurrentTaskPublic] = Field(
        description="work besides renders that it holds: analyses (one per analysis) and "
        "precision checks"
    )


class WorkersPublic(BaseModel):
    workers: list[WorkerPublic] = Field(description="dead workers first")
    heartbeat_seconds: float = Field(description="GANSTUDIO_WORKER_HEARTBEAT_SECONDS")
    timeout_seconds: float = Field(description="GANSTUDIO_WORKER_TIMEOUT_SECONDS")


def current_render_url(render: CurrentRender) -> str | None:
    return f"/c/{render.comparison_slug}" if render.comparison_slug else None


def current_render_public(render: CurrentRender) -> CurrentRenderPublic:
    return CurrentRenderPublic(
        id=render.render_id,
        version=render.version_label,
        claimed_at=render.claimed_at,
        kind=render.kind.value if render.kind else None,
        comparison=render.comparison_slug,
        url=current_render_url(render),
        owner=render.owner,
    )


def worker_public(view: WorkerView) -> WorkerPublic:
    current = [current_render_public(render) for render in view.current]
    return WorkerPublic(
        id=view.id,
        host=view.host,
        device=view.device,
        pid=view.pid,
        state=view.state,
        started_at=view.started_at,
        last_seen=view.last_seen,
        seconds_since_seen=round(view.seconds_since_seen, 1),
        renders_done=view.renders_done,
        renders_per_minute=view.renders_per_minute,
        current_render=current[0] if current else None,
        current_renders=current,
        current_tasks=[current_task_public(task) for task in view.tasks],
    )


def current_task_public(task: CurrentTask) -> CurrentTaskPublic:
    return CurrentTaskPublic(kind=task.kind, title=task.title, url=task.url, items=task.items)
