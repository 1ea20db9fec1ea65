"""A process-local signal that renders were recorded: waiting long-polls wake at once.

The worker thread of a server process calls `notify`; a long-poll (an async route) awaits
`wait` between its looks at the database, so the answer leaves the moment the render is
recorded instead of at its next look. A worker in another process (`ganstudio worker`) cannot
signal this one: there the looks alone find the change (every LOOK_EVERY_SECONDS).
"""

import asyncio
import contextlib
import threading


class Changes:
    """A change counter with waiters on any event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.count = 0  # how many notifications so far: read it before a look

    def notify(self) -> None:
        with self._lock:
            self.count += 1
            waiters = list(self._waiters)
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # its loop closed (the server stopping)
                loop.call_soon_threadsafe(event.set)

    async def wait(self, seen: int, timeout: float) -> bool:
        """Wait until a notification after `seen` (the count read before the last look), or
        `timeout` seconds; return whether something changed."""
        event = asyncio.Event()
        waiter = (asyncio.get_running_loop(), event)
        with self._lock:
            if self.count != seen:
                return True
            self._waiters.add(waiter)
        try:
            await asyncio.wait_for(event.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.discard(waiter)
