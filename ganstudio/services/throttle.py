"""Failed sign-in back-off: each failure past a few doubles the wait, per sign-in name."""

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

FREE_ATTEMPTS = 5
FIRST_WAIT_SECONDS = 2.0
MAX_WAIT_SECONDS = 15 * 60.0
FORGET_AFTER_SECONDS = 3600.0


@dataclass
class _Failures:
    count: int = 0
    last_at: float = 0.0


class SignInThrottle:
    """Remember failed sign-ins per name (known or not, so it reveals nothing about accounts)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    def seconds_to_wait(self, name: str) -> int:
        """Return how long `name` must wait before the next attempt (0: go ahead)."""
        with self._lock:
            failures = self._failures.get(name.lower())
            if failures is None or failures.count < FREE_ATTEMPTS:
                return 0
            wait = min(FIRST_WAIT_SECONDS * 2 ** (failures.count - FREE_ATTEMPTS), MAX_WAIT_SECONDS)
            remaining = failures.last_at + wait - self._clock()
            return max(0, math.ceil(remaining))

    def failed(self, name: str) -> None:
        with self._lock:
            now = self._clock()
            failures = self._failures.setdefault(name.lower(), _Failures())
            if now - failures.last_at > FORGET_AFTER_SECONDS:
                failures.count = 0
            failures.count += 1
            failures.last_at = now

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name.lower(), None)
