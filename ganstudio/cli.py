"""The `ganstudio` command: serve, manage users and tokens, maintain the data dir."""

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from ganstudio.cli_common import err, open_cli_runtime
from ganstudio.cli_samples import samples_app
from ganstudio.config import Settings

if TYPE_CHECKING:
    from ganstudio.runtime import Runtime

app = typer.Typer(
    help="GAN Studio: shared test photos, filter versions, side-by-side review.",
    no_args_is_help=True,
)
users_app = typer.Typer(help="Accounts and API tokens.", no_args_is_help=True)
blobs_app = typer.Typer(help="The blob store.", no_args_is_help=True)
filters_app = typer.Typer(
    help="Filters (push versions with `ganstudio push`).", no_args_is_help=True
)
app.add_typer(users_app, name="users")
app.add_typer(blobs_app, name="blobs")
app.add_typer(filters_app, name="filters")
app.add_typer(samples_app, name="samples")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    demo: Annotated[bool, typer.Option(help="seed demo content and accounts first")] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="web processes (uvicorn workers) answering on the port. With more than 1, the "
            "render worker (GANSTUDIO_WORKER=thread) and the blob sweep run once, in this "
            "supervising process; use PostgreSQL for many processes.",
        ),
    ] = 1,
) -> None:
    """Start GAN Studio on the data dir from the settings; Ctrl+C (or SIGTERM) stops it cleanly."""
    from ganstudio.app import create_app
    from ganstudio.config import SecretKeyError

    settings = Settings(demo=True) if demo else Settings()
    runtime = open_cli_runtime(settings)
    console = Console()
    if demo:
        # Until uvicorn takes the signals over, SIGTERM stops the seeding like Ctrl+C does.
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        try:
            accounts = _seed_demo(runtime)
        except KeyboardInterrupt:
            err.print("Stopped while seeding the demo; the next `make demo` goes on from there.")
            runtime.close()
            return
        table = Table(title="Demo accounts (sign in with any of these)")
        for column in ("name", "role", "password"):
            table.add_column(column)
        for account in accounts:
            table.add_row(account["name"], account["role"], account["password"])
        console.print(table)
    if workers > 1:
        try:
            settings.signing_key  # noqa: B018 - checked (or generated) once, before the processes
        except SecretKeyError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
        _serve_processes(runtime, host=host, port=port, processes=workers, console=console)
        return
    try:
        web_app = create_app(runtime=runtime)  # the one command that builds the web app
    except SecretKeyError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(
        f"GAN Studio is at [bold]http://{host}:{port}/[/bold] "
        f"(data in {settings.resolved_data_dir}). Press Ctrl+C to stop."
    )
    if not demo:
        console.print("Create an account with `ganstudio users add NAME --role admin`.")
    _QuietExitServer(uvicorn.Config(web_app, host=host, port=port, log_level="info")).run()


