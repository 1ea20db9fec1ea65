"""Sign-in throttle: attempts are reserved before the password is checked, per name and address.

The rule. Three counters of unproven attempts, each with a few free attempts and then a wait
that doubles with every further one (2 s, 4 s, … up to 15 min), forgotten after an hour without
attempts:
- per (name, client address), 5 free: one address guessing one account's password;
- per client address, 50 free (an office behind one NAT shares it): one address trying many
  names;
- per name across all addresses, 100 free: many addresses guessing one account together. This
  one holds back only addresses that have already failed for that name, so an address's first
  attempt at a name is never refused by it: a flood, however wide, cannot lock the owner out.

An attempt is counted as a failure of all three when it is reserved, atomically with the check
that it may go ahead, so parallel requests cannot slip past the count while the slow password
hash runs. A right password then takes its reservation back and clears its (name, address)
counter; a wrong one leaves it counted.

Argon2 is slow and memory-hungry by design, so at most `max_concurrent_checks` passwords are
checked at once; an attempt that finds every slot taken for `slot_wait_seconds` is refused as
busy (and not counted) instead of queueing without end.

Where the counters live. Given the database (`sessions`, as the web app does), they are rows of
`sign_in_counters`, shared by every web process (`ganstudio serve --workers N`): a guesser gets
the same few attempts however many processes answer, not N times as many. Each reservation is
one transaction that first writes the three rows (SQLite's write lock; on PostgreSQL the rows
are then locked FOR UPDATE), so parallel requests in any process are counted one after another.
Keys are hashed (no names or addresses are stored) and rows unused for an hour are deleted.
Without a database (unit tests) each table is in memory and holds at most `max_entries` keys, the
least recently used going first, so a spray of made-up names cannot grow memory without bound.
The password-checking slots are per process: they bound one process's memory.
"""

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from ganstudio.db.tables import SignInCounter
from ganstudio.services.errors import BusyError, TooManyAttemptsError

FREE_ATTEMPTS = 5  # per (name, address)
FREE_ATTEMPTS_PER_ADDRESS = 50
FREE_ATTEMPTS_PER_NAME = 100
FIRST_WAIT_SECONDS = 2.0
MAX_WAIT_SECONDS = 15 * 60.0
FORGET_AFTER_SECONDS = 3600.0
MAX_ENTRIES = 10_000  # per table
MAX_CONCURRENT_CHECKS = 4  # argon2id as configured takes 64 MiB and a few cores per check
SLOT_WAIT_SECONDS = 5.0
BUSY_RETRY_SECONDS = 2


@dataclass
class _Counter:
    count: int = 0
    last_at: float = 0.0


class _Counters:
    """Counters by key, least recently used first, at most `max_entries` of them."""

    def __init__(self, max_entries: int) -> None:
        self._entries: OrderedDict[Hashable, _Counter] = OrderedDict()
        self._max_entries = max_entries

    def __len__(self) -> int:
        return len(self._entries)

    def count(self, key: Hashable, now: float) -> _Counter | None:
        counter = self._entries.get(key)
        if counter is not None and now - counter.last_at > FORGET_AFTER_SECONDS:
            del self._entries[key]
            return None
        return counter

    def add(self, key: Hashable, now: float) -> None:
        counter = self.count(key, now) or _Counter()
        counter.count += 1
        counter.last_at = now
        self._entries[key] = counter
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def take_back(self, key: Hashable) -> None:
        counter = self._entries.get(key)
        if counter is not None:
            counter.count -= 1
            if counter.count <= 0:
                del self._entries[key]

    def clear(self, key: Hashable) -> None:
        self._entries.pop(key, None)


class _Table(Protocol):
    def count(self, key: Hashable, now: float) -> _Counter | None: ...
    def add(self, key: Hashable, now: float) -> None: ...
    def take_back(self, key: Hashable) -> None: ...
    def clear(self, key: Hashable) -> None: ...


