"""Remove blobs that no row names (after a grace period), and say how much was freed."""

import logging
import time
from dataclasses import dataclass

from sqlalchemy import MetaData, Table, select, union
from sqlalchemy.orm import Session

from ganstudio.storage.blobs import BlobStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    removed: int
    freed_bytes: int
    kept: int

    def describe(self) -> str:
        return (
            f"Blob sweep removed {self.removed} unreferenced blob(s), "
            f"freed {self.freed_bytes / (1024 * 1024):.1f} MiB, kept {self.kept}."
        )


def blob_columns(metadata: MetaData) -> list[tuple[Table, str]]:
    """Return every (table, column name) marked with `info=BLOB_REF`."""
    return [
        (table, column.name)
        for table in metadata.sorted_tables
        for column in table.columns
        if column.info.get("blob_ref")
    ]


def referenced_blobs(session: Session, metadata: MetaData) -> set[str]:
    """Return the sha256 of every blob some row names."""
    columns = blob_columns(metadata)
    if not columns:
        return set()
    query = union(*(select(table.c[name].label("sha256")) for table, name in columns))
    return {sha for (sha,) in session.execute(query) if sha}


def sweep_blobs(
    store: BlobStore, referenced: set[str], *, grace_seconds: float, now: float | None = None
) -> SweepReport:
    """Delete blobs (and abandoned writes) not in `referenced` and older than the grace."""
    # The grace period protects a blob written just before the row that will name it commits.
    cutoff = (now if now is not None else time.time()) - grace_seconds
    removed = freed = kept = 0
    for blob in list(store.iter_blobs()):
        if blob.sha256 in referenced or blob.modified > cutoff:
            kept += 1
            continue
        store.delete(blob.sha256)
        removed += 1
        freed += blob.size
    # Spool files and unfinished multipart uploads of writes that crashed (a killed worker).
    for leftover in list(store.iter_leftovers()):
        if leftover.modified <= cutoff:
            leftover.remove()
            freed += leftover.size
    report = SweepReport(removed=removed, freed_bytes=freed, kept=kept)
    log.info(report.describe())
    return report
