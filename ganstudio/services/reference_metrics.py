"""Reference metrics: PSNR and SSIM of renders against their sample's reference image.

Computed by the render worker in the background (`metrics_step`, one at a time, never in a page
request), with scikit-image on 8-bit RGB (data_range=255, channel_axis=-1), and stored once per
(render output, reference) content pair: a re-uploaded reference or a render shared by two
versions can never be given another's numbers. The reference is resized to the render's size
with Lanczos when their sizes differ (services/references.py states the rule).

Readers: the comparison grid and API (`comparison_metrics`), the version page (`set_means`),
and the leaderboard (`version_means`).
"""

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ganstudio.config import Settings
from ganstudio.db.tables import (
    Comparison,
    ComparisonCell,
    ComparisonSample,
    ReferenceMetric,
    Render,
    Sample,
    SampleSet,
    SampleSetMember,
    Version,
)
from ganstudio.inference.render_spec import NO_FACE
from ganstudio.storage.blobs import BlobStore, BlobStoreUnavailableError
from ganstudio.storage.images import ImageRejectedError, load_rgb
from ganstudio.vocabulary import RenderState

log = logging.getLogger(__name__)
METRICS = ("psnr", "ssim")
# Identical images have an infinite PSNR; it is stored as this many dB so means stay finite.
PSNR_CAP = 100.0
SSIM_WINDOW = 7  # scikit-image's default window: both sides must be at least this
PENDING, DONE, FAILED = "pending", "done", "failed"


class MetricError(ValueError):
    """The metrics cannot be computed for these images; the message says why."""


def measure(render: Image.Image, reference: Image.Image) -> tuple[float, float]:
    """Return (PSNR in dB, SSIM) of `render` against `reference`, both as 8-bit RGB.

    The reference is resized to the render's size with Lanczos when the sizes differ.
    """
    render = render.convert("RGB")
    reference = reference.convert("RGB")
    if reference.size != render.size:
        reference = reference.resize(render.size, Image.Resampling.LANCZOS)
    if min(render.size) < SSIM_WINDOW:
        raise MetricError(
            f"the render is {render.width}×{render.height}, smaller than the {SSIM_WINDOW}×"
            f"{SSIM_WINDOW} window SSIM needs"
        )
    ours = np.asarray(render, dtype=np.uint8)
    target = np.asarray(reference, dtype=np.uint8)
    with np.errstate(divide="ignore"):  # identical images: infinite PSNR, capped below
        psnr = float(peak_signal_noise_ratio(target, ours, data_range=255))
    ssim = float(structural_similarity(target, ours, data_range=255, channel_axis=-1))
    return (min(psnr, PSNR_CAP) if not math.isnan(psnr) else PSNR_CAP), ssim


# --- the worker's step -----------------------------------------------------------------------


def next_missing(session: Session) -> tuple[str, str] | None:
    """Return a (render output, reference) pair that has no metric row yet, or None."""
    measured = and_(
        ReferenceMetric.output_sha256 == Render.output_sha256,
        ReferenceMetric.reference_sha256 == Sample.reference_sha256,
    )
    row = session.execute(
        select(Render.output_sha256, Sample.reference_sha256)
        .join(Render, Render.input_sha256 == Sample.sha256)
        .outerjoin(ReferenceMetric, measured)
        .where(
            Sample.reference_sha256.is_not(None),
            Render.state == RenderState.DONE,
            Render.output_sha256.is_not(None),
            ReferenceMetric.id.is_(None),
        )
        .order_by(Sample.archived, Render.id.desc())
        .limit(1)
    ).first()
    if row is None or row[0] is None or row[1] is None:
        return None
    return row[0], row[1]


def compute(
    blobs: BlobStore, output_sha256: str, reference_sha256: str, *, settings: Settings
) -> ReferenceMetric:
    """Measure one render output against one reference; a failure is a row with its reason."""
    row = ReferenceMetric(output_sha256=output_sha256, reference_sha256=reference_sha256, error="")
    try:
        render = load_rgb(blobs.read_bytes(output_sha256), max_pixels=settings.max_image_pixels)
        reference = load_rgb(
            blobs.read_bytes(reference_sha256), max_pixels=settings.max_image_pixels
        )
        row.psnr, row.ssim = measure(render, reference)
        row.width, row.height = render.size
    except BlobStoreUnavailableError:
        raise  # the store's fault, not the images' (an OSError too): measured later, not stored
    except (MetricError, ImageRejectedError) as exc:
        row.error = f"No PSNR/SSIM: {exc}."[:500]
    except (OSError, ValueError) as exc:
        log.warning("Metrics of %s against %s failed", output_sha256, reference_sha256)
        row.error = f"No PSNR/SSIM: the images could not be read ({str(exc)[:200]})."
    return row


