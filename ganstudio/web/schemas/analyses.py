"""JSON shapes of analyses (attention and feature maps) and of a version's layers."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from ganstudio.analysis.regions import parse_region, words_for
from ganstudio.db.tables import Analysis, AnalysisItem, Comparison, Sample, Version
from ganstudio.inference.layers import VersionLayers
from ganstudio.services.analyses import (
    MAX_FACE,
    SALIENCY_LAYER,
    AnalysisListing,
    AnalysisView,
    VersionSummary,
)
from ganstudio.services.renders import JobProgress
from ganstudio.vocabulary import AnalysisKind, AnalysisState
from ganstudio.web.params import RowId
from ganstudio.web.schemas import shaped
from ganstudio.web.schemas.comparisons import JobPublic, job_public
from ganstudio.web.urls import blob_url


class BoxRegion(BaseModel):
    box: list[float] = Field(description="[x, y, w, h] in the photo's displayed pixels")


class AnalysisCreate(BaseModel):
    filter: str = Field(description="the filter's slug")
    versions: list[str | RowId] | None = Field(
        None, description="1–8 labels or ids; default: production + newest of each branch"
    )
    samples: list[RowId] | None = Field(None, description="sample ids, instead of a set")
    set: str | RowId | None = Field(None, description="a sample set's id or name")
    kind: AnalysisKind = Field(AnalysisKind.GRADCAM, description="gradcam or features")
    region: Literal["eyes", "face", "image"] | BoxRegion | dict[str, Any] = Field(
        "eyes", description='"eyes", "face", "image" or {"box": [x, y, w, h]} (photo pixels)'
    )
    layer: str | None = Field(
        None,
        max_length=200,
        description="a layer's name (GET /versions/{id}/layers); none: each version's default",
    )
    title: str = Field("", max_length=200)
    face: int = Field(
        0,
        ge=0,
        le=MAX_FACE,
        description="which face of each photo, 0 (the largest) first, as the viewer's face "
        "picker numbers them from 1: a face filter's input is that face's crop, and the regions "
        '"eyes" and "face" are that face\'s',
    )
    why: bool = Field(
        False,
        description="the viewer's Why mode asks (one sample): a look, not a person's analysis, "
        "so it goes to no activity feed, an earlier Why analysis of the same items is returned "
        "again instead of a new one, and it is not listed on /analyses",
    )


class AnalysisCreated(BaseModel):
    id: int
    slug: str
    url: str
    title: str
    job: JobPublic


def analysis_created(analysis: Analysis, progress: JobProgress) -> AnalysisCreated:
    return shaped(
        AnalysisCreated, analysis, url=f"/analyses/{analysis.slug}", job=job_public(progress)
    )


class AnalysisItemPublic(BaseModel):
    version_id: int
    label: str
    sample_id: int
    state: AnalysisState
    map_url: str | None = Field(
        description="the overlay (attention) or the channel grid (features)"
    )
    raw_url: str | None = Field(description="the heat map itself, 16-bit grey PNG (attention)")
    region_share: float | None = Field(description="the map's mass inside the region, 0–1")
    layer: str | None
    method: str | None = Field(description="gradcam, saliency (TorchScript) or features")
    note: str | None
    error: str | None
    reason: str | None = Field(
        None,
        description='why a failed item failed, as a code: "no_face" (the photo has no face '
        "to crop or to explain; pages show it as a note); None otherwise",
    )


def analysis_item_public(item: AnalysisItem, label: str) -> AnalysisItemPublic:
    done = item.state == AnalysisState.DONE
    shown = item.grid_sha256 or item.map_sha256
    return AnalysisItemPublic(
        version_id=item.version_id,
        label=label,
        sample_id=item.sample_id,
        state=item.state,
        map_url=blob_url(shown) if done and shown else None,
        raw_url=blob_url(item.raw_sha256) if done and item.raw_sha256 else None,
        region_share=round(item.region_share, 4) if item.region_share is not None else None,
        layer=item.layer,
        method=item.method,
        note=item.note or None,
        error=item.error or None,
        reason=item.reason or None,
    )


class VersionSummaryPublic(BaseModel):
    version_id: int
    label: str
    mean_share: float | None
    median_share: float | None
    done: int
    failed: int = Field(description="failed items, the photos without a face not counted")
    no_face: int = Field(description='items skipped because the photo has no face ("no_face")')
    total: int
    methods: list[str]


def version_summary_public(summary: VersionSummary) -> VersionSummaryPublic:
    def rounded(value: float | None) -> float | None:
        return round(value, 4) if value is not None else None

    return VersionSummaryPublic(
        version_id=summary.version.id,
        label=summary.version.label,
        mean_share=rounded(summary.mean),
        median_share=rounded(summary.median),
        done=summary.done,
        failed=summary.failed,
        no_face=summary.no_face,
        total=summary.total,
        methods=sorted(summary.methods),
    )


class AnalysisPublic(BaseModel):
    id: int
    slug: str
    url: str
    title: str
    filter: str
    kind: AnalysisKind
    region: dict[str, Any]
    region_words: str = Field(description='e.g. "the eyes"; "the whole crop" on face filters')
    layer: str | None
    face: int = Field(description="which face of each photo (0: the largest)")
    comparison: str | None = Field(description="the slug of the comparison it was started from")
    created_at: datetime
    created_by: str | None
    job: JobPublic | None
    items: list[AnalysisItemPublic]
    summary: list[VersionSummaryPublic]


def _region_words(analysis: Analysis) -> str:
    region = parse_region(analysis.region)
    return words_for(region.kind, str(analysis.settings.get("pipeline", "")))


def _described(analysis: Analysis) -> dict[str, Any]:
    """The fields an analysis's page and its list entry both derive (not plain column copies)."""
    return {
        "url": f"/analyses/{analysis.slug}",
        "filter": analysis.filter.slug,
        "region_words": _region_words(analysis),
        "created_by": analysis.created_by.name if analysis.created_by else None,
    }


