"""Reduced precision (bf16, fp16) as a per-filter opt-in that a version follows only once measured.

A filter chooses the precision of its renders (`Filter.precision`: "fp32", "bf16" or "fp16").
A version renders in a reduced precision only when it has a measurement of that precision
against fp32 on the filter's demo set (a done `PrecisionCheck`, the newest finished one);
otherwise its renders stay in fp32 and the pages say why. `effective_precisions` is the one
place that decides, and `render_settings_by_version` is what every maker of render settings
(comparisons, web tests, the arena's lookups) calls.

The measurement: the worker (ganstudio/inference/precision_runner.py) prepares each demo sample
as a render would, runs the version's network in fp32 and in the reduced precision, and keeps
the largest and the mean difference of the uint8 output pixels (0–255). Checks are queued when a
filter opts in (for each of its versions), when a version is pushed to a filter that opted in,
and by the Measure button on a version's page.

The demo set of a filter: the first DEMO_SAMPLES samples of its first comparison (for the demo
filters that is the "first look" comparison). A filter without a comparison has none yet: its
checks fail saying so, and Measure runs them again once a comparison exists.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ganstudio.db.base import utcnow
from ganstudio.db.session import rowcount
from ganstudio.db.tables import (
    Comparison,
    ComparisonSample,
    Filter,
    PrecisionCheck,
    Sample,
    User,
    Version,
)
from ganstudio.inference.render_spec import (
    FP32,
    PRECISION_CHOICES,
    REDUCED_PRECISIONS,
    PipelineSettings,
)
from ganstudio.services import audit
from ganstudio.services.claims import release_claims
from ganstudio.services.errors import InvalidInputError
from ganstudio.text import plural
from ganstudio.vocabulary import PrecisionCheckState

DEMO_SAMPLES = 16  # the demo set: at most this many samples of the filter's first comparison
# A check left `running` this long is claimed again: the last resort, for a worker that wrote no
# heartbeat (a live worker's heartbeats queue a dead worker's checks again: recover_checks).
STALE_AFTER = timedelta(minutes=30)
CLAIM_ATTEMPTS = 5
PENDING = (PrecisionCheckState.QUEUED, PrecisionCheckState.RUNNING)
FINISHED = (PrecisionCheckState.DONE, PrecisionCheckState.FAILED)
WHAT_IS_MEASURED = (
    "the largest and the mean difference of the output pixels (0–255) between fp32 and the "
    "reduced precision, over every pixel of every demo sample's network output"
)


def parse_precision(value: str) -> str:
    """Return a precision a filter may choose, or refuse it saying which ones exist."""
    text = str(value).strip().lower()
    if text not in PRECISION_CHOICES:
        raise InvalidInputError(
            f"'{str(value)[:20]}' is not a precision; choose fp32 (full precision), bf16 or fp16 "
            "(each version renders in bf16/fp16 only once it was measured against fp32)."
        )
    return text


def parse_reduced(value: str) -> str:
    """Return a reduced precision to measure (bf16 or fp16), or refuse it."""
    text = parse_precision(value)
    if text == FP32:
        raise InvalidInputError(
            "fp32 is what the others are measured against; measure bf16 or fp16."
        )
    return text


# --- the demo set -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoSet:
    """The samples a filter's versions are measured on, and how a page names them."""

    name: str  # "the first 16 samples of the comparison “…”", or "" when there is none
    samples: list[Sample]

    @property
    def missing(self) -> bool:
        return not self.samples


def no_demo_set(filter_: Filter) -> str:
    """Why a filter's versions cannot be measured yet, and what to do."""
    return (
        f"{filter_.name} has no comparison yet, so there is no demo set to measure on: make a "
        f"comparison of {filter_.name} (its first {DEMO_SAMPLES} samples are the demo set), "
        "then press Measure on the version's page."
    )


