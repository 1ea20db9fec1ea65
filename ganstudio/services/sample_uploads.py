"""Take in uploaded images and .zip archives: validate, dedup by sha256, store, tag, add to a set.

Every bad file gets its own reason while the good ones go in. A file is fully checked before
any byte of it is stored, so a rejection leaves no blob and no row behind.
"""

import hashlib
import re
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ganstudio.config import Settings
from ganstudio.db.tables import Sample, SampleSet, User
from ganstudio.services import audit
from ganstudio.services import sample_sets as sets_service
from ganstudio.services import samples as samples_service
from ganstudio.storage.blobs import BlobStore
from ganstudio.storage.images import (
    ImageRejectedError,
    clean_filename,
    make_thumbnail,
    probe_image,
)

MiB = 1024 * 1024
CHUNK = 1024 * 1024
SPOOL_IN_MEMORY = 8 * MiB
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_DRIVE = re.compile(r"^[A-Za-z]:")
_JUNK = ("__MACOSX/", ".DS_Store", "Thumbs.db")


@dataclass(frozen=True)
class Accepted:
    id: int
    filename: str


@dataclass(frozen=True)
class Rejected:
    filename: str
    reason: str


@dataclass
class UploadOutcome:
    created: list[Accepted] = field(default_factory=list)
    existing: list[Accepted] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"{len(self.created)} added, {len(self.existing)} already in the library, "
            f"{len(self.rejected)} rejected"
        )


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".")
    return (text[:1].upper() + text[1:] + ".") if text else "Rejected."


def _mib(size: int) -> str:
    return f"{size / MiB:.1f} MiB"


def is_unsafe_member(name: str) -> bool:
    """Return whether a zip member's path could escape a folder (absolute, drive, or '..')."""
    if "\x00" in name or name.startswith(("/", "\\")) or _DRIVE.match(name):
        return True
    return any(part == ".." for part in re.split(r"[\\/]", name))


