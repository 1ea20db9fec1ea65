"""JSON shapes of comparisons, renders and jobs, and of the viewer's rows."""

from datetime import datetime

from pydantic import BaseModel, Field

from ganstudio.db.tables import Comparison, Version
from ganstudio.services.comparison_views import RowView
from ganstudio.services.comparisons import Cell, Grid
from ganstudio.services.face_views import RowFaces
from ganstudio.services.reference_metrics import CellMetrics, ComparisonMetrics
from ganstudio.services.renders import JobProgress
from ganstudio.vocabulary import JobKind, JobStatus, RenderState, VersionStatus
from ganstudio.web.params import RowId
from ganstudio.web.schemas import shaped
from ganstudio.web.urls import blob_url


class JobPublic(BaseModel):
    id: int
    kind: JobKind
    title: str
    status: JobStatus
    total: int
    done: int
    failed: int
    running: int
    queued: int
    cancelled: int = Field(0, description="analysis items skipped by a cancel")
    reused: int = Field(
        0, description="renders done before the job was made: reused as they were, not redone"
    )
    percent: int
    errors: list[dict[str, object]] = Field(description="failed renders and why (first 50)")
    created_at: datetime


def job_public(progress: JobProgress) -> JobPublic:
    job = progress.job
    # The counts and the status are the progress's (live); the rest is the job row's.
    return shaped(
        JobPublic, progress, id=job.id, kind=job.kind, title=job.title, created_at=job.created_at
    )


class ComparisonCreate(BaseModel):
    filter: str = Field(description="the filter's slug")
    versions: list[str | RowId] | None = Field(
        None, description="2–8 labels or ids; default: production + newest of each branch"
    )
    set: str | RowId | None = Field(None, description="a sample set's id or name")
    samples: list[RowId] | None = Field(None, description="sample ids, instead of a set")
    tags: list[str] | str | None = Field(None, description="only samples with all these tags")
    title: str = Field("", max_length=200)


class ComparisonCreated(BaseModel):
    id: int
    slug: str
    url: str
    title: str
    job: JobPublic


def comparison_created(comparison: Comparison, progress: JobProgress) -> ComparisonCreated:
    return ComparisonCreated(
        id=comparison.id,
        slug=comparison.slug,
        url=f"/c/{comparison.slug}",
        title=comparison.title,
        job=job_public(progress),
    )


class ColumnPublic(BaseModel):
    id: int
    label: str
    branch: str
    status: VersionStatus


class RowPublic(BaseModel):
    id: int
    filename: str
    input_url: str
    thumb_url: str


class CellMetricsPublic(BaseModel):
    """PSNR and SSIM of a cell's render against its sample's reference."""

    state: str = Field(description="pending (render or metrics not done yet), done or failed")
    psnr: float | None = Field(description="dB against the reference; null until done")
    ssim: float | None = Field(description="structural similarity; null until done")
    error: str | None = None


class CellPublic(BaseModel):
    version_id: int
    sample_id: int
    state: RenderState
    error: str | None
    # A remark on a done render, e.g. "no face found" (a face filter's output is then the input).
    note: str | None
    render_url: str | None
    thumb_url: str | None
    duration_ms: float | None
    metrics: CellMetricsPublic | None = Field(
        None, description="when the sample has a reference: PSNR and SSIM (null while pending)"
    )


def cell_public(cell: Cell, metrics: CellMetrics | None = None) -> CellPublic:
    render = cell.render
    done = render.state == RenderState.DONE
    return CellPublic(
        metrics=CellMetricsPublic(
            state=metrics.state, psnr=metrics.psnr, ssim=metrics.ssim, error=metrics.error or None
        )
        if metrics is not None
        else None,
        version_id=cell.version_id,
        sample_id=cell.sample_id,
        state=render.state,
        error=render.error or None,
        note=render.note or None,
        render_url=blob_url(render.output_sha256) if done else None,
        thumb_url=blob_url(render.thumb_sha256) if done else None,
        duration_ms=render.duration_ms,
    )


class ComparisonPublic(BaseModel):
    id: int
    slug: str
    url: str
    title: str
    filter: str
    created_at: datetime
    created_by: str | None
    versions: list[ColumnPublic]
    samples: list[RowPublic]
    cells: list[CellPublic]
    job: JobPublic | None
    metric_means: dict[int, dict[str, float]] = Field(
        default_factory=dict,
        description="version id → mean psnr, ssim and their count over the samples with a "
        "reference that every version has metrics for",
    )


