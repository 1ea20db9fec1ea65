"""Create rows the way the app does (through services), for tests."""

from datetime import datetime
from pathlib import Path

from fastapi import FastAPI

from ganstudio.db.tables import User, WorkerRow
from ganstudio.roles import Role
from ganstudio.services import users as users_service
from ganstudio.vocabulary import WorkerState

PASSWORD = "correct horse battery"


def make_user(
    app: FastAPI, *, role: Role = Role.VIEWER, name: str = "someone", password: str = PASSWORD
) -> User:
    with app.state.sessions() as session:
        user, _ = users_service.create_user(
            session, name=name, role=role, password=password, actor=None
        )
        session.commit()
        return user


def make_token(app: FastAPI, *, name: str, label: str = "tests") -> str:
    with app.state.sessions() as session:
        user = users_service.get_user(session, name=name)
        _token, plaintext = users_service.create_token(session, user=user, label=label, actor=None)
        session.commit()
        return plaintext


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_sample(app: FastAPI, data: bytes, filename: str = "photo.png", **kwargs: object) -> int:
    """Add an image to the sample library the way an upload does; return its id."""
    import io

    from ganstudio.services.sample_uploads import Uploader

    with app.state.sessions() as session:
        uploader = Uploader(session, app.state.blobs, app.state.settings, actor=None, **kwargs)
        uploader.add_file(io.BytesIO(data), filename)
        outcome = uploader.finish()
        session.commit()
        accepted = [*outcome.created, *outcome.existing]
        assert accepted, outcome.rejected
        return accepted[0].id


def make_version(
    app: FastAPI,
    *,
    filter_slug: str,
    label: str,
    checkpoint: Path,
    input_channels: int = 3,
    parent_id: int | None = None,
) -> int:
    """Store a checkpoint as a version without the upload check (for render tests)."""
    from ganstudio.db.tables import Version
    from ganstudio.inference.loader import load_network
    from ganstudio.services import filters as filters_service

    loaded = load_network(checkpoint)
    with app.state.sessions() as session:
        filter_ = filters_service.get_filter(session, slug=filter_slug)
        blob = app.state.blobs.put_bytes(checkpoint.read_bytes())
        version = Version(
            filter_id=filter_.id,
            label=label,
            parent_id=parent_id,
            branch="main",
            notes="",
            checkpoint_sha256=blob.sha256,
            checkpoint_filename=checkpoint.name,
            checkpoint_size=blob.size,
            checkpoint_format=loaded.format,
            architecture=loaded.architecture,
            config=loaded.config,
            input_channels=loaded.input_channels or input_channels,
            param_count=sum(p.numel() for p in loaded.net.parameters()),
            gflops_512=None,
            latency_ms_512=1.0,
        )
        session.add(version)
        session.commit()
        return version.id


def make_filter(
    app: FastAPI, *, name: str = "Toon", input_size: int = 64, pipeline: str = "full"
) -> str:
    from ganstudio.services import filters as filters_service

    with app.state.sessions() as session:
        filter_ = filters_service.create_filter(
            session, name=name, input_size=input_size, pipeline=pipeline, actor=None
        )
        session.commit()
        return filter_.slug


def worker_row(
    worker_id: str,
    *,
    started_at: datetime,
    last_seen: datetime,
    state: WorkerState = WorkerState.RUNNING,
    renders_done: int = 0,
) -> WorkerRow:
    """A render worker's heartbeat row; `worker_id` is "host/device/pid-xxxx", as a worker's."""
    host, device, life = worker_id.split("/")
    return WorkerRow(
        id=worker_id,
        host=host,
        device=device,
        pid=int(life.split("-")[0]),
        state=state,
        started_at=started_at,
        last_seen=last_seen,
        renders_done=renders_done,
    )
