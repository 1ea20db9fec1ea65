"""References: the target image paired with a sample, one at a time or as a zip of pairs.

The size rule, stated on the sample and comparison pages (`SIZE_RULE`): a reference must have
its sample's shape, an aspect ratio within 2% of the sample's; any size is fine otherwise. It is
kept as uploaded, and the metrics resize it to each render's size with Lanczos
(services/reference_metrics.py).
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from sqlalchemy.orm import Session

from ganstudio.config import Settings
from ganstudio.db.tables import Sample, SampleSet, User
from ganstudio.services import audit
from ganstudio.services import sample_sets as sets_service
from ganstudio.services import samples as samples_service
from ganstudio.services.errors import InvalidInputError
from ganstudio.services.sample_uploads import (
    ZIP_MAGIC,
    Accepted,
    Uploader,
    UploadOutcome,
    clean_member,
)
from ganstudio.storage.blobs import BlobStore
from ganstudio.storage.images import (
    BROWSER_FORMATS,
    ImageRejectedError,
    clean_filename,
    load_rgb,
    png_bytes,
    probe_image,
)

# How far a reference's aspect ratio (width / height) may be from its sample's: 2%.
ASPECT_TOLERANCE = 0.02
SIZE_RULE = (
    "A reference must have its sample's shape: an aspect ratio (width ÷ height) within 2% of "
    "the sample's; otherwise it is refused. It is kept as uploaded, and for PSNR and SSIM it is "
    "resized to each render's size with Lanczos."
)
INPUT_FOLDERS = ("input", "inputs")
TARGET_FOLDERS = ("target", "targets")


def shape_problem(sample_size: tuple[int, int], reference_size: tuple[int, int]) -> str | None:
    """Return why a reference of `reference_size` does not fit the sample, or None if it does."""
    (sw, sh), (rw, rh) = sample_size, reference_size
    sample_ratio, reference_ratio = sw / sh, rw / rh
    if abs(reference_ratio / sample_ratio - 1) <= ASPECT_TOLERANCE + 1e-9:  # 2% itself is fine
        return None
    return (
        f"The reference is {rw}×{rh} (aspect ratio {reference_ratio:.3f}) but the sample is "
        f"{sw}×{sh} (aspect ratio {sample_ratio:.3f}): their shapes differ by more than 2%. "
        f"Crop or pad the reference to the sample's shape (any size with an aspect ratio "
        f"within 2% of {sample_ratio:.3f} is fine; it is resized with Lanczos for the metrics) "
        "and upload it again."
    )


def store_reference(
    session: Session,
    blobs: BlobStore,
    settings: Settings,
    *,
    sample: Sample,
    stream: BinaryIO,
    actor: User | None,
) -> Sample:
    """Check a reference image against the size rule, store it and attach it to the sample.

    Browser formats are kept byte for byte; others (TIFF) are stored as a lossless PNG of the
    same pixels, so pages can show them. Raises InvalidInputError (nothing stored) if refused.
    """
    limit = settings.max_image_bytes
    stream.seek(0, 2)
    size = stream.tell()
    if size == 0:
        raise InvalidInputError("The reference file is empty; choose the target image again.")
    if size > limit:
        raise InvalidInputError(
            f"The reference is {size / 2**20:.1f} MiB, over the {limit // 2**20} MiB image "
            "limit; send a smaller file."
        )
    try:
        facts = probe_image(stream, max_pixels=settings.max_image_pixels)
        stream.seek(0)
        data = stream.read()
        if facts.format not in BROWSER_FORMATS:
            data = png_bytes(load_rgb(data, max_pixels=settings.max_image_pixels))
    except ImageRejectedError as exc:
        raise InvalidInputError(f"The reference was refused: {exc}.") from None
    except OSError as exc:
        raise InvalidInputError(
            f"The reference was refused: its data is corrupt ({str(exc)[:120]})."
        ) from None
    problem = shape_problem((sample.width, sample.height), (facts.width, facts.height))
    if problem:
        raise InvalidInputError(problem)
    stored = blobs.put_bytes(data)
    if sample.reference_sha256 == stored.sha256:
        return sample  # the same image again (a re-uploaded pairs zip): nothing changed
    sample.reference_sha256 = stored.sha256
    audit.record(
        session,
        actor=actor,
        action="sample.reference",
        subject_type="sample",
        subject_id=sample.id,
        reference_sha256=stored.sha256,
        width=facts.width,
        height=facts.height,
    )
    session.flush()
    return sample


def attach_reference(
    session: Session,
    blobs: BlobStore,
    settings: Settings,
    *,
    sample_id: int,
    stream: BinaryIO,
    actor: User | None,
) -> Sample:
    """Attach (or replace) the reference image of a sample."""
    sample = samples_service.get_sample(session, sample_id=sample_id)
    return store_reference(session, blobs, settings, sample=sample, stream=stream, actor=actor)


def remove_reference(session: Session, *, sample_id: int, actor: User | None) -> Sample:
    """Take the reference off a sample (its metrics stay stored, keyed by content)."""
    sample = samples_service.get_sample(session, sample_id=sample_id)
    if sample.reference_sha256 is not None:
        audit.record(
            session,
            actor=actor,
            action="sample.reference_remove",
            subject_type="sample",
            subject_id=sample.id,
            reference_sha256=sample.reference_sha256,
        )
        sample.reference_sha256 = None
        session.flush()
    return sample


# --- a zip of pairs ---------------------------------------------------------------------------


@dataclass
class PairsOutcome:
    """What a pairs zip did: the samples (as a plain upload's), the references, the unmatched."""

    upload: UploadOutcome
    references: list[Accepted] = field(default_factory=list)  # samples given their reference
    inputs_without_target: list[str] = field(default_factory=list)
    targets_without_input: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"{self.upload.describe()}; {len(self.references)} references attached, "
            f"{len(self.inputs_without_target)} inputs without a target, "
            f"{len(self.targets_without_input)} targets without an input"
        )