def demo_set(session: Session, *, filter_: Filter) -> DemoSet:
    """The filter's demo set: the first DEMO_SAMPLES samples of its first comparison."""
    first = session.scalar(
        select(Comparison).where(Comparison.filter_id == filter_.id).order_by(Comparison.id)
    )
    if first is None:
        return DemoSet("", [])
    samples = list(
        session.scalars(
            select(Sample)
            .join(ComparisonSample, ComparisonSample.sample_id == Sample.id)
            .where(ComparisonSample.comparison_id == first.id)
            .order_by(ComparisonSample.position)
            .limit(DEMO_SAMPLES + 1)
        )
    )
    if len(samples) > DEMO_SAMPLES:
        samples, which = samples[:DEMO_SAMPLES], f"the first {DEMO_SAMPLES} samples"
    else:
        which = f"the {plural(len(samples), 'sample')}"
    name = f"{which} of the comparison “{first.title[:200]}”"
    return DemoSet(name, samples)


# --- the rule ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Effective:
    """The precision a version's renders use under its filter's choice, and why."""

    chosen: str  # the filter's choice
    used: str  # what its renders run in
    reason: str  # "" when `used` is `chosen`, else why they stay in fp32 (shown on pages)
    check: PrecisionCheck | None = None  # the measurement that allows `used`, when reduced

    @property
    def reduced(self) -> bool:
        return self.used != FP32


def newest_checks(
    session: Session, *, version_ids: Iterable[int]
) -> dict[tuple[int, str], "CheckPair"]:
    """(version id, precision) → its newest finished check and whether one is pending."""
    ids = list(dict.fromkeys(version_ids))
    pairs: dict[tuple[int, str], CheckPair] = defaultdict(CheckPair)
    for start in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
        rows = session.scalars(
            select(PrecisionCheck)
            .where(PrecisionCheck.version_id.in_(ids[start : start + 500]))
            .order_by(PrecisionCheck.id)
        )
        for check in rows:
            pair = pairs[(check.version_id, check.precision)]
            if check.state in FINISHED:
                pair.finished = check  # ordered by id: the newest wins
            else:
                pair.pending = check
    return pairs


@dataclass
class CheckPair:
    finished: PrecisionCheck | None = None  # the newest done or failed check
    pending: PrecisionCheck | None = None  # a queued or running one


def effective_precisions(
    session: Session, *, filter_: Filter, versions: Sequence[Version]
) -> dict[int, Effective]:
    """Version id → the precision its renders use: the one place that decides.

    fp32 unless the filter opted into bf16/fp16 and the version's newest finished measurement
    of that precision is done; then that precision.
    """
    chosen = filter_.precision or FP32
    if chosen == FP32:
        return {v.id: Effective(FP32, FP32, "") for v in versions}
    pairs = newest_checks(session, version_ids=[v.id for v in versions])
    result: dict[int, Effective] = {}
    for version in versions:
        pair = pairs.get((version.id, chosen), CheckPair())
        finished = pair.finished
        done = finished if finished and finished.state == PrecisionCheckState.DONE else None
        if done is not None:
            result[version.id] = Effective(chosen, chosen, "", done)
        else:
            result[version.id] = Effective(chosen, FP32, _why_fp32(version, chosen, pair))
    return result


def _why_fp32(version: Version, chosen: str, pair: CheckPair) -> str:
    if pair.finished is not None:  # failed
        return (
            f"{chosen} could not be measured for {version.label} ({pair.finished.error}): "
            "renders in fp32"
        )
    if pair.pending is not None:
        return f"{chosen} is being measured for {version.label}: renders in fp32 until then"
    return f"{chosen} not measured yet for {version.label}: renders in fp32"


def effective_precision(session: Session, *, filter_: Filter, version: Version) -> Effective:
    return effective_precisions(session, filter_=filter_, versions=[version])[version.id]


def render_settings_by_version(
    session: Session, *, filter_: Filter, versions: Sequence[Version]
) -> dict[int, PipelineSettings]:
    """Version id → the pipeline settings of its renders: the filter's, in the precision the
    version may use (`effective_precisions`). Every place that makes render settings calls it."""
    base = filter_settings(filter_)
    used = effective_precisions(session, filter_=filter_, versions=versions)
    return {v.id: replace(base, precision=used[v.id].used) for v in versions}


def filter_settings(filter_: Filter) -> PipelineSettings:
    """The filter's render settings in fp32 (what a comparison records as its settings)."""
    return PipelineSettings.for_filter(
        pipeline=filter_.pipeline, input_size=filter_.input_size, face_options=filter_.face_options
    )