def metrics_step(sessions: sessionmaker[Session], blobs: BlobStore, settings: Settings) -> bool:
    """Compute and store one missing metric row; return whether there was one to compute."""
    with sessions() as session:
        pair = next_missing(session)
    if pair is None:
        return False
    row = compute(blobs, *pair, settings=settings)
    try:
        with sessions.begin() as session:
            session.add(row)
    except IntegrityError:  # another worker stored the same pair a moment ago
        pass
    return True


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellMetrics:
    """A comparison cell's metrics: pending (render or metrics not done), done, or failed."""

    state: str
    psnr: float | None = None
    ssim: float | None = None
    error: str = ""

    def value(self, metric: str) -> float | None:
        return self.psnr if metric == "psnr" else self.ssim


@dataclass
class ComparisonMetrics:
    """Every cell's metrics of a comparison, and each column's means over common rows."""

    cells: dict[tuple[int, int], CellMetrics] = field(default_factory=dict)  # (version, sample)
    means: dict[int, dict[str, float]] = field(default_factory=dict)  # version → psnr/ssim/count
    common: int = 0  # rows every column has metrics for (what the means are over)
    with_reference: int = 0  # rows whose sample has a reference
    no_face: int = 0  # rows left out of the means: a face filter found no face (output = input)

    @property
    def pending(self) -> int:
        return sum(1 for c in self.cells.values() if c.state == PENDING)

    def revision(self) -> tuple[int, int]:
        """What changes when the grid's metrics do (part of its cache key)."""
        return (sum(1 for c in self.cells.values() if c.state != PENDING), len(self.cells))


def _means(values: dict[int, dict[int, tuple[float, float]]], sample_ids: set[int]) -> dict:
    means: dict[int, dict[str, float]] = {}
    for version_id, by_sample in values.items():
        chosen = [by_sample[s] for s in sample_ids]
        if chosen:
            means[version_id] = {
                "psnr": float(np.mean([p for p, _ in chosen])),
                "ssim": float(np.mean([s for _, s in chosen])),
                "count": len(chosen),
            }
    return means


def comparison_metrics(
    session: Session, *, comparison: Comparison, version_ids: Sequence[int]
) -> ComparisonMetrics:
    """Return the metrics of every cell whose sample has a reference, and the column means."""
    measured = and_(
        ReferenceMetric.output_sha256 == Render.output_sha256,
        ReferenceMetric.reference_sha256 == Sample.reference_sha256,
    )
    result = ComparisonMetrics()
    rows = session.execute(
        select(
            ComparisonCell.version_id,
            ComparisonCell.sample_id,
            Render.state,
            Render.note,
            ReferenceMetric.id,
            ReferenceMetric.psnr,
            ReferenceMetric.ssim,
            ReferenceMetric.error,
        )
        .join(Render, Render.id == ComparisonCell.render_id)
        .join(Sample, Sample.id == ComparisonCell.sample_id)
        .outerjoin(ReferenceMetric, measured)
        .where(ComparisonCell.comparison_id == comparison.id, Sample.reference_sha256.is_not(None))
    )
    samples: set[int] = set()
    faceless: set[int] = set()
    values: dict[int, dict[int, tuple[float, float]]] = {v: {} for v in version_ids}
    for version_id, sample_id, state, note, metric_id, psnr, ssim, error in rows:
        samples.add(sample_id)
        if note == NO_FACE:  # the photo itself, unconverted: its numbers say nothing of a version
            faceless.add(sample_id)
        if state == RenderState.FAILED:
            continue  # no render, no metrics: the cell says why it failed
        if metric_id is None:
            cell = CellMetrics(PENDING)
        elif psnr is None or ssim is None:
            cell = CellMetrics(FAILED, error=error)
        else:
            cell = CellMetrics(DONE, psnr, ssim)
            values.setdefault(version_id, {})[sample_id] = (psnr, ssim)
        result.cells[(version_id, sample_id)] = cell
    result.with_reference = len(samples)
    common = samples - faceless
    result.no_face = len(faceless)
    for version_id in version_ids:
        common &= set(values.get(version_id, {}))
    result.common = len(common)
    result.means = _means({v: values.get(v, {}) for v in version_ids}, common)
    return result


def parse_sort(raw: str, version_ids: Sequence[int]) -> tuple[str, int] | None:
    """Read a grid's `sort` ("ssim:12": worst SSIM of version 12 first); None if not one."""
    metric, _, version = raw.partition(":")
    if metric in METRICS and version.isdigit() and int(version) in version_ids:
        return metric, int(version)
    return None


def rows_by_worst(
    session: Session, *, comparison: Comparison, metrics: ComparisonMetrics, sort: tuple[str, int]
) -> list[int]:
    """Return the comparison's sample ids, worst first by one version's metric.

    Lower is worse for both PSNR and SSIM. Rows without that number follow, in their order.
    """
    metric, version_id = sort
    order = list(
        session.scalars(
            select(ComparisonSample.sample_id)
            .where(ComparisonSample.comparison_id == comparison.id)
            .order_by(ComparisonSample.position)
        )
    )

    def key(item: tuple[int, int]) -> tuple[int, float, int]:
        position, sample_id = item
        cell = metrics.cells.get((version_id, sample_id))
        value = cell.value(metric) if cell is not None else None
        return (0, value, position) if value is not None else (1, 0.0, position)

    return [sample_id for _, sample_id in sorted(enumerate(order), key=key)]


