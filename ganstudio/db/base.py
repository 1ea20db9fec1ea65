"""Declarative base with a constraint naming convention, and shared column helpers."""

import re
from datetime import UTC, datetime

from sqlalchemy import DateTime, MetaData, String, TypeDecorator
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names, so Alembic migrations (and SQLite batch mode) can find them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",  # every column: two can share the first
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# The widest integer a column holds: SQLite INTEGER and PostgreSQL BIGINT are signed 64-bit.
# Every id or number a client sends is bounded by it before it reaches a query.
INT_MAX = 2**63 - 1
_ID_TEXT = re.compile(r"[0-9]{1,19}")  # ASCII only: "²".isdigit() is True, int("²") fails


def parse_id(text: str) -> int | None:
    """Return `text` as a row id when it is one (ASCII digits, 1 to INT_MAX), else None."""
    if not _ID_TEXT.fullmatch(text):
        return None
    number = int(text)
    return number if 1 <= number <= INT_MAX else None


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Store UTC datetimes; always hand back timezone-aware values (SQLite drops the zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    """Every table of GAN Studio."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def Sha256() -> String:
    """Return the column type of a sha256 hex digest."""
    return String(64)


# Mark a column that names a blob with `info=BLOB_REF`: the blob sweep keeps every blob that a
# marked column names, and removes the rest (see ganstudio/storage/sweep.py).
BLOB_REF = {"blob_ref": True}
