"""Fixed sets of words used across GAN Studio (stored as their values)."""

from enum import StrEnum


class Pipeline(StrEnum):
    """How a filter's versions see a photo."""

    FULL = "full"  # the whole image (post-edit filters)
    FACE = "face"  # a face crop (real-time preview filters)


class VersionStatus(StrEnum):
    """Where a version stands; at most one production version per filter."""

    CANDIDATE = "candidate"
    APPROVED = "approved"
    PRODUCTION = "production"
    ARCHIVED = "archived"


def enum_values(enum: type[StrEnum]) -> list[str]:
    """Store an enum's values ("qa"), not its member names ("QA")."""
    return [member.value for member in enum]


class RenderState(StrEnum):
    """Where one render (one version on one input) stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class JobStatus(StrEnum):
    """Where a batch of renders stands (derived from its renders, or cancelled)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobKind(StrEnum):
    COMPARISON = "comparison"
    WEBTEST = "webtest"
    ANALYSIS = "analysis"  # attention or feature maps (its items are analysis_items, not renders)


class AnalysisKind(StrEnum):
    """What an analysis draws of a version on a sample."""

    GRADCAM = "gradcam"  # where the network looks for a region of its output (attention map)
    FEATURES = "features"  # the strongest channels of a layer


class AnalysisState(StrEnum):
    """Where one analysis item (one version on one sample) stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class VoteOutcome(StrEnum):
    """A blind vote between the left and the right render."""

    LEFT = "left"
    RIGHT = "right"
    TIE = "tie"
    BOTH_BAD = "both_bad"


class PrecisionCheckState(StrEnum):
    """Where one measurement of a version in reduced precision against fp32 stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class WorkerState(StrEnum):
    """What a render worker says of itself in its heartbeat (pages add "dead": no heartbeat)."""

    RUNNING = "running"
    DRAINING = "draining"  # stopping: finishes the renders it holds, claims nothing new
    STOPPED = "stopped"