def _latest_values(
    session: Session, version_ids: Iterable[int]
) -> dict[int, dict[int, tuple[float, float]]]:
    """Return version → sample → (psnr, ssim) of its newest done render that has metrics."""
    measured = and_(
        ReferenceMetric.output_sha256 == Render.output_sha256,
        ReferenceMetric.reference_sha256 == Sample.reference_sha256,
    )
    rows = session.execute(
        select(Version.id, Sample.id, Render.id, ReferenceMetric.psnr, ReferenceMetric.ssim)
        .join(Render, Render.checkpoint_sha256 == Version.checkpoint_sha256)
        .join(Sample, Sample.sha256 == Render.input_sha256)
        .join(ReferenceMetric, measured)
        .where(
            Version.id.in_(list(version_ids)),
            Sample.reference_sha256.is_not(None),
            Render.state == RenderState.DONE,
            # A face filter's photo without a face comes back unconverted: not the version's.
            or_(Render.note.is_(None), Render.note != NO_FACE),
            ReferenceMetric.psnr.is_not(None),
            ReferenceMetric.ssim.is_not(None),
        )
        .order_by(Render.id)
    )
    values: dict[int, dict[int, tuple[float, float]]] = {}
    for version_id, sample_id, _render_id, psnr, ssim in rows:
        if psnr is not None and ssim is not None:  # the newest render (last in order) wins
            values.setdefault(version_id, {})[sample_id] = (psnr, ssim)
    return values


def version_means(session: Session, version_ids: Sequence[int]) -> dict[int, dict[str, float]]:
    """Return, per version, the mean "psnr" and "ssim" and their "count" of samples.

    Over the samples with a reference that ALL the given versions have metrics for, so the
    numbers rank the versions on the same photos. Versions with none are left out; when the
    versions share no such sample, the answer is {}. Each (version, sample) counts the newest
    done render of that version's checkpoint on that sample.
    """
    ids = list(dict.fromkeys(version_ids))
    if not ids:
        return {}
    values = _latest_values(session, ids)
    common: set[int] | None = None
    for version_id in ids:
        have = set(values.get(version_id, {}))
        common = have if common is None else common & have
    return _means({v: values.get(v, {}) for v in ids}, common or set())


@dataclass(frozen=True)
class SetMeans:
    """A version's mean metrics over one sample set's samples that have them."""

    sample_set: SampleSet
    psnr: float
    ssim: float
    count: int  # samples measured
    with_reference: int  # samples of the set with a reference


def set_means(session: Session, *, version_id: int) -> list[SetMeans]:
    """Return a version's mean PSNR and SSIM per live sample set (sets it has metrics in)."""
    values = _latest_values(session, [version_id]).get(version_id, {})
    if not values:
        return []
    referenced = select(Sample.id).where(Sample.reference_sha256.is_not(None))
    members: dict[int, list[int]] = {}
    sets: dict[int, SampleSet] = {}
    for member, sample_set in session.execute(
        select(SampleSetMember, SampleSet)
        .join(SampleSet, SampleSet.id == SampleSetMember.set_id)
        .where(SampleSet.archived.is_(False), SampleSetMember.sample_id.in_(referenced))
    ):
        members.setdefault(sample_set.id, []).append(member.sample_id)
        sets[sample_set.id] = sample_set
    result = []
    for set_id, sample_ids in members.items():
        chosen = [values[s] for s in sample_ids if s in values]
        if chosen:
            result.append(
                SetMeans(
                    sample_set=sets[set_id],
                    psnr=float(np.mean([p for p, _ in chosen])),
                    ssim=float(np.mean([s for _, s in chosen])),
                    count=len(chosen),
                    with_reference=len(sample_ids),
                )
            )
    return sorted(result, key=lambda m: m.sample_set.name.lower())


# --- LPIPS -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LpipsStatus:
    enabled: bool
    message: str


def lpips_status(settings: Settings) -> LpipsStatus:
    """Say whether LPIPS can be shown: only with its network weights on this server.

    Nothing is downloaded. This build has no LPIPS network to load weights into, so LPIPS
    stays off whatever is found; the message says why, and what would turn it on.
    """
    path: Path | None = settings.lpips_weights
    if path is None:
        return LpipsStatus(
            False,
            "LPIPS is off: its network weights are not on this server (set "
            "GANSTUDIO_LPIPS_WEIGHTS to a local copy of them; nothing is downloaded).",
        )
    if not path.expanduser().is_file():
        return LpipsStatus(
            False,
            "LPIPS is off: its network weights are not on this server (set "
            f"GANSTUDIO_LPIPS_WEIGHTS…: {path} is not a readable file).",
        )
    return LpipsStatus(
        False,
        f"LPIPS is off: its weights are at {path}, but this server has no LPIPS network to "
        "load them into yet; PSNR and SSIM are shown.",
    )
