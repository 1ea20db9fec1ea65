"""Folders and files only GAN Studio's own user may read: the data dir 0700, its files 0600."""

import logging
import os
import stat
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def make_private_dir(path: Path) -> Path:
    """Create `path` (and its parents) if needed and make it 0700 when it is ours."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, PRIVATE_DIR_MODE)
    return path


def make_private_file(path: Path) -> Path:
    """Create `path` empty if it is missing, and make it 0600 when it is ours."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE)
    os.close(fd)
    _tighten(path, PRIVATE_FILE_MODE)
    return path


def write_new_private_file(path: Path, data: bytes) -> bool:
    """Write `data` to `path` (0600) unless it exists; return whether this call wrote it.

    The file appears complete or not at all: the bytes go to a temp file, are fsynced, and are
    then linked into place, which fails if another process got there first (so two servers
    starting at once agree on one file, and a crash never leaves it empty).
    """
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        try:
            os.link(tmp_name, path)
        except FileExistsError:
            return False
        fsync_dir(path.parent)
        return True
    finally:
        os.unlink(tmp_name)


def _tighten(path: Path, mode: int) -> None:
    info = path.stat()
    if stat.S_IMODE(info.st_mode) & ~mode == 0 or info.st_uid != os.getuid():
        return  # already private, or someone else's (an admin's choice we cannot change)
    os.chmod(path, mode)
    log.warning("Made %s private (mode %o): it held GAN Studio data others could read", path, mode)


def fsync_dir(directory: Path) -> None:
    """Make a rename or link in `directory` durable (its entry, not only the file's bytes)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
