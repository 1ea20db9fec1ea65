"""Analyses: attention maps (Grad-CAM) and feature maps of versions on samples, as jobs.

An analysis is a Job (kind "analysis") whose items are rows of `analysis_items`, one per
(version, sample). Items are cached by content like renders: the key names the checkpoint, the
input, the mask, the pipeline settings, the kind, the region and the layer, so an item whose key
already has a done result is done when it is made, without work. Workers claim queued items
after renders (`claim_next_item`, atomically like services/queue.py claims renders), and a
worker that dies leaves its item `running` until `recover_items` queues it again.
"""

import hashlib
import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, literal_column, select, update
from sqlalchemy.orm import Session, joinedload

from ganstudio.analysis import regions
from ganstudio.analysis.regions import (
    NEEDS_FACE,
    Region,
    RegionError,
    check_box,
    parse_region,
    words_for,
)
from ganstudio.config import Settings
from ganstudio.db.base import parse_id, utcnow
from ganstudio.db.session import new_slug, rowcount
from ganstudio.db.tables import (
    Analysis,
    AnalysisItem,
    Comparison,
    Filter,
    Job,
    Sample,
    User,
    Version,
)
from ganstudio.faces import DETECTOR
from ganstudio.inference import layers as layers_engine
from ganstudio.inference import networks
from ganstudio.inference.render_spec import PipelineSettings
from ganstudio.services import audit
from ganstudio.services import faces as faces_service
from ganstudio.services import renders as renders_service
from ganstudio.services import versions as versions_service
from ganstudio.services.claims import release_claims
from ganstudio.services.errors import InvalidInputError, NotFoundError
from ganstudio.vocabulary import AnalysisKind, AnalysisState, JobKind

# Bump when the maps for the same inputs change (engine, images): old results no longer match.
ANALYSIS_REVISION = 1
TOP_CHANNELS = 12  # the feature grid's strongest channels
INTERACTIVE = 10  # priority of the viewer's one-sample "Why": before batch analyses
KEY_CHUNK = 500  # cache look-ups per query (SQLite's bound parameters)
SALIENCY_LAYER = "input"  # a TorchScript version's one entry in its layer list
ANALYSIS = versions_service.VersionCount("An analysis", 1)
MAX_FACE = 63  # the largest face index a request may name (0: the largest face)
# A failed item's reason code: the photo has no face (a face filter sees only face crops, or the
# region is the eyes or the face). Pages show it as a note ("no face: skipped"), as the grid does.
NO_FACE = "no_face"
# A face filter's item on a photo without a face: its error (the worker's and create_analysis's).
NO_FACE_CROP = (
    "no face found in this photo, and this face filter's network only ever sees face crops; "
    "analyse a photo with a face"
)
REUSE_CANDIDATES = 5  # Why: the newest analyses of the same first item looked at for reuse


def version_layers(version: Version, settings: Settings) -> layers_engine.VersionLayers:
    """The layers an analysis can look at in `version` (built from models/, never the bytes)."""
    return networks.version_layers(
        settings,
        checkpoint_format=version.checkpoint_format,
        architecture=version.architecture,
        config=dict(version.config or {}),
    )


def layer_for(
    version: Version, name: str | None, settings: Settings, *, fallback: bool = False
) -> str | None:
    """The layer an analysis of `version` uses (None: saliency); an unknown name is a 422, or,
    with `fallback`, the version's default (a form lists the first version's layers)."""
    layers = version_layers(version, settings)
    if layers.method == "saliency" and name == SALIENCY_LAYER:  # as GET …/layers lists it
        name = None
    if fallback and name is not None and name not in {layer.name for layer in layers.layers}:
        name = None
    try:
        return layers_engine.check_layer(layers, name)
    except ValueError as exc:
        raise InvalidInputError(f"{version.label}: {exc}") from None