def _serve_processes(
    runtime: "Runtime", *, host: str, port: int, processes: int, console: Console
) -> None:
    """Serve with `processes` uvicorn processes; one render worker and one sweep, here.

    What each process keeps for itself stays correct: the sign-in throttle counts in the
    database, the ETag token is shared through the environment, the network cache belongs to
    the one render worker, and long-polls of a process the worker cannot wake find the change
    by their own look at the database (ganstudio/inference/changes.py).
    """
    import os
    import secrets

    from ganstudio.runtime import run_blob_sweep
    from ganstudio.web.etags import ETAG_SEED_ENV

    settings = runtime.settings
    # The web processes read their settings from the environment (uvicorn spawns them).
    os.environ.update(
        {
            ETAG_SEED_ENV: secrets.token_hex(8),
            "GANSTUDIO_DATA_DIR": str(settings.resolved_data_dir),
            "GANSTUDIO_DEMO": "true" if settings.demo else "false",
            # Rendering and sweeping happen once, in this process, not once per web process.
            "GANSTUDIO_WORKER": "off",
            "GANSTUDIO_BLOB_SWEEP_INTERVAL_SECONDS": "0",
        }
    )
    stop = threading.Event()
    background = []
    if settings.worker == "thread":
        background.append(
            threading.Thread(
                target=runtime.worker.serve, args=(stop,), name="render-worker", daemon=True
            )
        )
    interval = settings.blob_sweep_interval_seconds
    if interval > 0:

        def sweep_periodically() -> None:
            while True:
                try:
                    console.print(run_blob_sweep(runtime), markup=False, highlight=False)
                except Exception as exc:  # the next sweep tries again
                    err.print(f"Blob sweep failed ({exc}); will try again in {interval} s")
                if stop.wait(interval):
                    return

        background.append(threading.Thread(target=sweep_periodically, daemon=True))
    for thread in background:
        thread.start()
    console.print(
        f"GAN Studio is at [bold]http://{host}:{port}/[/bold] with {processes} web processes "
        f"(data in {settings.resolved_data_dir}). "
        + (
            "One render worker runs in this supervising process. "
            if settings.worker == "thread"
            else "Start render workers with `ganstudio worker --device cuda:0`. "
        )
        + "Press Ctrl+C to stop."
    )
    try:
        uvicorn.run(
            "ganstudio.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=processes,
            log_level="info",
        )
    finally:
        stop.set()
        runtime.worker.wake.set()
        for thread in background:
            thread.join(timeout=60)  # the render worker drains: what it holds finishes
        runtime.close()


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _seed_demo(runtime: "Runtime") -> list[dict[str, str]]:
    """Seed the demo content, saying on stderr what it is doing (checks take a while)."""
    from ganstudio.demo import seed_demo

    def progress(line: str) -> None:
        err.print(line, markup=False, highlight=False)

    with runtime.sessions() as session:
        accounts = seed_demo(session, runtime.settings, progress=progress)
        session.commit()
    return accounts


class _QuietExitServer(uvicorn.Server):
    """A uvicorn server that, stopped by SIGINT or SIGTERM, shuts down and returns (exit 0).

    uvicorn re-raises the signal after its graceful shutdown, so the process would end as
    killed by it (130/143) and `make demo` would report an error for a normal Ctrl+C.
    """

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[str, typer.Option(help="viewer, qa, developer or admin")] = "viewer",
    password: Annotated[str | None, typer.Option(help="generated and printed when omitted")] = None,
) -> None:
    """Create an account; prints the generated password unless one is given."""
    from ganstudio.services import users as users_service
    from ganstudio.services.errors import ServiceError

    runtime = open_cli_runtime()
    with runtime.sessions() as session:
        try:
            user, plain = users_service.create_user(
                session, name=name, role=role, password=password, actor=None
            )
        except ServiceError as exc:
            err.print(f"[red]{exc.message}[/red]")
            raise typer.Exit(1) from None
        session.commit()
    if password:
        typer.echo(f"Created {user.name} ({user.role.value}).")
    else:
        typer.echo(f"Created {user.name} ({user.role.value}). Password: {plain}")


@users_app.command("token")
def users_token(
    name: str,
    label: Annotated[str, typer.Option(help="what the token is for")] = "cli",
) -> None:
    """Create an API token for NAME and print only the token (for scripts)."""
    from ganstudio.services import users as users_service
    from ganstudio.services.errors import ServiceError

    runtime = open_cli_runtime()
    with runtime.sessions() as session:
        try:
            user = users_service.get_user(session, name=name)
            _token, plaintext = users_service.create_token(
                session, user=user, label=label, actor=None
            )
        except ServiceError as exc:
            err.print(f"[red]{exc.message}[/red]")
            raise typer.Exit(1) from None
        session.commit()
    typer.echo(plaintext)


