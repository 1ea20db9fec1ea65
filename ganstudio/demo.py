"""Demo content, seeded idempotently: accounts (one per role), sample set, filter and versions."""

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ganstudio.config import Settings
from ganstudio.db.tables import Filter, SampleSet, User
from ganstudio.roles import Role
from ganstudio.services import users as users_service
from ganstudio.vocabulary import VersionStatus

if TYPE_CHECKING:
    from ganstudio.storage.blobs import BlobStore

CREDENTIALS_FILE = "demo-accounts.json"
# Told one short line per step (the CLI prints them to stderr): checking the shipped checkpoints
# takes about a minute on a small machine, and silence looks like a hang.
Progress = Callable[[str], None]


def _quiet(line: str) -> None:
    del line


def read_demo_credentials(data_dir: Path) -> list[dict[str, str]]:
    """Return the demo accounts' names, roles and passwords, if demo content was seeded."""
    path = data_dir / CREDENTIALS_FILE
    if not path.exists():
        return []
    return json.loads(path.read_text())


def seed_demo(
    session: Session, settings: Settings, *, progress: Progress = _quiet
) -> list[dict[str, str]]:
    """Seed every kind of demo content; return the demo accounts' credentials."""
    progress("Seeding demo: accounts…")
    accounts = seed_demo_accounts(session, settings.resolved_data_dir)
    seed_demo_samples(session, settings, progress=progress)
    filter_ = seed_demo_filter(session, settings, progress=progress)
    seed_demo_comparison(session, filter_=filter_, progress=progress)
    seed_demo_faces(session, settings, progress=progress)
    progress("Seeding demo: done.")
    return accounts


def seed_demo_comparison(
    session: Session,
    *,
    filter_: Filter,
    progress: Progress = _quiet,
    set_name: str | None = None,
    title: str = "Demo: toon versions on the first-look set",
) -> None:
    """Queue one comparison of the demo versions on the demo set, unless one exists."""
    from ganstudio.db.tables import Comparison
    from ganstudio.services import comparisons as comparisons_service
    from ganstudio.services import versions as versions_service

    if session.scalar(select(Comparison.id).where(Comparison.filter_id == filter_.id)):
        progress("Seeding demo: the comparison exists.")
        return
    versions = versions_service.default_versions(session, filter_=filter_)
    samples = comparisons_service.resolve_samples(
        session, set_ref=set_name or DEMO_SET_NAME, sample_ids=None, tags=None, limit=1000
    )
    comparisons_service.create_comparison(
        session,
        filter_=filter_,
        versions=versions,
        samples=samples,
        title=title,
        actor=None,
    )
    # Short: rich wraps stderr lines at the terminal's width.
    progress(f"Seeding demo: queued {len(versions) * len(samples)} renders for the server.")


DEMO_CHECKPOINTS_DIR = Path(__file__).resolve().parent / "demo_assets" / "checkpoints"
DEMO_FILTER: dict[str, Any] = {
    "name": "Toon (demo)",
    "slug": "toon",
    "description": "A toon look — smoothed colours, banded light, dark outlines — trained in a "
    "minute on bundled photos by tools/train_demo.py.",
    "input_size": 256,
}
DEMO_PRODUCTION_LABEL = "v1"


def seed_demo_filter(
    session: Session,
    settings: Settings,
    *,
    progress: Progress = _quiet,
    spec: dict[str, Any] = DEMO_FILTER,
    checkpoints_dir: Path = DEMO_CHECKPOINTS_DIR,
) -> Filter:
    """Register a demo filter and its shipped versions (a small tree); idempotent."""
    from ganstudio.services import filters as filters_service
    from ganstudio.services import versions as versions_service
    from ganstudio.storage.blobs import open_blob_store

    filter_ = session.scalar(select(Filter).where(Filter.slug == spec["slug"]))
    if filter_ is None:
        filter_ = filters_service.create_filter(session, actor=None, **spec)
    manifest = json.loads((checkpoints_dir / "versions.json").read_text())
    blobs = open_blob_store(settings)
    entries = manifest["versions"]
    for number, entry in enumerate(entries, 1):  # parents come before their children
        where = f"{spec['slug']} checkpoint {number}/{len(entries)} ({entry['label']})"
        if versions_service.find_version(session, filter_=filter_, label=entry["label"]):
            progress(f"Seeding demo: {where} is in place.")
            continue
        progress(f"Seeding demo: checking {where}… (load, probe, time)")
        with (checkpoints_dir / entry["file"]).open("rb") as handle:
            versions_service.push_version(
                session,
                filter_=filter_,
                checkpoint=handle,
                filename=entry["file"],
                request=versions_service.PushRequest(
                    label=entry["label"],
                    parent=entry["parent"],
                    branch=entry["branch"],
                    notes=entry["notes"],
                    metrics_json=json.dumps(entry.get("metrics") or {}),
                ),
                actor=None,
                blobs=blobs,
                settings=settings,
            )
    production = versions_service.find_version(
        session, filter_=filter_, label=DEMO_PRODUCTION_LABEL
    )
    if production is not None and production.status == VersionStatus.CANDIDATE:
        versions_service.update_version(
            session,
            version=production,
            actor=None,
            status=VersionStatus.PRODUCTION,
            reason="demo: the version that ships today",
        )
    return filter_