# --- queuing ----------------------------------------------------------------------------------


def queue_check(
    session: Session,
    *,
    version: Version,
    precision: str,
    actor: User | None,
    again: bool = False,
) -> PrecisionCheck:
    """Queue a measurement of `version` in `precision` against fp32 (a pending one is reused).

    Without `again`, a version already measured in `precision` keeps its measurement.
    """
    precision = parse_reduced(precision)
    pair = newest_checks(session, version_ids=[version.id]).get(
        (version.id, precision), CheckPair()
    )
    if pair.pending is not None:
        return pair.pending
    finished = pair.finished
    if not again and finished is not None and finished.state == PrecisionCheckState.DONE:
        return finished
    check = PrecisionCheck(
        version_id=version.id,
        precision=precision,
        state=PrecisionCheckState.QUEUED,
        created_by_id=actor.id if actor else None,
    )
    session.add(check)
    session.flush()
    return check


def queue_for_filter(session: Session, *, filter_: Filter, actor: User | None) -> int:
    """Queue the filter's chosen reduced precision for every version not measured in it yet
    (a failed measurement is tried again); return how many were queued."""
    chosen = filter_.precision or FP32
    if chosen == FP32:
        return 0
    versions = list(session.scalars(select(Version).where(Version.filter_id == filter_.id)))
    pairs = newest_checks(session, version_ids=[v.id for v in versions])
    queued = 0
    for version in versions:
        pair = pairs.get((version.id, chosen), CheckPair())
        finished = pair.finished
        measured = finished is not None and finished.state == PrecisionCheckState.DONE
        if pair.pending is None and not measured:
            queue_check(session, version=version, precision=chosen, actor=actor)
            queued += 1
    return queued


def on_version_pushed(
    session: Session, *, filter_: Filter, version: Version, actor: User | None
) -> None:
    """A version pushed to a filter that opted into reduced precision is measured at once."""
    if (filter_.precision or FP32) != FP32:
        queue_check(session, version=version, precision=filter_.precision, actor=actor)


def measure_again(
    session: Session, *, version: Version, precision: str, actor: User | None
) -> PrecisionCheck:
    """The Measure button: queue a fresh measurement (the last one counts until it is done)."""
    check = queue_check(session, version=version, precision=precision, actor=actor, again=True)
    audit.record(
        session,
        actor=actor,
        action="version.precision_check",
        subject_type="version",
        subject_id=version.id,
        precision=check.precision,
    )
    return check


# --- the worker's side ------------------------------------------------------------------------


def claim_next_check(
    session: Session, *, worker_id: str, now: datetime | None = None
) -> int | None:
    """Atomically claim the oldest queued check (or one a dead worker left running)."""
    now = now or utcnow()
    claimable = or_(
        PrecisionCheck.state == PrecisionCheckState.QUEUED,
        (PrecisionCheck.state == PrecisionCheckState.RUNNING)
        & (PrecisionCheck.claimed_at <= now - STALE_AFTER),
    )
    for _attempt in range(CLAIM_ATTEMPTS):
        row = session.execute(
            select(PrecisionCheck.id, PrecisionCheck.state, PrecisionCheck.claimed_at)
            .where(claimable)
            .order_by(PrecisionCheck.id)
            .limit(1)
            .with_for_update(skip_locked=True)  # PostgreSQL: skip a check being claimed
        ).first()
        if row is None:
            return None
        check_id, state, claimed_at = row
        claimed = session.execute(
            update(PrecisionCheck)
            .where(
                PrecisionCheck.id == check_id,
                PrecisionCheck.state == state,
                (PrecisionCheck.claimed_at == claimed_at)
                if claimed_at is not None
                else PrecisionCheck.claimed_at.is_(None),
            )
            .values(state=PrecisionCheckState.RUNNING, worker_id=worker_id, claimed_at=now)
            .execution_options(synchronize_session=False)
        )
        if rowcount(claimed) == 1:  # the condition on state: no two workers get one check
            return int(check_id)
    return None