def comparison_public(
    comparison: Comparison,
    grid: Grid,
    progress: JobProgress | None,
    metrics: ComparisonMetrics | None = None,
) -> ComparisonPublic:
    by_cell = metrics.cells if metrics is not None else {}
    return ComparisonPublic(
        id=comparison.id,
        slug=comparison.slug,
        url=f"/c/{comparison.slug}",
        title=comparison.title,
        filter=comparison.filter.slug,
        created_at=comparison.created_at,
        created_by=comparison.created_by.name if comparison.created_by else None,
        versions=[
            ColumnPublic(id=v.id, label=v.label, branch=v.branch, status=v.status)
            for v in grid.versions
        ],
        samples=[
            RowPublic(
                id=s.id,
                filename=s.filename,
                input_url=blob_url(s.sha256),
                thumb_url=blob_url(s.thumb_sha256),
            )
            for s, _ in grid.rows
        ],
        cells=[
            cell_public(c, by_cell.get((c.version_id, c.sample_id)))
            for _, cells in grid.rows
            for c in cells
        ],
        job=job_public(progress) if progress else None,
        metric_means=metrics.means if metrics is not None else {},
    )


class ViewerColumn(BaseModel):
    """One image of the viewer: the input, or a version's render (url None until done)."""

    key: str = Field(description='"input", or the version id')
    label: str
    sub: str
    url: str | None
    width: int | None = None
    height: int | None = None
    state: str
    error: str | None


class ViewerSample(BaseModel):
    id: int
    filename: str


class ViewerCropFace(BaseModel):
    index: int = Field(description="0 is the largest face")
    landmarks: dict[str, list[list[float]]] = Field(description="in the crop's pixels")
    corners: list[list[float]] = Field(
        description="the crop's four corners in the photo's pixels (top-left first, clockwise)"
    )
    input_url: str = Field(description="what every version saw: the input's crop")
    output_urls: dict[str, str] = Field(description="version id → what it made, cut alike")


class ViewerFaces(BaseModel):
    """A row's faces: the analysis for the overlays; face filters add the face-crop mode."""

    state: str = Field(description="the analysis: pending, done, failed or unavailable")
    detector: str
    count: int
    error: str
    faces_url: str = Field(description="boxes and landmarks in the photo's pixels")
    mask_url: str | None = Field(description="the eye mask overlay; None when there is none")
    crop_size: int | None = Field(description="the network's input side; None: no face crops")
    crops: list[ViewerCropFace]


def viewer_faces_public(faces: RowFaces) -> ViewerFaces:
    return ViewerFaces(
        state=faces.state,
        detector=faces.detector,
        count=faces.count,
        error=faces.error,
        faces_url=faces.faces_url,
        mask_url=blob_url(faces.mask_sha256) if faces.mask_sha256 else faces.landmarks_mask_url,
        crop_size=faces.crop_size,
        crops=[
            ViewerCropFace(
                index=f.index,
                landmarks=f.landmarks,
                corners=f.corners,
                input_url=f.input_url,
                output_urls=f.output_urls,
            )
            for f in faces.crop_faces
        ],
    )


class ViewerRow(BaseModel):
    """One row of a comparison as the viewer shows it (page /c/{slug}/view, JSON /c/{slug}/row)."""

    sample: ViewerSample
    position: int = Field(description="1-based")
    total: int
    previous: str | None
    next: str | None
    grid: str = Field(description="the grid page that holds this row")
    columns: list[ViewerColumn]
    finished: bool
    faces: ViewerFaces | None = None


def viewer_row_public(
    comparison: Comparison, row: RowView, versions: list[Version], faces: RowFaces | None = None
) -> ViewerRow:
    sample = row.sample
    columns = [
        ViewerColumn(
            key="input",
            label="Input",
            sub=f"{sample.width}×{sample.height}",
            url=blob_url(sample.sha256),
            width=sample.width,
            height=sample.height,
            state=RenderState.DONE.value,
            error=None,
        )
    ]
    for version, cell in zip(versions, row.cells, strict=True):
        render = cell.render
        done = render.state == RenderState.DONE
        took = f" · {render.duration_ms:.0f} ms" if done and render.duration_ms else ""
        columns.append(
            ViewerColumn(
                key=str(version.id),
                label=version.label,
                sub=f"{version.branch} · {version.status.value}{took}",
                url=blob_url(render.output_sha256) if done else None,
                state=render.state.value,
                error=render.error or None,
            )
        )
    base = f"/c/{comparison.slug}/view?sample="
    return ViewerRow(
        sample=ViewerSample(id=sample.id, filename=sample.filename),
        position=row.position + 1,
        total=row.total,
        previous=base + str(row.previous_id) if row.previous_id else None,
        next=base + str(row.next_id) if row.next_id else None,
        grid=f"/c/{comparison.slug}?page={row.grid_page}",
        columns=columns,
        finished=all(c.state in ("done", "failed") for c in columns),
        faces=viewer_faces_public(faces) if faces is not None else None,
    )