def _row_key(table: str, key: Hashable) -> str:
    parts = key if isinstance(key, tuple) else (key,)
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()
    return f"{table}:{digest}"


class _DatabaseTable:
    """One counter table as rows of `sign_in_counters`, in a transaction that holds them."""

    def __init__(self, session: Session, table: str, rows: dict[str, SignInCounter]) -> None:
        self._session, self._table, self._rows = session, table, rows

    def _row(self, key: Hashable) -> SignInCounter | None:
        row_key = _row_key(self._table, key)
        row = self._rows.get(row_key)
        if row is None:
            row = self._session.get(SignInCounter, row_key, with_for_update=True)
            if row is not None:
                self._rows[row_key] = row
        return row

    def count(self, key: Hashable, now: float) -> _Counter | None:
        row = self._row(key)
        if row is None or row.count <= 0 or now - row.last_at > FORGET_AFTER_SECONDS:
            return None
        return _Counter(row.count, row.last_at)

    def add(self, key: Hashable, now: float) -> None:
        row = self._row(key)
        if row is None:
            row = SignInCounter(key=_row_key(self._table, key), count=0, last_at=now)
            self._session.add(row)
            self._rows[row.key] = row
        if self.count(key, now) is None:
            row.count = 0
        row.count += 1
        row.last_at = now

    def take_back(self, key: Hashable) -> None:
        row = self._row(key)
        if row is not None:
            row.count -= 1
            if row.count <= 0:
                self._session.delete(row)

    def clear(self, key: Hashable) -> None:
        row = self._row(key)
        if row is not None:
            self._session.delete(row)


def _wait(counter: _Counter | None, free: int, now: float) -> int:
    if counter is None or counter.count < free:
        return 0
    doublings = min(counter.count - free, 20)  # 2 s · 2**20 is far past the cap already
    wait = min(FIRST_WAIT_SECONDS * 2**doublings, MAX_WAIT_SECONDS)
    return max(0, math.ceil(counter.last_at + wait - now))


class Reservation:
    """One reserved sign-in attempt: a failure until `succeeded` or `cancel` says otherwise."""

    def __init__(self, throttle: "SignInThrottle", name: str, address: str) -> None:
        self._throttle = throttle
        self.name = name
        self.address = address
        self._open = True

    def succeeded(self) -> None:
        """The password was right: give the attempt back and forget this pair's failures."""
        self._close(clear_pair=True)

    def cancel(self) -> None:
        """The password was never checked (the server was busy): give the attempt back."""
        self._close(clear_pair=False)

    def _close(self, *, clear_pair: bool) -> None:
        if self._open:
            self._open = False
            self._throttle._release(self.name, self.address, clear_pair=clear_pair)