@users_app.command("list")
def users_list() -> None:
    """List accounts."""
    from ganstudio.services import users as users_service

    runtime = open_cli_runtime()
    table = Table()
    for column in ("name", "role", "active", "last sign-in"):
        table.add_column(column)
    with runtime.sessions() as session:
        for user in users_service.list_users(session):
            last = (
                user.last_sign_in_at.isoformat(timespec="minutes") if user.last_sign_in_at else ""
            )
            table.add_row(user.name, user.role.value, "yes" if user.active else "no", last)
    Console().print(table)


@filters_app.command("add")
def filters_add(
    name: str,
    slug: Annotated[str | None, typer.Option(help="made from the name when omitted")] = None,
    pipeline: Annotated[str, typer.Option(help="full (whole image) or face")] = "full",
    input_size: Annotated[int, typer.Option(help="longest side fed to the network")] = 512,
    description: Annotated[str, typer.Option()] = "",
) -> None:
    """Create a filter."""
    from ganstudio.services import filters as filters_service
    from ganstudio.services.errors import ServiceError

    runtime = open_cli_runtime()
    with runtime.sessions() as session:
        try:
            filter_ = filters_service.create_filter(
                session,
                name=name,
                slug=slug,
                pipeline=pipeline,
                input_size=input_size,
                description=description,
                actor=None,
            )
        except ServiceError as exc:
            err.print(f"[red]{exc.message}[/red]")
            raise typer.Exit(1) from None
        session.commit()
    typer.echo(f"Created filter {filter_.slug} ({filter_.pipeline.value}, {input_size} px).")


@filters_app.command("list")
def filters_list() -> None:
    """List filters with their version counts."""
    from ganstudio.services import filters as filters_service

    runtime = open_cli_runtime()
    table = Table()
    for column in ("slug", "name", "pipeline", "versions", "production"):
        table.add_column(column)
    with runtime.sessions() as session:
        for s in filters_service.list_filters(session):
            table.add_row(
                s.filter.slug,
                s.filter.name,
                s.filter.pipeline.value,
                str(s.version_count),
                s.production_label or "",
            )
    Console().print(table)


class _ProgressReader:
    """A file wrapper that advances a progress bar as the store reads it."""

    def __init__(self, handle: BinaryIO, progress: Progress, task: TaskID) -> None:
        self.handle, self.progress, self.task = handle, progress, task

    def read(self, size: int = -1) -> bytes:
        chunk = self.handle.read(size)
        self.progress.advance(self.task, len(chunk))
        if not chunk:
            self.progress.update(self.task, description="checking (load, probe, time)…")
        return chunk