class Uploader:
    """Ingest files one by one into the sample library; `finish()` adds them to the set."""

    def __init__(
        self,
        session: Session,
        blobs: BlobStore,
        settings: Settings,
        *,
        tags: list[str] | None = None,
        sample_set: SampleSet | None = None,
        actor: User | None,
    ) -> None:
        self.session = session
        self.blobs = blobs
        self.settings = settings
        self.tags = samples_service.normalize_tags(tags or [])
        self.sample_set = sample_set
        self.actor = actor
        self.outcome = UploadOutcome()
        self._accepted_ids: list[int] = []
        if sample_set is not None:
            sets_service.refuse_if_archived(sample_set)

    # -- entry points --------------------------------------------------------------------

    def add_file(self, stream: BinaryIO, filename: str) -> None:
        """Ingest one upload (an image or a .zip of images); `stream` must be seekable."""
        display = clean_filename(filename or "")
        stream.seek(0)
        head = stream.read(4)
        if head in ZIP_MAGIC:
            self._add_zip(stream, display)
        elif display.lower().endswith(".zip"):
            self.reject(display, "it is named .zip but is not a zip archive")
        else:
            self.add_image(stream, display, display)

    def finish(self) -> UploadOutcome:
        """Add every accepted sample to the set, in upload order; return what happened."""
        if self.sample_set is not None and self._accepted_ids:
            sets_service.add_samples(
                self.session,
                sample_set=self.sample_set,
                sample_ids=list(dict.fromkeys(self._accepted_ids)),
                actor=self.actor,
            )
        return self.outcome

    # -- one image ------------------------------------------------------------------------

    def reject(self, display: str, reason: str) -> None:
        self.outcome.rejected.append(Rejected(display, _sentence(reason)))

    def add_image(self, stream: BinaryIO, filename: str, display: str) -> Accepted | None:
        """Ingest one image; return the sample it became (or already was), None if rejected."""
        limit = self.settings.max_image_bytes
        stream.seek(0, 2)
        size = stream.tell()
        if size == 0:
            self.reject(display, "the file is empty")
            return None
        if size > limit:
            self.reject(display, f"it is {_mib(size)}, over the {_mib(limit)} limit per image")
            return None
        sha256 = _sha256(stream)
        found = samples_service.find_by_sha256(self.session, sha256)
        if found is not None:
            return self._attach(found, display, created=False)
        try:
            facts = probe_image(stream, max_pixels=self.settings.max_image_pixels)
            thumbnail = make_thumbnail(stream, max_pixels=self.settings.max_image_pixels)
        except ImageRejectedError as exc:
            self.reject(display, str(exc))
            return None
        except Exception as exc:  # a decoder failing late is still the file's fault
            self.reject(display, f"the image cannot be decoded ({str(exc)[:120]})")
            return None
        stream.seek(0)
        original = self.blobs.put_stream(stream, max_bytes=limit)
        thumb = self.blobs.put_bytes(thumbnail)
        sample = Sample(
            sha256=original.sha256,
            filename=filename,
            format=facts.format,
            mode=facts.mode,
            width=facts.width,
            height=facts.height,
            size_bytes=original.size,
            thumb_sha256=thumb.sha256,
            note="",
            created_by_id=self.actor.id if self.actor else None,
        )
        try:
            with self.session.begin_nested():
                self.session.add(sample)
                self.session.flush()
        except IntegrityError:  # the same bytes arrived in a parallel request a moment ago
            found = samples_service.find_by_sha256(self.session, sha256)
            if found is None:
                raise
            return self._attach(found, display, created=False)
        audit.record(
            self.session,
            actor=self.actor,
            action="sample.create",
            subject_type="sample",
            subject_id=sample.id,
            filename=filename,
            sha256=sha256,
        )
        return self._attach(sample, display, created=True)

    def _attach(self, sample: Sample, display: str, *, created: bool) -> Accepted:
        """Add this upload's tags to the sample and remember it for the set."""
        if self.tags:
            samples_service.add_tags(self.session, sample_ids=[sample.id], names=self.tags)
        if not created and sample.archived:
            samples_service.update_sample(
                self.session, sample=sample, actor=self.actor, archived=False
            )
        self._accepted_ids.append(sample.id)
        target = self.outcome.created if created else self.outcome.existing
        accepted = Accepted(sample.id, display)
        target.append(accepted)
        return accepted

    # -- archives -------------------------------------------------------------------------

    def open_zip(
        self, stream: BinaryIO, archive_name: str
    ) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]] | None:
        """Open an archive and list its files; None (and why, in the outcome) if refused."""
        settings = self.settings
        stream.seek(0)
        try:
            archive = zipfile.ZipFile(stream)
            members = [info for info in archive.infolist() if not info.is_dir()]
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            self.reject(archive_name, f"it is not a readable zip archive ({str(exc)[:120]})")
            return None
        if len(members) > settings.max_zip_members:
            self.reject(
                archive_name,
                f"the archive holds {len(members):,} files, more than the "
                f"{settings.max_zip_members:,} allowed; split it into smaller archives",
            )
            return None
        declared = sum(info.file_size for info in members)
        if declared > settings.max_zip_bytes:
            self.reject(
                archive_name,
                f"the archive would expand to {_mib(declared)}, over the "
                f"{_mib(settings.max_zip_bytes)} limit (a zip-bomb guard); nothing was extracted",
            )
            return None
        return archive, [info for info in members if not is_junk_member(info.filename)]

    def _add_zip(self, stream: BinaryIO, archive_name: str) -> None:
        opened = self.open_zip(stream, archive_name)
        if opened is None:
            return
        archive, members = opened
        budget = self.settings.max_zip_bytes
        with archive:
            for info in members:
                name = info.filename
                display = f"{archive_name} › {clean_member(name)}"
                spooled = self.extract_member(archive, info, display, budget)
                if spooled is None:
                    continue
                with spooled:
                    budget -= spooled.tell()
                    self.add_image(spooled, clean_filename(name), display)

    def extract_member(
        self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, display: str, budget: int
    ) -> BinaryIO | None:
        """Copy one member to a spooled file, counting real bytes; None (and why) if refused."""
        limit = self.settings.max_image_bytes
        if is_unsafe_member(info.filename):
            self.reject(
                display, "its path in the archive is absolute or climbs out with '..'; skipped"
            )
            return None
        if info.flag_bits & 0x1:
            self.reject(display, "it is encrypted in the archive; upload it without a password")
            return None
        if info.filename.lower().endswith(".zip"):
            self.reject(display, "archives inside archives are not opened; upload it on its own")
            return None
        if info.file_size > limit:
            self.reject(display, f"it is {_mib(info.file_size)}, over the {_mib(limit)} limit")
            return None
        spooled = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        written = 0
        try:
            with archive.open(info) as member:
                while chunk := member.read(CHUNK):
                    written += len(chunk)
                    if written > limit or written > budget:
                        spooled.close()
                        self.reject(
                            display,
                            "it expands past its declared size or the archive's limit "
                            "(a zip-bomb guard); skipped",
                        )
                        return None
                    spooled.write(chunk)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError) as exc:
            spooled.close()
            self.reject(display, f"it is damaged inside the archive ({str(exc)[:120]})")
            return None
        return spooled  # type: ignore[return-value]


def is_junk_member(name: str) -> bool:
    """Return whether a zip member is an OS's clutter (__MACOSX, .DS_Store, ._ files)."""
    return name.startswith(_JUNK) or name.split("/")[-1].startswith("._")


def clean_member(name: str) -> str:
    parts = [clean_filename(p, fallback="_") for p in re.split(r"[\\/]", name) if p]
    return "/".join(parts)[-160:]


def _sha256(stream: BinaryIO) -> str:
    stream.seek(0)
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def ingest_uploads(
    session: Session,
    blobs: BlobStore,
    settings: Settings,
    *,
    files: list[tuple[BinaryIO, str]],
    tags: str | list[str] | None,
    set_ref: str | None,
    actor: User | None,
) -> tuple[UploadOutcome, SampleSet | None]:
    """Ingest (stream, filename) pairs; `set_ref` names a set by id or name (made if new)."""
    tag_names = samples_service.normalize_tags(tags)
    sample_set = (
        sets_service.resolve_set(session, ref=set_ref, actor=actor, create_missing=True)
        if set_ref and set_ref.strip()
        else None
    )
    uploader = Uploader(
        session, blobs, settings, tags=tag_names, sample_set=sample_set, actor=actor
    )
    for stream, filename in files:
        uploader.add_file(stream, filename)
    return uploader.finish(), sample_set
