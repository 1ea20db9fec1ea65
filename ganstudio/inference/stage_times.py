"""Where a render worker's time goes, stage by stage (bench/inference.py prints it).

The stages overlap in the pipelined worker (ganstudio/inference/render_pipeline.py), so their
sums may exceed the wall time: that excess is the overlap. `device_busy` is the time the
executors spent in the network's forward pass, measured inside them (with the GPU synchronised),
so `device_busy / wall` is how busy the device was.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

STAGES = ("claim", "prepare", "forward", "finish", "commit")


class StageTimes:
    """Thread-safe sums of seconds per stage, plus counts (renders, batches, device busy)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seconds: dict[str, float] = {}
        self._counts: dict[str, int] = {}

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - started)

    def add(self, stage: str, seconds: float, count: int = 1) -> None:
        with self._lock:
            self._seconds[stage] = self._seconds.get(stage, 0.0) + seconds
            self._counts[stage] = self._counts.get(stage, 0) + count

    def snapshot(self) -> dict[str, tuple[float, int]]:
        """Return {stage: (seconds, count)}: e.g. "forward" counts batches, "device_busy" the
        network inputs run, "renders" the renders recorded."""
        with self._lock:
            return {name: (s, self._counts.get(name, 0)) for name, s in self._seconds.items()}

    def reset(self) -> None:
        with self._lock:
            self._seconds.clear()
            self._counts.clear()