@dataclass(frozen=True)
class _Member:
    name: str  # the path in the archive
    stem: str  # how pairs are matched: the file name without its extension, case-folded
    display: str


def _side_and_stem(name: str) -> tuple[str | None, str]:
    parts = [p for p in re.split(r"[\\/]", name) if p]
    folder = parts[-2].lower() if len(parts) >= 2 else ""
    side = "input" if folder in INPUT_FOLDERS else "target" if folder in TARGET_FOLDERS else None
    stem = parts[-1].rsplit(".", 1)[0] if "." in parts[-1].lstrip(".") else parts[-1]
    return side, stem.casefold()


def ingest_pairs(
    session: Session,
    blobs: BlobStore,
    settings: Settings,
    *,
    stream: BinaryIO,
    filename: str,
    tags: str | list[str] | None,
    set_ref: str | None,
    actor: User | None,
) -> tuple[PairsOutcome, SampleSet | None]:
    """Take in a zip of `input/NAME` and `target/NAME` files matched by name (any extension).

    Each matched input becomes (or is found as) a sample, as a plain upload would, and its
    target becomes its reference (under the size rule). Unmatched names are listed, each; a
    refused file gets its reason while the others go in. A file that is not a readable zip is
    refused whole (InvalidInputError).
    """
    archive_name = clean_filename(filename or "pairs.zip")
    stream.seek(0)
    if stream.read(4) not in ZIP_MAGIC:
        raise InvalidInputError(
            f"{archive_name} is not a zip archive. Send a .zip holding an input/ folder and a "
            "target/ folder whose files are paired by name (input/cat.jpg ↔ target/cat.png)."
        )
    sample_set = (
        sets_service.resolve_set(session, ref=set_ref, actor=actor, create_missing=True)
        if set_ref and set_ref.strip()
        else None
    )
    uploader = Uploader(
        session,
        blobs,
        settings,
        tags=samples_service.normalize_tags(tags),
        sample_set=sample_set,
        actor=actor,
    )
    opened = uploader.open_zip(stream, archive_name)
    if opened is None:
        reason = uploader.outcome.rejected[-1].reason
        raise InvalidInputError(f"{archive_name} was refused: {reason[:1].lower()}{reason[1:]}")
    archive, members = opened
    outcome = PairsOutcome(upload=uploader.outcome)
    inputs: dict[str, list[_Member]] = {}
    targets: dict[str, list[_Member]] = {}
    for info in members:
        display = f"{archive_name} › {clean_member(info.filename)}"
        side, stem = _side_and_stem(info.filename)
        if side is None:
            uploader.reject(
                display,
                "it is not in an input/ or a target/ folder; a pairs zip holds input/NAME and "
                "target/NAME files paired by name",
            )
            continue
        (inputs if side == "input" else targets).setdefault(stem, []).append(
            _Member(info.filename, stem, display)
        )
    if not inputs and not targets:
        raise InvalidInputError(
            f"{archive_name} holds no input/ or target/ folder. Put the photos in input/ and "
            "their target images in target/, with the same file names (any image extension)."
        )
    by_name = {info.filename: info for info in members}
    budget = settings.max_zip_bytes

    def extract(member: _Member) -> Iterator[BinaryIO]:
        nonlocal budget
        spooled = uploader.extract_member(archive, by_name[member.name], member.display, budget)
        if spooled is not None:
            with spooled:
                budget -= spooled.tell()
                yield spooled

    with archive:
        for stem, found in inputs.items():
            pair = targets.get(stem, [])
            if len(found) > 1 or len(pair) > 1:
                clash = [*found, *pair]
                names = ", ".join(m.display.split(" › ", 1)[-1] for m in clash)
                for member in clash:
                    uploader.reject(
                        member.display,
                        f"more than one file is named '{stem}' ({names}), so the pair is "
                        "ambiguous; keep one input and one target of that name",
                    )
                continue
            if not pair:
                outcome.inputs_without_target.append(found[0].display)
                continue
            _ingest_pair(session, blobs, settings, uploader, outcome, found[0], pair[0], extract)
        for stem, found in targets.items():
            if stem not in inputs:
                outcome.targets_without_input.extend(m.display for m in found)
    uploader.finish()
    return outcome, sample_set


def _ingest_pair(
    session: Session,
    blobs: BlobStore,
    settings: Settings,
    uploader: Uploader,
    outcome: PairsOutcome,
    source: _Member,
    target: _Member,
    extract: Callable[[_Member], Iterator[BinaryIO]],
) -> None:
    """Ingest one matched pair: the input as a sample, then the target as its reference."""
    accepted = None
    for spooled in extract(source):
        accepted = uploader.add_image(spooled, clean_filename(source.name), source.display)
    if accepted is None:
        uploader.reject(
            target.display, "its input was refused (see that line), so it was not attached"
        )
        return
    sample = samples_service.get_sample(session, sample_id=accepted.id)
    for spooled in extract(target):
        try:
            store_reference(
                session, blobs, settings, sample=sample, stream=spooled, actor=uploader.actor
            )
        except InvalidInputError as exc:
            uploader.reject(target.display, exc.message)
            return
        outcome.references.append(Accepted(sample.id, target.display))