def analysis_public(
    view: AnalysisView, progress: JobProgress | None, comparison: str | None = None
) -> AnalysisPublic:
    analysis = view.analysis
    labels = {v.id: v.label for v in view.versions}
    return shaped(
        AnalysisPublic,
        analysis,
        **_described(analysis),
        comparison=comparison,
        job=job_public(progress) if progress else None,
        items=[analysis_item_public(i, labels[i.version_id]) for i in view.items],
        summary=[version_summary_public(s) for s in view.summary],
    )


class AnalysisProgressPublic(BaseModel):
    total: int
    done: int
    failed: int = Field(description="failed items, the photos without a face not counted")
    no_face: int = Field(description="items skipped because the photo has no face")
    queued: int
    running: int
    cancelled: int
    status: str = Field(description="queued, running, done, done with errors or cancelled")


class AnalysisSummaryPublic(BaseModel):
    """One analysis in a list."""

    id: int
    slug: str
    url: str
    title: str
    filter: str
    kind: AnalysisKind
    region: dict[str, Any]
    region_words: str
    layer: str | None
    face: int
    comparison: str | None = Field(description="the slug of the comparison it was started from")
    versions: list[str] = Field(description="the versions' labels")
    samples: int
    progress: AnalysisProgressPublic
    created_at: datetime
    created_by: str | None


def analysis_summary_public(listing: AnalysisListing) -> AnalysisSummaryPublic:
    analysis = listing.analysis
    progress = listing.progress
    return shaped(
        AnalysisSummaryPublic,
        analysis,
        **_described(analysis),
        comparison=analysis.comparison.slug if analysis.comparison else None,
        versions=listing.versions,
        samples=listing.samples,
        progress=AnalysisProgressPublic(
            total=progress.total,
            done=progress.of(AnalysisState.DONE),
            failed=progress.failed,
            no_face=progress.no_face,
            queued=progress.of(AnalysisState.QUEUED),
            running=progress.of(AnalysisState.RUNNING),
            cancelled=progress.of(AnalysisState.CANCELLED),
            status=progress.status,
        ),
    )


class LayerPublic(BaseModel):
    name: str
    type: str
    channels: int
    scale: int = Field(description="input side over this layer's side (1: full resolution)")
    default: bool
    method: str = Field(description="gradcam, or saliency when the layers cannot be hooked")
    note: str


def layers_public(version: Version, layers: VersionLayers) -> list[LayerPublic]:
    """The layers, default first. A TorchScript version's layers cannot be hooked: its one entry
    is the input itself (input-gradient saliency), with the note saying so."""
    if not layers.layers:
        return [
            LayerPublic(
                name=SALIENCY_LAYER,
                type="input gradients",
                channels=version.input_channels,
                scale=1,
                default=True,
                method=layers.method,
                note=layers.note,
            )
        ]
    ordered = sorted(layers.layers, key=lambda layer: not layer.default)
    return [
        LayerPublic(
            name=layer.name,
            type=layer.type,
            channels=layer.channels,
            scale=layer.scale,
            default=layer.default,
            method=layers.method,
            note=layers.note,
        )
        for layer in ordered
    ]


def why_data(comparison: Comparison, sample: Sample, versions: list[Version]) -> dict[str, Any]:
    """What the viewer's "Why" mode needs (static/js/why.js): the filter, the row's photo (its
    displayed size: boxes are drawn in those pixels) and the comparison's versions."""
    return {
        "filter": comparison.filter.slug,
        # "face": the versions see only face crops ("the whole crop", boxes inside a crop).
        "pipeline": comparison.filter.pipeline.value,
        "sample": {
            "id": sample.id,
            "width": sample.width,
            "height": sample.height,
            "url": blob_url(sample.sha256),
        },
        "versions": [{"id": v.id, "label": v.label} for v in versions],
    }
