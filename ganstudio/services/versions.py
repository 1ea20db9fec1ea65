"""Versions: push (check before storing), edit notes and status, list, lineage."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from ganstudio.config import Settings
from ganstudio.db.base import parse_id
from ganstudio.db.tables import Filter, User, Version, VersionStatusChange
from ganstudio.inference.check import CheckpointRejectedError, check_checkpoint
from ganstudio.inference.formats import CheckpointError, parse_config
from ganstudio.services import audit
from ganstudio.services import precision as precision_service
from ganstudio.services.errors import ConflictError, InvalidInputError, NotFoundError
from ganstudio.services.training_metrics import parse_metrics
from ganstudio.storage.blobs import BlobStore, BlobTooLargeError, Readable
from ganstudio.vocabulary import VersionStatus

LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
MAX_NOTES = 20_000
DEFAULT_BRANCH = "main"


@dataclass(frozen=True)
class PushRequest:
    """What a developer sends with a checkpoint."""

    label: str
    parent: str | None = None  # the parent's label
    branch: str | None = None  # defaults to the parent's branch, or "main"
    notes: str = ""
    architecture: str | None = None
    config_json: str | None = None
    metrics_json: str | None = None  # the training run's numbers (see training_metrics)

    def __post_init__(self) -> None:
        # Forms send "" for a field left empty: that means "not given", in one place.
        for name in ("parent", "branch", "architecture", "config_json", "metrics_json"):
            value = getattr(self, name)
            if value is not None and not value.strip():
                object.__setattr__(self, name, None)


def _check_label(value: str, what: str) -> str:
    value = value.strip()
    if not LABEL_RE.match(value):
        raise InvalidInputError(
            f"'{value[:70]}' is not a valid {what}: use up to 64 letters, digits, '.', '_', "
            "'+' or '-', starting with a letter or digit (e.g. 'v4', 'v4-eyemask')."
        )
    return value


def find_version(session: Session, *, filter_: Filter, label: str) -> Version | None:
    return session.scalar(
        select(Version).where(Version.filter_id == filter_.id, Version.label == label)
    )


def push_version(
    session: Session,
    *,
    filter_: Filter,
    checkpoint: Readable,
    filename: str,
    request: PushRequest,
    actor: User | None,
    blobs: BlobStore,
    settings: Settings,
) -> Version:
    """Check a checkpoint and store it as a new version; on any problem store nothing."""
    label = _check_label(request.label, "label")
    if len(request.notes) > MAX_NOTES:
        raise InvalidInputError(f"The notes are too long: keep them under {MAX_NOTES} characters.")
    if find_version(session, filter_=filter_, label=label) is not None:
        raise ConflictError(
            f"{filter_.name} already has a version labelled '{label}'; choose another label."
        )
    parent = None
    if request.parent:
        parent = find_version(session, filter_=filter_, label=request.parent.strip())
        if parent is None:
            raise InvalidInputError(
                f"The parent '{request.parent[:70]}' is not a version of {filter_.name}; "
                "the parent must be a version of the same filter."
            )
    branch = _check_label(request.branch or (parent.branch if parent else DEFAULT_BRANCH), "branch")
    try:
        config = parse_config(request.config_json)
    except CheckpointError as exc:
        raise InvalidInputError(str(exc)) from None
    training_metrics = parse_metrics(request.metrics_json)
    safe_name = Path(filename or "checkpoint").name[-200:] or "checkpoint"
    try:
        with blobs.staged(checkpoint, max_bytes=settings.max_checkpoint_bytes) as staged:
            if staged.size == 0:
                raise InvalidInputError("The checkpoint file is empty.")
            twin = session.scalar(
                select(Version).where(
                    Version.filter_id == filter_.id, Version.checkpoint_sha256 == staged.sha256
                )
            )
            if twin is not None:
                raise ConflictError(
                    f"This exact checkpoint is already version '{twin.label}' of {filter_.name}."
                )
            report = check_checkpoint(
                staged.path,
                architecture=request.architecture or None,
                config=config,
                settings=settings,
            )
            blobs.commit(staged)  # bytes on disk before the row that names them commits
    except BlobTooLargeError as exc:
        raise InvalidInputError(f"The checkpoint is {exc}.") from None
    except CheckpointRejectedError as exc:
        raise InvalidInputError(f"The checkpoint was refused: {exc}") from None
    version = Version(
        filter_id=filter_.id,
        label=label,
        parent_id=parent.id if parent else None,
        branch=branch,
        notes=request.notes.strip(),
        status=VersionStatus.CANDIDATE,
        checkpoint_sha256=staged.sha256,
        checkpoint_filename=safe_name,
        checkpoint_size=staged.size,
        checkpoint_format=report.format,
        architecture=report.architecture,
        config=report.config,
        training_metrics=training_metrics,
        input_channels=report.input_channels,
        param_count=report.param_count,
        gflops_512=report.gflops_512,
        latency_ms_512=report.latency_ms_512,
        created_by_id=actor.id if actor else None,
    )
    session.add(version)
    session.flush()
    session.add(
        VersionStatusChange(
            version_id=version.id,
            from_status=None,
            to_status=VersionStatus.CANDIDATE,
            actor_id=actor.id if actor else None,
            reason="pushed",
        )
    )
    audit.record(
        session,
        actor=actor,
        action="version.push",
        subject_type="version",
        subject_id=version.id,
        filter=filter_.slug,
        label=label,
    )
    # A filter that opted into bf16/fp16 has each new version measured in it.
    precision_service.on_version_pushed(session, filter_=filter_, version=version, actor=actor)
    return version


def parse_status(value: str | VersionStatus) -> VersionStatus:
    try:
        return VersionStatus(value)
    except ValueError:
        choices = ", ".join(s.value for s in VersionStatus)
        raise InvalidInputError(
            f"'{str(value)[:40]}' is not a status; choose one of: {choices}."
        ) from None


def update_version(
    session: Session,
    *,
    version: Version,
    actor: User | None,
    notes: str | None = None,
    status: str | VersionStatus | None = None,
    reason: str = "",
) -> Version:
    """Edit notes or status; promoting to production moves the old production to approved."""
    if notes is not None and notes.strip() != version.notes:
        if len(notes) > MAX_NOTES:
            raise InvalidInputError(
                f"The notes are too long: keep them under {MAX_NOTES} characters."
            )
        version.notes = notes.strip()
        audit.record(
            session,
            actor=actor,
            action="version.notes",
            subject_type="version",
            subject_id=version.id,
        )
    if status is not None:
        new_status = parse_status(status)
        if new_status != version.status:
            if new_status == VersionStatus.PRODUCTION:
                current = session.scalar(
                    select(Version).where(
                        Version.filter_id == version.filter_id,
                        Version.status == VersionStatus.PRODUCTION,
                    )
                )
                if current is not None:
                    _set_status(
                        session,
                        current,
                        VersionStatus.APPROVED,
                        actor,
                        f"replaced in production by {version.label}",
                    )
            _set_status(session, version, new_status, actor, reason.strip()[:500])
    return version


def _set_status(
    session: Session, version: Version, status: VersionStatus, actor: User | None, reason: str
) -> None:
    session.add(
        VersionStatusChange(
            version_id=version.id,
            from_status=version.status,
            to_status=status,
            actor_id=actor.id if actor else None,
            reason=reason,
        )
    )
    audit.record(
        session,
        actor=actor,
        action="version.status",
        subject_type="version",
        subject_id=version.id,
        label=version.label,
        to=status.value,
        **{"from": version.status.value},
    )
    version.status = status
    session.flush()  # the unique-production rule holds after every single change


def get_version(session: Session, *, version_id: int) -> Version:
    version = session.scalar(
        select(Version)
        .where(Version.id == version_id)
        .options(
            joinedload(Version.filter), joinedload(Version.parent), joinedload(Version.created_by)
        )
    )
    if version is None:
        raise NotFoundError(f"No version with id {version_id}. The filter's page lists them.")
    return version


def list_versions(
    session: Session,
    *,
    filter_: Filter,
    branch: str | None = None,
    status: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[Version], int]:
    """Return one page of a filter's versions, newest first, and the total that match."""
    conditions = [Version.filter_id == filter_.id]
    if branch:
        conditions.append(Version.branch == branch)
    if status:
        conditions.append(Version.status == parse_status(status))
    total = session.scalar(select(func.count()).select_from(Version).where(*conditions)) or 0
    query = (
        select(Version)
        .where(*conditions)
        .options(joinedload(Version.parent), joinedload(Version.created_by))
        .order_by(Version.created_at.desc(), Version.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return list(session.scalars(query)), total


def branches(session: Session, *, filter_: Filter) -> list[tuple[str, int]]:
    """Return each branch of a filter with its version count, busiest first."""
    rows = session.execute(
        select(Version.branch, func.count())
        .where(Version.filter_id == filter_.id)
        .group_by(Version.branch)
        .order_by(func.count().desc(), Version.branch)
    ).all()
    return [(branch, count) for branch, count in rows]


def branch_heads(session: Session, *, filter_: Filter) -> list[Version]:
    """Return the newest non-archived version of each branch."""
    newest = (
        select(func.max(Version.id))
        .where(Version.filter_id == filter_.id, Version.status != VersionStatus.ARCHIVED)
        .group_by(Version.branch)
    )
    query = select(Version).where(Version.id.in_(newest)).order_by(Version.branch)
    return list(session.scalars(query))


def children(session: Session, *, version: Version) -> list[Version]:
    return list(
        session.scalars(select(Version).where(Version.parent_id == version.id).order_by(Version.id))
    )


def status_history(session: Session, *, version: Version) -> list[VersionStatusChange]:
    return list(
        session.scalars(
            select(VersionStatusChange)
            .where(VersionStatusChange.version_id == version.id)
            .options(joinedload(VersionStatusChange.actor))
            .order_by(VersionStatusChange.at, VersionStatusChange.id)
        )
    )


# ---- choosing versions to look at: one parser, one resolver, one default rule ----------------
# Comparisons, web tests and the arena all take "versions" as labels or ids, repeated and/or
# comma-separated. They share these three functions so a ref means the same thing everywhere.

MAX_SHOWN = 8  # a comparison, a web test and the arena show at most this many versions


@dataclass(frozen=True)
class VersionCount:
    """How many versions a view shows, and what it is called in the message when that is off."""

    view: str
    least: int
    most: int = MAX_SHOWN


COMPARISON = VersionCount("A comparison", 2)
WEB_TEST = VersionCount("A web test", 1)
ARENA = VersionCount("An arena", 2)


def split_refs(values: Iterable[str | int] | str | None) -> list[str]:
    """Return version refs from repeated and/or comma-separated values, in order, once each."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return list(dict.fromkeys(r.strip() for v in values for r in str(v).split(",") if r.strip()))


def default_versions(session: Session, *, filter_: Filter) -> list[Version]:
    """The versions a view starts with: production, then the newest version of each branch.

    Topped up with the newest live versions so a side-by-side has two where the filter has two.
    """
    live = select(Version).where(
        Version.filter_id == filter_.id, Version.status != VersionStatus.ARCHIVED
    )
    newest_first = list(
        session.scalars(live.order_by(Version.created_at.desc(), Version.id.desc()))
    )
    chosen = [v for v in newest_first if v.status == VersionStatus.PRODUCTION][:1]
    seen_branches: set[str] = set()
    for version in newest_first:
        if version.branch not in seen_branches and version not in chosen:
            chosen.append(version)
        seen_branches.add(version.branch)
    for version in newest_first:
        if len(chosen) >= COMPARISON.least:
            break
        if version not in chosen:
            chosen.append(version)
    return chosen[:MAX_SHOWN]


def resolve_refs(
    session: Session, *, filter_: Filter | None, refs: Iterable[str | int] | str | None
) -> list[Version]:
    """Find versions by label (of `filter_`) or id, in the order given, once each.

    Without a filter only ids resolve. A ref that names no version is refused by name.
    """
    found: list[Version] = []
    for ref in split_refs(refs):
        query = select(Version)
        if filter_ is not None:
            query = query.where(Version.filter_id == filter_.id)
        version = session.scalar(query.where(Version.label == ref)) if filter_ else None
        version_id = parse_id(ref)
        if version is None and version_id is not None:
            version = session.scalar(query.where(Version.id == version_id))
        if version is None:
            where = f"a version of {filter_.name}" if filter_ else "a version id"
            raise InvalidInputError(
                f"'{ref[:64]}' is not {where}; give labels (with the filter) or ids of its "
                "versions (the filter's page lists them)."
            )
        if version not in found:
            found.append(version)
    return found


def choose_versions(
    session: Session,
    *,
    filter_: Filter | None,
    refs: Iterable[str | int] | str | None,
    count: VersionCount,
    defaults: bool = True,
) -> list[Version]:
    """Return the versions a view shows: the refs given, else the filter's defaults; checked.

    `defaults=False` for a form whose ticks are the whole choice: none ticked is then refused.
    """
    found = resolve_refs(session, filter_=filter_, refs=refs)
    if not found and defaults:
        if filter_ is None:
            raise InvalidInputError("Choose versions: give `versions` (ids), or a `filter`.")
        found = default_versions(session, filter_=filter_)
        if not found:
            raise InvalidInputError(f"{filter_.name} has no versions yet; push one first.")
    if len({v.filter_id for v in found}) > 1:
        raise InvalidInputError(f"{count.view} shows versions of one filter; pick from one.")
    if not count.least <= len(found) <= count.most:
        shown = f"{count.least} to {count.most}"
        raise InvalidInputError(
            f"{count.view} shows {shown} versions; {len(found)} "
            f"{'was' if len(found) == 1 else 'were'} given."
        )
    return found


def version_picker(
    session: Session, *, filter_: Filter, refs: Iterable[str | int] | str | None, limit: int
) -> tuple[list[Version], set[int]]:
    """Return a picker's versions (oldest first: parents before children) and the ticked ids.

    Ticked: the refs that name one of them, else the default versions.
    """
    versions, _ = list_versions(session, filter_=filter_, per_page=limit)
    versions.reverse()
    wanted = split_refs(refs)
    if wanted:
        checked = {v.id for v in versions if v.label in wanted or str(v.id) in wanted}
    else:
        checked = {v.id for v in default_versions(session, filter_=filter_)}
    return versions, checked