def recover_checks(session: Session, *, orphaned: Any) -> int:
    """Queue again the checks left `running` that `orphaned` (a condition on their rows) says
    no live step holds: a dead worker's (RenderWorker.recover, on each heartbeat), or a worker's
    own after its step failed, e.g. on an unreachable blob store (release_own_claims). Not a
    failure: the check is measured again. Return how many."""
    return release_claims(
        session,
        PrecisionCheck,
        running=PrecisionCheckState.RUNNING,
        queued=PrecisionCheckState.QUEUED,
        orphaned=orphaned,
    )


@dataclass(frozen=True)
class DemoSample:
    sha256: str
    mask_sha256: str | None


@dataclass(frozen=True)
class CheckWork:
    """What the worker needs to measure one check, read in one short session."""

    check_id: int
    version: Version  # detached: its columns only
    precision: str
    settings: PipelineSettings  # the filter's, in fp32 (each side sets its precision)
    samples: list[DemoSample]
    set_name: str
    no_samples: str  # why there is nothing to measure on, when `samples` is empty


def check_work(session: Session, *, check_id: int) -> CheckWork:
    check = session.get(PrecisionCheck, check_id)
    assert check is not None
    version = session.get(Version, check.version_id)
    assert version is not None
    filter_ = session.get(Filter, version.filter_id)
    assert filter_ is not None
    demo = demo_set(session, filter_=filter_)
    session.expunge(version)
    return CheckWork(
        check_id=check.id,
        version=version,
        precision=check.precision,
        settings=filter_settings(filter_),
        samples=[DemoSample(s.sha256, s.mask_sha256) for s in demo.samples],
        set_name=demo.name,
        no_samples=no_demo_set(filter_),
    )


def finish_check(session: Session, *, check_id: int, values: dict[str, object]) -> None:
    """Record a measurement (state done, the numbers) or why it failed (state failed, error)."""
    session.execute(
        update(PrecisionCheck)
        .where(PrecisionCheck.id == check_id)
        .values(worker_id=None, measured_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )


# --- what pages and the API show --------------------------------------------------------------


@dataclass(frozen=True)
class PrecisionRow:
    """One reduced precision on a version's page: its newest measurement, and what is pending."""

    precision: str
    measured: PrecisionCheck | None  # the newest done check
    failed: PrecisionCheck | None  # the newest finished check, when it failed
    pending: PrecisionCheck | None


@dataclass(frozen=True)
class VersionPrecision:
    """A version's Precision section: the filter's choice, what its renders use, each row."""

    effective: Effective
    rows: list[PrecisionRow]
    checks: list[PrecisionCheck]  # every check shown, newest first (the API's list)
    demo: DemoSet


def version_precisions(
    session: Session, *, filter_: Filter, versions: Sequence[Version]
) -> dict[int, VersionPrecision]:
    """Version id → its Precision section (a few queries for any number of versions)."""
    ids = [v.id for v in versions]
    effective = effective_precisions(session, filter_=filter_, versions=versions)
    by_version: dict[int, list[PrecisionCheck]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        for check in session.scalars(
            select(PrecisionCheck)
            .where(PrecisionCheck.version_id.in_(ids[start : start + 500]))
            .order_by(PrecisionCheck.id.desc())
        ):
            by_version[check.version_id].append(check)
    demo = demo_set(session, filter_=filter_)
    result = {}
    for version in versions:
        checks = by_version.get(version.id, [])
        rows = []
        for precision in REDUCED_PRECISIONS:
            mine = [c for c in checks if c.precision == precision]  # newest first
            done = next((c for c in mine if c.state == PrecisionCheckState.DONE), None)
            finished = next((c for c in mine if c.state in FINISHED), None)
            pending = next((c for c in mine if c.state in PENDING), None)
            failed = finished if finished and finished.state == PrecisionCheckState.FAILED else None
            rows.append(PrecisionRow(precision, done, failed, pending))
        shown = [c for row in rows for c in (row.pending, row.failed, row.measured) if c]
        result[version.id] = VersionPrecision(
            effective[version.id], rows, sorted(shown, key=lambda c: -c.id), demo
        )
    return result


def version_precision(session: Session, *, version: Version, filter_: Filter) -> VersionPrecision:
    return version_precisions(session, filter_=filter_, versions=[version])[version.id]
