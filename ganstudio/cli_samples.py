"""`ganstudio samples import`: bring folders of photos (and .zip archives) into the library."""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ganstudio.config import Settings

samples_app = typer.Typer(help="The sample library.", no_args_is_help=True)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".zip"}


def collect_files(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """Return the files to import (folders walked, hidden files skipped) and missing paths."""
    files: list[Path] = []
    missing: list[str] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and p.suffix.lower() in IMAGE_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            files.append(path)
        else:
            missing.append(str(path))
    return files, missing


@samples_app.command("import")
def import_samples(
    paths: Annotated[list[Path], typer.Argument(help="image files, .zip archives or folders")],
    sample_set: Annotated[
        str | None, typer.Option("--set", help="add them to this set (id or name; made if new)")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="tag them (repeatable)")] = None,
    as_user: Annotated[
        str | None, typer.Option("--as", help="record this QA user as the uploader")
    ] = None,
) -> None:
    """Import images into the sample library; same checks and dedup as uploads in the browser."""
    from ganstudio.cli_common import open_cli_runtime
    from ganstudio.roles import Role
    from ganstudio.services import users as users_service
    from ganstudio.services.errors import ServiceError
    from ganstudio.services.sample_sets import resolve_set
    from ganstudio.services.sample_uploads import Uploader, UploadOutcome

    console = Console()
    err = Console(stderr=True)
    settings = Settings()
    runtime = open_cli_runtime(settings)
    files, missing = collect_files(paths)
    for name in missing:
        err.print(f"[yellow]Not found, skipped: {name}[/yellow]")
    if not files:
        err.print("[red]No image or .zip files found in the given paths.[/red]")
        raise typer.Exit(1)
    outcome = UploadOutcome()
    with runtime.sessions() as session:
        try:
            actor = users_service.get_user(session, name=as_user) if as_user else None
            if actor is not None and not actor.role.allows(Role.QA):
                err.print(f"[red]{actor.name} is {actor.role.value}; importing needs qa.[/red]")
                raise typer.Exit(1)
            target = (
                resolve_set(session, ref=sample_set, actor=actor, create_missing=True)
                if sample_set
                else None
            )
            uploader = Uploader(
                session,
                runtime.blobs,
                settings,
                tags=tag or [],
                sample_set=target,
                actor=actor,
            )
        except ServiceError as exc:
            err.print(f"[red]{exc.message}[/red]")
            raise typer.Exit(1) from None
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        )
        with progress:
            task = progress.add_task("Importing", total=len(files))
            for path in files:
                progress.update(task, description=f"Importing {path.name[:40]}")
                with path.open("rb") as handle:
                    uploader.add_file(handle, path.name)
                progress.advance(task)
        outcome = uploader.finish()
        session.commit()
    console.print(
        f"Created {len(outcome.created)}, existing {len(outcome.existing)}, "
        f"rejected {len(outcome.rejected)}"
        + (f"; in the set '{target.name}'" if target else "")
        + "."
    )
    for rejected in outcome.rejected:
        console.print(f"  rejected {rejected.filename}: {rejected.reason}", markup=False)
    if outcome.rejected and not (outcome.created or outcome.existing):
        raise typer.Exit(1)