class SignInThrottle:
    """Count sign-in attempts per name, address and both (names known or not: it tells nothing)."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session] | None = None,
        clock: Callable[[], float] | None = None,
        max_entries: int = MAX_ENTRIES,
        max_concurrent_checks: int = MAX_CONCURRENT_CHECKS,
        slot_wait_seconds: float = SLOT_WAIT_SECONDS,
    ) -> None:
        self._sessions = sessions
        # Processes share the database's counters, so its times must be the wall clock.
        self._clock = clock or (time.time if sessions is not None else time.monotonic)
        self._pairs = _Counters(max_entries)
        self._addresses = _Counters(max_entries)
        self._names = _Counters(max_entries)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_concurrent_checks)
        self._slot_wait_seconds = slot_wait_seconds

    def __len__(self) -> int:
        """Return how many counters are held (all tables together)."""
        if self._sessions is not None:
            with self._sessions() as session:
                return session.scalar(select(func.count()).select_from(SignInCounter)) or 0
        with self._lock:
            return len(self._pairs) + len(self._addresses) + len(self._names)

    @contextmanager
    def _tables(self, name: str, address: str) -> Iterator[tuple[_Table, _Table, _Table, float]]:
        """The pair, address and name tables, held for one atomic check-and-count."""
        now = self._clock()
        if self._sessions is None:
            with self._lock:
                yield self._pairs, self._addresses, self._names, now
            return
        keys = [
            _row_key("pair", (name, address)),
            _row_key("address", address),
            _row_key("name", name),
        ]
        with self._sessions.begin() as session:
            # Write first: SQLite takes its write lock now (no read-then-write deadlock), and
            # every row exists to be locked FOR UPDATE on PostgreSQL.
            _insert_missing(session, keys, now)
            rows = {
                row.key: row
                for row in session.scalars(
                    select(SignInCounter).where(SignInCounter.key.in_(keys)).with_for_update()
                )
            }
            yield (
                _DatabaseTable(session, "pair", rows),
                _DatabaseTable(session, "address", rows),
                _DatabaseTable(session, "name", rows),
                now,
            )
            session.execute(
                delete(SignInCounter)
                .where(SignInCounter.last_at < now - FORGET_AFTER_SECONDS)
                .execution_options(synchronize_session=False)
            )

    def reserve(self, *, name: str, address: str) -> Reservation:
        """Reserve one attempt for `name` from `address`, or raise TooManyAttemptsError."""
        name = name.strip().lower()
        with self._tables(name, address) as (pairs, addresses, names, now):
            pair = pairs.count((name, address), now)
            wait = _wait(pair, FREE_ATTEMPTS, now)
            if wait:
                raise TooManyAttemptsError(
                    f"Too many failed sign-ins for '{name[:40]}'. Wait {wait} seconds and try "
                    "again; an admin can reset a forgotten password.",
                    retry_after=wait,
                )
            wait = _wait(addresses.count(address, now), FREE_ATTEMPTS_PER_ADDRESS, now)
            if wait:
                raise TooManyAttemptsError(
                    f"Too many failed sign-ins from your network address. Wait {wait} seconds "
                    "and try again.",
                    retry_after=wait,
                )
            if pair is not None:  # only addresses that already failed for this name
                wait = _wait(names.count(name, now), FREE_ATTEMPTS_PER_NAME, now)
                if wait:
                    raise TooManyAttemptsError(
                        f"Many failed sign-ins for '{name[:40]}' are coming from several "
                        f"places. Wait {wait} seconds and try again.",
                        retry_after=wait,
                    )
            pairs.add((name, address), now)
            addresses.add(address, now)
            names.add(name, now)
        return Reservation(self, name, address)

    @contextmanager
    def checking_slot(self) -> Iterator[None]:
        """Hold one of the few password-checking slots, or raise BusyError when none frees up."""
        if not self._slots.acquire(timeout=self._slot_wait_seconds):
            raise BusyError(
                "GAN Studio is checking many sign-ins at once. Try again in a few seconds.",
                retry_after=BUSY_RETRY_SECONDS,
            )
        try:
            yield
        finally:
            self._slots.release()

    def _release(self, name: str, address: str, *, clear_pair: bool) -> None:
        with self._tables(name, address) as (pairs, addresses, names, _now):
            if clear_pair:
                pairs.clear((name, address))
            else:
                pairs.take_back((name, address))
            addresses.take_back(address)
            names.take_back(name)


def _insert_missing(session: Session, keys: list[str], now: float) -> None:
    """Insert a zero counter for each of `keys` that has no row (one statement, no error)."""
    values = [{"key": key, "count": 0, "last_at": now} for key in keys]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(postgresql.insert(SignInCounter).values(values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        session.execute(sqlite.insert(SignInCounter).values(values).on_conflict_do_nothing())
    else:  # any other database: one row at a time, each in a savepoint
        for value in values:
            if session.get(SignInCounter, value["key"]) is None:
                with session.begin_nested():
                    session.add(SignInCounter(**value))