@app.command()
def push(
    filter_slug: Annotated[str, typer.Argument(metavar="FILTER", help="the filter's slug")],
    checkpoint: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    label: Annotated[str, typer.Option(help="the new version's label, e.g. v4")],
    parent: Annotated[str | None, typer.Option(help="the parent version's label")] = None,
    branch: Annotated[str | None, typer.Option(help="defaults to the parent's branch")] = None,
    notes_file: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="Markdown notes")
    ] = None,
    notes: Annotated[str, typer.Option(help="notes, when no --notes-file")] = "",
    architecture: Annotated[str | None, typer.Option(help="se-unet, unet, …")] = None,
    config: Annotated[str | None, typer.Option(help="JSON file or JSON text")] = None,
    metrics: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            metavar="FILE.json",
            help="the training run's numbers: a JSON object of name → number, e.g. "
            '{"step": 120000, "fid": 31.2} (or {"step": N, "metrics": {...}})',
        ),
    ] = None,
    as_user: Annotated[
        str | None, typer.Option("--as", envvar="GANSTUDIO_USER", help="record the push as NAME")
    ] = None,
) -> None:
    """Push a checkpoint as a new version of FILTER (checked and measured before it is stored)."""
    from ganstudio.services import filters as filters_service
    from ganstudio.services import users as users_service
    from ganstudio.services import versions as versions_service
    from ganstudio.services.errors import ServiceError

    settings = Settings()
    runtime = open_cli_runtime(settings)
    config_json = config
    if config and Path(config).is_file():
        config_json = Path(config).read_text()
    request = versions_service.PushRequest(
        label=label,
        parent=parent,
        branch=branch,
        notes=notes_file.read_text() if notes_file else notes,
        architecture=architecture,
        config_json=config_json,
        metrics_json=metrics.read_text(errors="replace") if metrics else None,
    )
    with runtime.sessions() as session, checkpoint.open("rb") as handle:
        try:
            actor = users_service.get_user(session, name=as_user) if as_user else None
            filter_ = filters_service.get_filter(session, slug=filter_slug)
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
            )
            with Progress(*columns, console=err, transient=True) as progress:
                task = progress.add_task("reading", total=checkpoint.stat().st_size)
                version = versions_service.push_version(
                    session,
                    filter_=filter_,
                    checkpoint=_ProgressReader(handle, progress, task),
                    filename=checkpoint.name,
                    request=request,
                    actor=actor,
                    blobs=runtime.blobs,
                    settings=settings,
                )
            session.commit()
        except ServiceError as exc:
            err.print(f"[red]{exc.message}[/red]")
            raise typer.Exit(1) from None
    typer.echo(
        f"Pushed {filter_.slug} {version.label} (id {version.id}, branch {version.branch}): "
        f"{version.param_count:,} params, {version.latency_ms_512:.0f} ms at 512² on this CPU."
    )


@app.command()
def worker(
    device: Annotated[
        str | None,
        typer.Option(
            help="where this worker runs networks: cpu, cuda or cuda:N (default: "
            "GANSTUDIO_DEVICE). One worker per GPU, all sharing the queue: --device cuda:0, "
            "--device cuda:1, …",
        ),
    ] = None,
) -> None:
    """Run the render worker in this process (use with GANSTUDIO_WORKER=off on the server).

    SIGTERM or Ctrl+C drains it: the renders it holds finish, it claims nothing new, and it
    exits 0. A second Ctrl+C stops it at once (its renders are then queued again for others).
    """
    try:
        settings = Settings() if device is None else Settings(device=device)
    except ValidationError:
        err.print(f"[red]--device {device!r} is not a device: use cpu, cuda or cuda:N.[/red]")
        raise typer.Exit(2) from None
    runtime = open_cli_runtime(settings)
    render_worker = runtime.worker
    stop = threading.Event()

    def drain(signum: int, frame: object) -> None:
        if stop.is_set():
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            return
        stop.set()
        render_worker.wake.set()
        err.print(
            "Draining: finishing the renders this worker holds, claiming nothing new "
            "(Ctrl+C again stops at once)."
        )

    signal.signal(signal.SIGTERM, drain)
    signal.signal(signal.SIGINT, drain)
    err.print(
        f"Render worker {render_worker.worker_id} started on {settings.device}; Ctrl+C or "
        "SIGTERM drains and stops it."
    )
    try:
        render_worker.serve(stop)
    except KeyboardInterrupt:
        err.print(
            "Stopped at once: the renders it held are queued again by the next heartbeat of "
            "any live worker."
        )
    else:
        err.print(f"Render worker {render_worker.worker_id} stopped.")
    finally:
        runtime.close()


@app.command("migrate")
def migrate() -> None:
    """Upgrade the database schema to this version (serve does this too)."""
    settings = Settings()
    open_cli_runtime(settings).close()
    typer.echo(f"Database at {settings.sqlalchemy_url} is up to date.")


@blobs_app.command("sweep")
def blobs_sweep() -> None:
    """Expire old web tests, remove blobs no row names (past the grace), say what was freed."""
    from ganstudio.runtime import run_blob_sweep

    runtime = open_cli_runtime()
    try:
        typer.echo(run_blob_sweep(runtime))
    finally:
        runtime.close()


if __name__ == "__main__":
    app()