def item_key(
    *,
    version: Version,
    sample: Sample,
    settings: PipelineSettings,
    kind: AnalysisKind,
    region: Region,
    layer: str | None,
    face: int = 0,
) -> str:
    """The content key of one item: the same inputs always give the same key."""
    render_settings = renders_service.render_settings(
        version=version, mask_sha256=sample.mask_sha256, settings=settings
    )
    mask, _missing = renders_service.version_mask(
        version=version, mask_sha256=sample.mask_sha256, settings=render_settings
    )
    # Feature maps do not depend on the region; eyes and face come from the face detector.
    target = None if kind == AnalysisKind.FEATURES else region.to_json()
    parts = {
        "revision": ANALYSIS_REVISION,
        "checkpoint": version.checkpoint_sha256,
        "input": sample.sha256,
        "mask": mask,
        "settings": render_settings.as_dict(),
        "kind": kind.value,
        "region": target,
        "detector": DETECTOR
        if kind == AnalysisKind.GRADCAM and region.kind in NEEDS_FACE
        else None,
        "layer": layer,
        # Which face: a face filter's input is that face's crop; eyes and face name its parts.
        "face": face
        if settings.face is not None or (kind == AnalysisKind.GRADCAM and region.kind in NEEDS_FACE)
        else None,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


# What a done item holds; copied from a cached result to a new item with the same key.
RESULT_FIELDS = (
    "method",
    "layer",
    "region_share",
    "map_sha256",
    "raw_sha256",
    "grid_sha256",
    "note",
    "reason",
)


def _done_by_key(session: Session, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    wanted = list(dict.fromkeys(keys))
    found: dict[str, dict[str, Any]] = {}
    columns = [getattr(AnalysisItem, name) for name in RESULT_FIELDS]
    for start in range(0, len(wanted), KEY_CHUNK):
        chunk = wanted[start : start + KEY_CHUNK]
        rows = session.execute(
            select(AnalysisItem.cache_key, *columns).where(
                AnalysisItem.cache_key.in_(chunk), AnalysisItem.state == AnalysisState.DONE
            )
        ).all()
        for key, *values in rows:
            found.setdefault(key, dict(zip(RESULT_FIELDS, values, strict=True)))
    return found


def create_analysis(
    session: Session,
    *,
    filter_: Filter,
    versions: Sequence[Version],
    samples: Sequence[Sample],
    kind: AnalysisKind,
    region: Region,
    layer: str | None,
    actor: User | None,
    app_settings: Settings,
    title: str = "",
    interactive: bool = False,
    comparison: Comparison | None = None,
    face: int = 0,
    layer_fallback: bool = False,
    why: bool = False,
) -> tuple[Analysis, Job]:
    """Save an analysis, its job and one item per (version, sample); cached ones are done, and
    a photo whose stored face analysis found no face is skipped at once where the worker could
    only say so (a face filter, or the eyes or the face asked of it): no work is queued for it.

    `comparison`: the one it was started from (its page lists it). `face`: which face of each
    photo (0: the largest). `layer_fallback`: a version without `layer` uses its default.
    `why`: the viewer's Why mode asks, and looking at a map is a read: nothing goes to the
    activity feed, and an earlier Why analysis of the very same items is returned instead of a
    new one (see _reusable_why)."""
    if not 0 <= face <= MAX_FACE:
        raise InvalidInputError(
            f"Face {face} does not exist: faces are numbered from 0 (the largest) to {MAX_FACE}."
        )
    if why and len(samples) != 1:
        raise InvalidInputError(
            f"The viewer's Why looks at one sample at a time, not {len(samples)}; to analyse "
            "several samples, leave out why (the analysis is then listed on /analyses)."
        )
    for sample in samples:
        try:
            check_box(region, width=sample.width, height=sample.height, name=sample.filename)
        except RegionError as exc:
            raise InvalidInputError(str(exc)) from None
    layers = {v.id: layer_for(v, layer, app_settings, fallback=layer_fallback) for v in versions}
    if layer_fallback and layer and layer != SALIENCY_LAYER and layer not in layers.values():
        raise InvalidInputError(
            f"None of {', '.join(v.label for v in versions)} has a layer '{layer[:60]}'; "
            "pick one from the list."
        )
    settings = PipelineSettings.for_filter(
        pipeline=filter_.pipeline, input_size=filter_.input_size, face_options=filter_.face_options
    )
    planned = [
        (
            position,
            sample,
            version,
            item_key(
                version=version,
                sample=sample,
                settings=settings,
                kind=kind,
                region=region,
                layer=layers[version.id],
                face=face,
            ),
        )
        for position, sample in enumerate(samples)
        for version in versions
    ]
    if why:
        reused = _reusable_why(
            session,
            filter_=filter_,
            kind=kind,
            region=region,
            layer=layer,
            face=face,
            planned=[(p, v.id, s.id, key) for p, s, v, key in planned],
        )
        if reused is not None:
            return reused
    what = "Attention" if kind == AnalysisKind.GRADCAM else "Features"
    words = words_for(region.kind, settings.pipeline)
    on = f" on {words}" if kind == AnalysisKind.GRADCAM else ""
    on += f", face {face + 1}" if face else ""
    title = (
        title.strip()[:200]
        or (
            f"{what}{on}: "
            + ", ".join(v.label for v in versions)
            + f" · {len(samples)} sample"
            + ("" if len(samples) == 1 else "s")
        )[:200]
    )
    job = renders_service.create_job(
        session, kind=JobKind.ANALYSIS, renders=[], actor=actor, title=title
    )
    analysis = Analysis(
        slug=new_slug(session, Analysis.slug),
        title=title,
        filter_id=filter_.id,
        kind=kind,
        region=region.to_json(),
        layer=layer,
        face=face,
        settings=settings.as_dict(),
        priority=INTERACTIVE if interactive or why else 0,
        job_id=job.id,
        created_by_id=actor.id if actor else None,
        comparison_id=comparison.id if comparison else None,
    )
    session.add(analysis)
    session.flush()
    cached = _done_by_key(session, (key for *_, key in planned))
    faceless = _faceless_images(session, samples, settings=settings, kind=kind, region=region)
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for position, sample, version, key in planned:
        row: dict[str, Any] = {
            "analysis_id": analysis.id,
            "version_id": version.id,
            "sample_id": sample.id,
            "position": position,
            "cache_key": key,
            "state": AnalysisState.QUEUED,
            "error": "",
            "layer": layers[version.id],
            "attempts": 0,
            "created_at": now,
        }
        if key in cached:  # done before: no work
            row.update(cached[key], state=AnalysisState.DONE, finished_at=now)
        elif sample.sha256 in faceless:
            no_face = _no_face_error(version, sample, settings=settings, kind=kind, region=region)
            if no_face:  # what the worker would say, without queueing it
                row.update(
                    state=AnalysisState.FAILED, error=no_face, reason=NO_FACE, finished_at=now
                )
        rows.append(row)
    if rows:
        session.execute(insert(AnalysisItem), rows)
    if not why:  # a person's analysis goes to the feed; the viewer's Why is a read (see above)
        audit.record(
            session,
            actor=actor,
            action="analysis.create",
            subject_type="analysis",
            subject_id=analysis.id,
            filter=filter_.slug,
            kind=kind.value,
            region=region.to_json(),
            layer=layer,
            face=face,
            comparison=comparison.slug if comparison else None,
            versions=[v.label for v in versions],
            samples=len(samples),
        )
    session.flush()
    return analysis, job


def _reusable_why(
    session: Session,
    *,
    filter_: Filter,
    kind: AnalysisKind,
    region: Region,
    layer: str | None,
    face: int,
    planned: Sequence[tuple[int, int, int, str]],
) -> tuple[Analysis, Job] | None:
    """An earlier viewer's analysis (priority INTERACTIVE) asking exactly this, to return again.

    Why reuses the record rather than making none when every item is a cache hit: the viewer
    polls an analysis by id (POST returns `{id, url, job}`), and a record whose items are still
    queued or running is reused too, so a second look neither saves rows nor queues the work
    twice. The same items means the same (position, version, sample, content key), so the
    result is the one a new analysis would get. One with a real failure or a cancelled job is
    not reused: asking again tries again (a photo without a face is a result, not a failure).
    Two first looks at the same instant may each make one; later looks reuse the newest.
    "The viewer's" is priority INTERACTIVE, the mark /analyses already hides them by: it also
    covers a one-sample API analysis asking exactly the same (its result is the same too)."""
    if not planned:
        return None
    wanted = sorted(planned)
    candidates = session.scalars(
        select(Analysis)
        .join(AnalysisItem, AnalysisItem.analysis_id == Analysis.id)
        .join(Job, Job.id == Analysis.job_id)
        .where(
            AnalysisItem.cache_key == wanted[0][3],
            AnalysisItem.version_id == wanted[0][1],
            AnalysisItem.sample_id == wanted[0][2],
            Analysis.priority == INTERACTIVE,
            Analysis.filter_id == filter_.id,
            Analysis.kind == kind,
            Analysis.face == face,
            Analysis.layer.is_(None) if layer is None else Analysis.layer == layer,
            Job.cancelled_at.is_(None),
        )
        .order_by(Analysis.id.desc())
        .limit(REUSE_CANDIDATES)
    ).unique()
    target = region.to_json()
    for analysis in candidates:
        if analysis.region != target:  # JSON: compared here, as PostgreSQL's json has no `=`
            continue
        items = session.execute(
            select(
                AnalysisItem.position,
                AnalysisItem.version_id,
                AnalysisItem.sample_id,
                AnalysisItem.cache_key,
                AnalysisItem.state,
                AnalysisItem.reason,
            ).where(AnalysisItem.analysis_id == analysis.id)
        ).all()
        if sorted((p, v, s, key) for p, v, s, key, *_ in items) != wanted:
            continue
        if all(_reusable_state(state, reason) for *_, state, reason in items):
            job = session.get(Job, analysis.job_id)
            assert job is not None  # joined above
            return analysis, job
    return None


def _reusable_state(state: AnalysisState | str, reason: str | None) -> bool:
    if state in (AnalysisState.QUEUED, AnalysisState.RUNNING, AnalysisState.DONE):
        return True
    return state == AnalysisState.FAILED and reason == NO_FACE


def _faceless_images(
    session: Session,
    samples: Sequence[Sample],
    *,
    settings: PipelineSettings,
    kind: AnalysisKind,
    region: Region,
) -> set[str]:
    """The images among `samples` whose stored face analysis (the current detector's, done)
    found no face, when the analysis needs one; an image not analysed yet is not among them
    (the worker analyses it first)."""
    needs_face = settings.face is not None or (
        kind == AnalysisKind.GRADCAM and region.kind in NEEDS_FACE
    )
    if not needs_face:
        return set()
    shas = list(dict.fromkeys(sample.sha256 for sample in samples))
    faceless: set[str] = set()
    for start in range(0, len(shas), KEY_CHUNK):
        for sha, row in faces_service.analyses_of(session, shas[start : start + KEY_CHUNK]).items():
            if row.state == faces_service.DONE and not faces_service.faces_of(row):
                faceless.add(sha)
    return faceless


def _no_face_error(
    version: Version,
    sample: Sample,
    *,
    settings: PipelineSettings,
    kind: AnalysisKind,
    region: Region,
) -> str:
    """The error the worker gives an item on a photo without a face (inference/
    analysis_runner.py), or "" where it would fail otherwise first or not at all."""
    if settings.face is not None:  # the network sees only face crops, and there are none
        return NO_FACE_CROP
    if kind != AnalysisKind.GRADCAM or region.kind not in NEEDS_FACE:
        return ""
    # A 4-channel version without a mask fails for want of the eye mask first (a real error).
    render_settings = renders_service.render_settings(
        version=version, mask_sha256=sample.mask_sha256, settings=settings
    )
    _mask, missing = renders_service.version_mask(
        version=version, mask_sha256=sample.mask_sha256, settings=render_settings
    )
    if missing or render_settings.eye_mask:
        return ""
    return regions.NO_FACE


def get_analysis(session: Session, *, ref: str | int) -> Analysis:
    """Find an analysis by id or by its slug."""
    text = str(ref).strip()
    query = select(Analysis).options(
        joinedload(Analysis.filter),
        joinedload(Analysis.created_by),
        joinedload(Analysis.comparison),
    )
    analysis = session.scalar(query.where(Analysis.slug == text))
    analysis_id = parse_id(text)
    if analysis is None and analysis_id is not None:
        analysis = session.scalar(query.where(Analysis.id == analysis_id))
    if analysis is None:
        raise NotFoundError(
            f"No analysis '{text[:40]}'. Check the link, or start one from a comparison."
        )
    return analysis


# ---- reading ---------------------------------------------------------------------------------


@dataclass
class VersionSummary:
    """One version's shares over an analysis's done items."""

    version: Version
    total: int = 0
    done: int = 0
    failed: int = 0  # real failures: not the photos without a face (`no_face`)
    no_face: int = 0  # failed items skipped because the photo has no face (a note, not an error)
    shares: list[float] = field(default_factory=list)
    methods: set[str] = field(default_factory=set)
    notes: set[str] = field(default_factory=set)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.shares) if self.shares else None

    @property
    def median(self) -> float | None:
        return statistics.median(self.shares) if self.shares else None


@dataclass(frozen=True)
class AnalysisView:
    analysis: Analysis
    versions: list[Version]
    samples: list[Sample]
    items: list[AnalysisItem]  # sample order, then version order
    summary: list[VersionSummary]

    def cell(self, sample_id: int, version_id: int) -> AnalysisItem | None:
        return self._cells.get((sample_id, version_id))

    @property
    def progress(self) -> "Progress":
        """The items by state, counted from this very read: a page that took its counts from a
        second query could say "done" beside a cell still "queued" (an item finished between
        the two reads, and the page stopped polling)."""
        return Progress.of_items(self.items)

    @property
    def _cells(self) -> dict[tuple[int, int], AnalysisItem]:
        cells = self.__dict__.get("_cell_index")
        if cells is None:
            cells = {(i.sample_id, i.version_id): i for i in self.items}
            object.__setattr__(self, "_cell_index", cells)
        return cells


def read_analysis(session: Session, *, analysis: Analysis) -> AnalysisView:
    """Return an analysis's versions (in the order given), samples (rows) and items."""
    items = list(
        session.scalars(
            select(AnalysisItem)
            .where(AnalysisItem.analysis_id == analysis.id)
            .order_by(AnalysisItem.position, AnalysisItem.id)
        )
    )
    first_item: dict[int, int] = {}
    for item in items:
        first_item.setdefault(item.version_id, item.id)
    by_id = {
        v.id: v for v in session.scalars(select(Version).where(Version.id.in_(list(first_item))))
    }
    versions = [by_id[v] for v in sorted(first_item, key=first_item.__getitem__)]
    sample_ids = list(dict.fromkeys(i.sample_id for i in items))
    samples_by_id = {
        s.id: s for s in session.scalars(select(Sample).where(Sample.id.in_(sample_ids)))
    }
    samples = [samples_by_id[s] for s in sample_ids]
    summary = {v.id: VersionSummary(v) for v in versions}
    for item in items:
        one = summary[item.version_id]
        one.total += 1
        if item.state == AnalysisState.DONE:
            one.done += 1
            if item.region_share is not None:
                one.shares.append(item.region_share)
            if item.method:
                one.methods.add(item.method)
            if item.note:
                one.notes.add(item.note)
        elif item.state == AnalysisState.FAILED and item.reason == NO_FACE:
            one.no_face += 1
        elif item.state == AnalysisState.FAILED:
            one.failed += 1
    return AnalysisView(analysis, versions, samples, items, [summary[v.id] for v in versions])


@dataclass(frozen=True)
class Progress:
    """An analysis's items by state, the photos without a face counted apart from failures."""

    counts: dict[AnalysisState, int]
    no_face: int = 0

    @classmethod
    def of_items(cls, items: Sequence[AnalysisItem]) -> "Progress":
        counts: dict[AnalysisState, int] = {}
        no_face = 0
        for item in items:
            state = AnalysisState(item.state)
            counts[state] = counts.get(state, 0) + 1
            no_face += state == AnalysisState.FAILED and item.reason == NO_FACE
        return cls(counts, no_face)

    def of(self, state: AnalysisState) -> int:
        return self.counts.get(state, 0)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        return self.of(AnalysisState.DONE)

    @property
    def running(self) -> int:
        return self.of(AnalysisState.RUNNING)

    @property
    def queued(self) -> int:
        return self.of(AnalysisState.QUEUED)

    @property
    def cancelled(self) -> int:
        return self.of(AnalysisState.CANCELLED)

    @property
    def failed(self) -> int:
        """Real failures: failed items less the photos without a face."""
        return self.of(AnalysisState.FAILED) - self.no_face

    @property
    def live(self) -> bool:
        """Whether an item is still queued or running (after Cancel, a running one finishes)."""
        return bool(self.of(AnalysisState.QUEUED) or self.of(AnalysisState.RUNNING))

    @property
    def status(self) -> str:
        if self.live:
            return "running" if self.of(AnalysisState.RUNNING) else "queued"
        if self.of(AnalysisState.CANCELLED):
            return "cancelled"
        if self.failed:
            return "done with errors"
        return "done"


def item_progress(session: Session, *, analysis_ids: Sequence[int]) -> dict[int, Progress]:
    """Each analysis's items by state (and how many failed for want of a face)."""
    counts: dict[int, dict[AnalysisState, int]] = {a: {} for a in analysis_ids}
    no_face: dict[int, int] = dict.fromkeys(analysis_ids, 0)
    if analysis_ids:
        # One expression object in both clauses: written twice, each would get its own bound
        # parameter, and PostgreSQL refuses a SELECT expression the GROUP BY does not repeat.
        faceless_expr = AnalysisItem.reason == literal_column(f"'{NO_FACE}'")
        rows = session.execute(
            select(AnalysisItem.analysis_id, AnalysisItem.state, faceless_expr, func.count())
            .where(AnalysisItem.analysis_id.in_(list(analysis_ids)))
            .group_by(AnalysisItem.analysis_id, AnalysisItem.state, faceless_expr)
        ).all()
        for analysis_id, state, faceless, count in rows:
            state = AnalysisState(state)
            counts[analysis_id][state] = counts[analysis_id].get(state, 0) + count
            if faceless and state == AnalysisState.FAILED:
                no_face[analysis_id] += count
    return {a: Progress(counts[a], no_face[a]) for a in analysis_ids}


@dataclass(frozen=True)
class AnalysisListing:
    """One analysis in a list: what it looked at, over which versions and samples, how far."""

    analysis: Analysis
    versions: list[str]  # labels, in the analysis's order
    samples: int
    progress: Progress

    @property
    def region_words(self) -> str:
        region = parse_region(self.analysis.region)
        words = words_for(region.kind, str(self.analysis.settings.get("pipeline", "")))
        return words + (f", face {self.analysis.face + 1}" if self.analysis.face else "")


def list_analyses(
    session: Session,
    *,
    filter_: Filter | None = None,
    comparison: Comparison | None = None,
    page: int = 1,
    per_page: int = 50,
    include_why: bool = False,
) -> tuple[list[AnalysisListing], int]:
    """Analyses, newest first, a page at a time, and how many there are in all.

    The viewer's one-sample "Why" analyses are left out unless `include_why`."""
    where = []
    if not include_why:
        where.append(Analysis.priority == 0)
    if filter_ is not None:
        where.append(Analysis.filter_id == filter_.id)
    if comparison is not None:
        where.append(Analysis.comparison_id == comparison.id)
    total = session.scalar(select(func.count()).select_from(Analysis).where(*where)) or 0
    found = list(
        session.scalars(
            select(Analysis)
            .options(
                joinedload(Analysis.filter),
                joinedload(Analysis.created_by),
                joinedload(Analysis.comparison),
            )
            .where(*where)
            .order_by(Analysis.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )
    ids = [a.id for a in found]
    progress = item_progress(session, analysis_ids=ids)
    versions: dict[int, list[str]] = {a: [] for a in ids}
    samples: dict[int, int] = dict.fromkeys(ids, 0)
    if ids:
        first = (
            select(
                AnalysisItem.analysis_id,
                AnalysisItem.version_id,
                func.min(AnalysisItem.id).label("first"),
            )
            .where(AnalysisItem.analysis_id.in_(ids))
            .group_by(AnalysisItem.analysis_id, AnalysisItem.version_id)
            .subquery()
        )
        for analysis_id, label in session.execute(
            select(first.c.analysis_id, Version.label)
            .join(Version, Version.id == first.c.version_id)
            .order_by(first.c.analysis_id, first.c.first)
        ):
            versions[analysis_id].append(label)
        for analysis_id, count in session.execute(
            select(AnalysisItem.analysis_id, func.count(func.distinct(AnalysisItem.sample_id)))
            .where(AnalysisItem.analysis_id.in_(ids))
            .group_by(AnalysisItem.analysis_id)
        ):
            samples[analysis_id] = count
    listings = [AnalysisListing(a, versions[a.id], samples[a.id], progress[a.id]) for a in found]
    return listings, total


# ---- jobs: progress and cancel (services/renders.py asks these for analysis jobs) -------------


def job_item_counts(session: Session, *, job: Job) -> dict[AnalysisState, int]:
    rows = session.execute(
        select(AnalysisItem.state, func.count())
        .join(Analysis, Analysis.id == AnalysisItem.analysis_id)
        .where(Analysis.job_id == job.id)
        .group_by(AnalysisItem.state)
    ).all()
    return {AnalysisState(state): count for state, count in rows}


def job_item_errors(session: Session, *, job: Job, limit: int) -> list[dict[str, object]]:
    rows = session.execute(
        select(AnalysisItem.id, AnalysisItem.error)
        .join(Analysis, Analysis.id == AnalysisItem.analysis_id)
        .where(Analysis.job_id == job.id, AnalysisItem.state == AnalysisState.FAILED)
        .order_by(AnalysisItem.id)
        .limit(limit)
    )
    return [{"item_id": item_id, "error": error} for item_id, error in rows]


def cancel_items(session: Session, *, job: Job) -> int:
    """Mark a cancelled job's queued items cancelled (a running one finishes); return how many."""
    analysis_ids = select(Analysis.id).where(Analysis.job_id == job.id).scalar_subquery()
    result = session.execute(
        update(AnalysisItem)
        .where(
            AnalysisItem.analysis_id.in_(analysis_ids),
            AnalysisItem.state == AnalysisState.QUEUED,
        )
        .values(state=AnalysisState.CANCELLED, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


# ---- the worker's side -----------------------------------------------------------------------

CLAIM_ATTEMPTS = 5


def claim_next_item(session: Session, *, worker_id: str, now: datetime | None = None) -> int | None:
    """Atomically claim the next queued item of a live job: the viewer's first, then oldest."""
    now = now or utcnow()
    for _attempt in range(CLAIM_ATTEMPTS):
        item_id = session.scalar(
            select(AnalysisItem.id)
            .join(Analysis, Analysis.id == AnalysisItem.analysis_id)
            .join(Job, Job.id == Analysis.job_id)
            .where(AnalysisItem.state == AnalysisState.QUEUED, Job.cancelled_at.is_(None))
            .order_by(Analysis.priority.desc(), AnalysisItem.id)
            .limit(1)
            # PostgreSQL: skip an item another worker is claiming instead of waiting for it
            # (SQLite, one writer at a time, renders no FOR UPDATE; the state check below holds).
            .with_for_update(skip_locked=True, of=AnalysisItem)
        )
        if item_id is None:
            return None
        claimed = session.execute(
            update(AnalysisItem)
            .where(AnalysisItem.id == item_id, AnalysisItem.state == AnalysisState.QUEUED)
            .values(
                state=AnalysisState.RUNNING,
                worker_id=worker_id,
                claimed_at=now,
                attempts=AnalysisItem.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if rowcount(claimed) == 1:  # the condition on state: no two workers get one item
            return item_id
    return None


def recover_items(session: Session, *, orphaned: Any) -> int:
    """Queue again the items that a dead worker left `running` (`orphaned`: the condition on
    their rows that says so, RenderWorker.recover's); return how many."""
    return release_claims(
        session,
        AnalysisItem,
        running=AnalysisState.RUNNING,
        queued=AnalysisState.QUEUED,
        orphaned=orphaned,
    )


@dataclass(frozen=True)
class ItemWork:
    """What one claimed item needs, read from its rows in one short session."""

    item_id: int
    cache_key: str
    kind: AnalysisKind
    region: Region
    layer: str | None
    version: Version
    sample_sha256: str
    face: int
    sample_mask_sha256: str | None
    settings: PipelineSettings


def item_work(session: Session, *, item_id: int) -> ItemWork:
    item = session.get(AnalysisItem, item_id)
    assert item is not None
    analysis = session.get(Analysis, item.analysis_id)
    version = session.get(Version, item.version_id)
    sample = session.get(Sample, item.sample_id)
    assert analysis is not None and version is not None and sample is not None
    session.expunge(version)
    return ItemWork(
        item_id=item.id,
        cache_key=item.cache_key,
        kind=AnalysisKind(analysis.kind),
        region=parse_region(analysis.region),
        layer=item.layer,
        version=version,
        sample_sha256=sample.sha256,
        face=analysis.face,
        sample_mask_sha256=sample.mask_sha256,
        settings=PipelineSettings(**analysis.settings),
    )


def cached_result(session: Session, *, cache_key: str) -> dict[str, Any] | None:
    """A done result with this key (another item, made while this one waited), or None."""
    return _done_by_key(session, [cache_key]).get(cache_key)


def finish_item(session: Session, *, item_id: int, values: dict[str, Any]) -> None:
    """Record an item's result (or why it failed); a cancelled job's item is kept cancelled."""
    session.execute(
        update(AnalysisItem)
        .where(AnalysisItem.id == item_id, AnalysisItem.state == AnalysisState.RUNNING)
        .values(finished_at=utcnow(), worker_id=None, **values)
        .execution_options(synchronize_session=False)
    )