DEMO_FACE_FILTER: dict[str, Any] = {
    "name": "Toon face (demo)",
    "slug": "toon-face",
    "description": "The toon look on faces only, eyes kept crisp: each face is cut to an "
    "eyes-level square, converted and pasted back. Trained in a minute on the demo's faces by "
    "tools/train_demo_faces.py; v2-eyes also sees the eye mask from landmarks (channel 4).",
    "pipeline": "face",
    "input_size": 128,
}
DEMO_FACES_SET_NAME = "Demo: faces"


def seed_demo_faces(session: Session, settings: Settings, *, progress: Progress = _quiet) -> None:
    """The face filter, its versions, the faces set and a comparison of them; idempotent.

    The set's face tags (`face:one face` …) come from the worker's background analysis, like any
    sample's: seeding only uploads the photos."""
    seed_demo_samples(
        session,
        settings,
        progress=progress,
        set_name=DEMO_FACES_SET_NAME,
        manifest_file="faces.json",
        description="Photos for the face filter: one face, several faces, a side view and "
        "no face at all (the render says so and shows the photo).",
    )
    filter_ = seed_demo_filter(
        session,
        settings,
        progress=progress,
        spec=DEMO_FACE_FILTER,
        checkpoints_dir=DEMO_CHECKPOINTS_DIR / "faces",
    )
    seed_demo_comparison(
        session,
        filter_=filter_,
        progress=progress,
        set_name=DEMO_FACES_SET_NAME,
        title="Demo: toon-face versions on the faces set",
    )


DEMO_SAMPLES_DIR = Path(__file__).resolve().parent / "demo_assets" / "samples"
DEMO_SET_NAME = "Demo: first look"


def seed_demo_samples(
    session: Session,
    settings: Settings,
    *,
    progress: Progress = _quiet,
    set_name: str = DEMO_SET_NAME,
    manifest_file: str = "manifest.json",
    description: str = "Photos that ship with GAN Studio, to try things out.",
) -> SampleSet:
    """Add the shipped demo photos, tagged, to a demo set; idempotent (same bytes, one sample)."""
    from ganstudio.services.sample_sets import resolve_set
    from ganstudio.services.sample_uploads import Uploader
    from ganstudio.storage.blobs import open_blob_store

    blobs = open_blob_store(settings)
    manifest = json.loads((DEMO_SAMPLES_DIR / manifest_file).read_text())
    sample_set = resolve_set(session, ref=set_name, actor=None, create_missing=True)
    if not sample_set.description:
        sample_set.description = description
    # "sample" for the first set, as before; the faces set says which set it fills.
    what = "sample" if set_name == DEMO_SET_NAME else f"{set_name} sample"
    for number, entry in enumerate(manifest, 1):
        progress(f"Seeding demo: {what} {number}/{len(manifest)} ({entry['file']})")
        uploader = Uploader(
            session, blobs, settings, tags=entry["tags"], sample_set=sample_set, actor=None
        )
        with (DEMO_SAMPLES_DIR / entry["file"]).open("rb") as handle:
            uploader.add_file(handle, entry["file"])
        uploader.finish()
        _attach_demo_reference(session, settings, blobs, entry["file"])
    return sample_set


def _attach_demo_reference(
    session: Session, settings: Settings, blobs: "BlobStore", filename: str
) -> None:
    """Attach the photo's toon target (tools/make_demo_references.py), when one ships and the
    sample has none: the demo comparison then shows PSNR/SSIM against it."""
    import hashlib

    from ganstudio.db.tables import Sample
    from ganstudio.services.references import store_reference

    path = DEMO_SAMPLES_DIR / "references" / f"{Path(filename).stem}.png"
    if not path.exists():
        return
    digest = hashlib.sha256((DEMO_SAMPLES_DIR / filename).read_bytes()).hexdigest()
    sample = session.scalar(select(Sample).where(Sample.sha256 == digest))
    if sample is None or sample.reference_sha256 is not None:
        return
    with path.open("rb") as handle:
        store_reference(session, blobs, settings, sample=sample, stream=handle, actor=None)


def seed_demo_accounts(session: Session, data_dir: Path) -> list[dict[str, str]]:
    """Create the demo accounts that are missing (one per role, named after it); idempotent."""
    known = {entry["name"]: entry for entry in read_demo_credentials(data_dir)}
    accounts = []
    for role in Role:
        name = f"demo-{role.value}"
        existing = session.scalar(select(User).where(User.name == name))
        if existing is not None and name in known:
            accounts.append(known[name])
            continue
        if existing is None:
            _user, password = users_service.create_user(session, name=name, role=role, actor=None)
        else:  # the credentials file was lost: give the account a new password
            password = users_service.generate_password()
            users_service.update_user(session, user=existing, actor=None, password=password)
        accounts.append({"name": name, "role": role.value, "password": password})
    path = data_dir / CREDENTIALS_FILE
    path.touch(mode=0o600)
    os.chmod(path, 0o600)
    path.write_text(json.dumps(accounts, indent=2))
    return accounts
