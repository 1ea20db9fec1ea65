"""The pipelined render worker: claiming, input preparation, the forward pass, output work and
recording run as overlapping stages, so the device is fed continuously.

    main thread     claim ──┐                                          ┌── record (grouped)
    prepare pool            └─ decode, fit or crop, masks ──┐          │
    device thread                                           └─ batch → executor ─┐
    finish pool                                     paste, PNG, blob, thumbnail ─┘

- Prepare and finish run in thread pools: Pillow's decoders, resizes and zlib release the GIL,
  and the executor's socket wait releases it too, so on a GPU server the network never waits
  for a PNG encode, and on a two-core CPU the encode of one render overlaps the next forward.
- The device thread batches the network inputs that are ready and share a network, size and
  precision (`render_batch`); the executor fits each batch to the GPU's free memory. It never
  waits for a batch to fill: what is ready goes.
- Isolation stays: only prepared pixels cross to the sandboxed executor, and only pixels back.
- Web tests come first at every stage: claimed first (services/queue.py), first to the device,
  and recorded as soon as their PNG exists; their thumbnails follow.
- At most `depth` renders are in flight, so a web test queued behind a comparison waits for
  at most those. Each claimed render is recorded exactly once (done or failed), in groups; a
  worker that dies leaves its claimed renders `running`, and `RenderWorker.recover` queues
  them again. A batch whose executor crashes or refuses is rerun one input at a time, so one
  bad input fails only its own render and the others are rendered once.
- A render that cannot read an input or store its output because the blob store is unreachable
  (BlobStoreUnavailableError) is queued again, not failed, and this run claims no more: the
  worker tries again after its poll interval.
"""

import logging
import os
import queue
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PIL import Image
from sqlalchemy import or_, update

from ganstudio.db.base import utcnow
from ganstudio.db.session import rowcount
from ganstudio.db.tables import Render
from ganstudio.inference.errors import describe_error, first_line
from ganstudio.inference.executor import (
    ExecutorCrashedError,
    ExecutorError,
    ExecutorRefusedError,
    ExecutorTimeoutError,
)
from ganstudio.inference.formats import CheckpointError
from ganstudio.inference.inputs import NetworkInput
from ganstudio.inference.networks import render_batch
from ganstudio.inference.render_spec import NO_FACE, RenderError
from ganstudio.storage.blobs import BlobCorruptError, BlobStoreUnavailableError
from ganstudio.storage.images import png_bytes, thumbnail_of
from ganstudio.vocabulary import RenderState

if TYPE_CHECKING:
    from ganstudio.inference.runner import PreparedPhoto, RenderInputs, RenderWorker

log = logging.getLogger(__name__)
RESULT_WAIT_SECONDS = 1.0  # how often the main thread checks the device thread is alive


@dataclass(eq=False)
class InFlight:
    """One claimed render on its way through the stages."""

    render_id: int
    inputs: "RenderInputs"
    interactive: bool  # a web test's render: first at every stage
    seq: int  # claim order
    started: float = field(default_factory=time.perf_counter)
    prepared: "PreparedPhoto | None" = None
    outputs: list[Image.Image | None] = field(default_factory=list)
    settled: bool = False  # its outcome is decided (the device thread's flag)

    @property
    def priority(self) -> tuple[bool, int]:
        return (not self.interactive, self.seq)


@dataclass(frozen=True)
class Unit:
    """One network input of a render (a face filter has one per face)."""

    flight: InFlight
    index: int

    @property
    def input(self) -> NetworkInput:
        assert self.flight.prepared is not None
        return self.flight.prepared.inputs[self.index]

    @property
    def batch_key(self) -> tuple[Any, ...]:
        """Inputs with the same key may run in one forward pass."""
        settings = self.flight.inputs.settings
        return (
            self.flight.inputs.network.checkpoint_sha256,
            settings.precision,
            self.input.image.size,
            self.input.mask is not None,
        )


@dataclass(frozen=True)
class Outcome:
    """What to record of a render: its final values, or (final=False) a later thumbnail."""

    render_id: int
    values: dict[str, Any]
    final: bool = True
    requeue: bool = False  # the blob store failed: queued again for a later try


def batch_size(setting: int, device: str) -> int:
    """The most inputs in one forward pass: the setting, else 8 on a GPU and 1 on a CPU (where
    a batch runs no faster per image and only delays the first output)."""
    return setting or (8 if device.startswith("cuda") else 1)


class RenderPipeline:
    """Runs a worker's renders through the stages; `run` returns when nothing is left."""

    def __init__(self, worker: "RenderWorker") -> None:
        self.worker = worker
        settings = worker.settings
        cpus = os.cpu_count() or 1
        # "auto" is resolved by the executors: the first network loaded says where it runs.
        self.batch = batch_size(settings.render_batch_size, settings.device)
        self.prepare_threads = max(2, min(8, cpus // 4))
        self.finish_threads = max(2, min(16, cpus // 2))
        self._pending: list[Unit] = []  # prepared inputs waiting for the device
        self._pending_ready = threading.Condition()
        self._closing = False
        self._results: queue.Queue[Outcome] = queue.Queue()
        self._seq = 0

    @property
    def depth(self) -> int:
        """Renders in flight: enough to fill a batch while the last one is being finished, and
        few enough that a web test queued behind a comparison waits for no more than these."""
        return max(4, 3 * self.batch)

    # --- the main thread: claim and record -----------------------------------------------

    def run(
        self,
        *,
        claimed: Iterable[int] = (),
        max_renders: int | None = None,
        stop: threading.Event | None = None,
    ) -> int:
        """Run `claimed` renders, then claim and run more until the queue is empty (or
        `max_renders` were claimed, or `stop` is set); return how many were recorded."""
        worker, timings = self.worker, self.worker.timings
        claimed = list(claimed)
        if not claimed and max_renders != 0 and not (stop is not None and stop.is_set()):
            with timings.timed("claim"):
                first = worker.claim_next()
            claimed = [] if first is None else [first]
        if not claimed:
            return 0  # idle: no threads started
        recorded = launched = in_flight = 0
        store_down = False  # a render was queued again because the blob store failed
        self._closing = False
        device = threading.Thread(target=self._device_loop, name="render-device", daemon=True)
        device.start()
        with (
            ThreadPoolExecutor(self.prepare_threads, "render-prepare") as self._prepare,
            ThreadPoolExecutor(self.finish_threads, "render-finish") as self._finish,
        ):
            try:
                for render_id in claimed:
                    self._launch(render_id)
                    launched += 1
                    in_flight += 1
                while True:
                    while (
                        in_flight < self.depth
                        and (max_renders is None or launched < max_renders)
                        and not (stop is not None and stop.is_set())
                        and not store_down
                    ):
                        with timings.timed("claim"):
                            next_id = worker.claim_next()
                        if next_id is None:
                            break
                        self._launch(next_id)
                        launched += 1
                        in_flight += 1
                    if not in_flight:
                        break
                    outcomes = self._next_outcomes(device)
                    requeued = sum(outcome.requeue for outcome in outcomes)
                    store_down = store_down or requeued > 0
                    finals = self._record(outcomes)
                    in_flight -= finals
                    recorded += finals - requeued
            finally:
                with self._pending_ready:
                    self._closing = True
                    self._pending_ready.notify_all()
                device.join()
        # Thumbnails that came after their web test's PNG was recorded. (Were the loop stopped
        # by an error, renders still in flight stay `running` for RenderWorker.recover.)
        self._record(self._drain())
        return recorded

    def _launch(self, render_id: int) -> None:
        started = time.perf_counter()
        try:
            inputs, interactive = self.worker.render_inputs(render_id)
        except Exception as exc:  # its rows are unreadable: it fails, the others go on
            log.warning("Render %s could not be read: %s", render_id, exc, exc_info=True)
            self._results.put(Outcome(render_id, _failed(started, describe_error(exc))))
            return
        self.worker.note_network(inputs.network.checkpoint_sha256)
        self._seq += 1
        flight = InFlight(render_id, inputs, interactive, self._seq, started)
        self._prepare.submit(self._prepare_one, flight)

    def _next_outcomes(self, device: threading.Thread) -> list[Outcome]:
        """Wait for at least one outcome; return it with every other one already there."""
        while True:
            try:
                first = self._results.get(timeout=RESULT_WAIT_SECONDS)
                break
            except queue.Empty:
                if not device.is_alive():  # never: its loop catches everything; but never hang
                    raise RuntimeError("the render device thread stopped") from None
        return [first, *self._drain()]

    def forget_outcomes(self) -> None:
        """Drop outcomes a failed run left unrecorded (their renders are queued again)."""
        self._drain()

    def _drain(self) -> list[Outcome]:
        found = []
        while True:
            try:
                found.append(self._results.get_nowait())
            except queue.Empty:
                return found

    def _record(self, outcomes: list[Outcome]) -> int:
        """Write outcomes in one transaction; return how many were final."""
        if not outcomes:
            return 0
        worker = self.worker
        written = 0  # final outcomes written: not those of renders another worker took over
        with worker.timings.timed("commit"), worker.sessions() as session, session.begin():
            for outcome in outcomes:
                values = dict(outcome.values)
                done = outcome.final and not outcome.requeue
                if done:  # the worker stays on it: who rendered it (the workers page)
                    values.update(finished_at=utcnow(), worker_id=worker.worker_id)
                # Only a render this worker still holds (or one queued again meanwhile, which
                # then needs no second run): were this worker taken for dead and its render
                # claimed by another, that one records it, once.
                recorded = session.execute(
                    update(Render)
                    .where(
                        Render.id == outcome.render_id,
                        or_(
                            Render.worker_id == worker.worker_id,
                            Render.state == RenderState.QUEUED,
                        ),
                    )
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
                if done and rowcount(recorded) == 1:
                    written += 1
        finals = sum(outcome.final for outcome in outcomes)  # settled, written or not
        worker.renders_run += written
        worker.timings.add("renders", 0.0, written)
        worker.changed()
        return finals

    # --- prepare pool ----------------------------------------------------------------------

    def _prepare_one(self, flight: InFlight) -> None:
        try:
            with self.worker.timings.timed("prepare"):
                flight.prepared = self.worker.network_inputs(flight.inputs)
        except Exception as exc:
            self._results.put(self._failure(flight, exc))
            return
        units = [Unit(flight, n) for n in range(len(flight.prepared.inputs))]
        if not units:  # the face pipeline found no face: the output is the input
            self._finish.submit(self._finish_one, flight)
            return
        flight.outputs = [None] * len(units)
        with self._pending_ready:
            self._pending.extend(units)
            self._pending_ready.notify()

    # --- the device thread -----------------------------------------------------------------

    def _device_loop(self) -> None:
        while (units := self._next_batch()) is not None:
            try:
                self._run_batch(units)
            except Exception as exc:  # the loop must outlive anything one batch does
                log.exception("Render batch failed")
                for unit in units:
                    self._settle_failed(unit.flight, describe_error(exc))

    def _next_batch(self) -> list[Unit] | None:
        """The most urgent ready input and up to `batch - 1` more that share its batch key."""
        with self._pending_ready:
            while not self._pending:
                if self._closing:
                    return None
                self._pending_ready.wait()
            self._pending.sort(key=lambda unit: (unit.flight.priority, unit.index))
            head = self._pending[0]
            key = head.batch_key
            chosen = [u for u in self._pending if u.batch_key == key][: self.batch]
            taken = set(map(id, chosen))
            self._pending = [u for u in self._pending if id(u) not in taken]
            return chosen

    def _run_batch(self, units: list[Unit]) -> None:
        units = [u for u in units if not u.flight.settled]  # another face of it failed
        if not units:
            return
        worker = self.worker
        inputs = units[0].flight.inputs
        sha256 = inputs.network.checkpoint_sha256
        limit = worker.settings.render_time_limit_seconds
        try:
            try:
                warm = worker.pool.get(inputs.network, lambda: worker.blobs.read_bytes(sha256))
            except BlobStoreUnavailableError as exc:  # the checkpoint could not be read
                for unit in units:
                    self._settle(unit.flight, self._failure(unit.flight, exc))
                return
            self.batch = batch_size(worker.settings.render_batch_size, warm.device)
            worker.device = warm.device  # "auto" resolved: the workers page shows where it runs
            with worker.timings.timed("forward"), worker.pool.discarding(sha256):
                result = render_batch(
                    warm,
                    [(u.input.image, u.input.mask) for u in units],
                    timeout=limit * len(units),
                    precision=inputs.settings.precision,
                    shape_batch=self.batch,
                )
        except ExecutorTimeoutError:
            image = units[0].input.image
            # One network, one size: each input of the batch would take as long.
            message = (
                f"The render took longer than the {limit:.0f} s limit, so it was stopped. This "
                f"version is too slow on a {image.width}×{image.height} input; make it lighter, "
                "or ask an admin to raise GANSTUDIO_RENDER_TIME_LIMIT_SECONDS."
            )
            for unit in units:
                self._settle_failed(unit.flight, message)
            return
        except (ExecutorCrashedError, ExecutorRefusedError) as exc:
            if len(units) > 1:  # find the input it failed on: the others still render, once
                log.info("A batch of %d failed (%s); rendering them one by one", len(units), exc)
                for unit in units:
                    self._run_batch([unit])
                return
            message = str(exc)
            if isinstance(exc, ExecutorRefusedError):
                message = f"The network failed on this image: {exc}"
            self._settle_failed(units[0].flight, message)
            return
        except (RenderError, CheckpointError, ExecutorError, BlobCorruptError) as exc:
            for unit in units:
                self._settle_failed(unit.flight, str(exc))
            return
        worker.timings.add("device_busy", result.forward_seconds, len(units))
        for unit, output in zip(units, result.outputs, strict=True):
            flight = unit.flight
            flight.outputs[unit.index] = output
            if all(out is not None for out in flight.outputs):
                self._finish.submit(self._finish_one, flight)

    def _settle_failed(self, flight: InFlight, message: str) -> None:
        self._settle(
            flight, Outcome(flight.render_id, _failed(flight.started, first_line(message)))
        )

    def _settle(self, flight: InFlight, outcome: Outcome) -> None:
        if not flight.settled:
            flight.settled = True
            self._results.put(outcome)

    # --- finish pool -------------------------------------------------------------------------

    def _finish_one(self, flight: InFlight) -> None:
        worker = self.worker
        recorded = False  # a web test's render is recorded before its thumbnail exists
        try:
            with worker.timings.timed("finish"):
                output, note = self._compose(flight)
                # Lossless, so the differences between versions are real.
                output_blob = worker.blobs.put_bytes(png_bytes(output, fast=True))
                values: dict[str, Any] = {
                    "state": RenderState.DONE,
                    "output_sha256": output_blob.sha256,
                    "width": output.width,
                    "height": output.height,
                    "error": "",
                    "note": note,
                    "duration_ms": _ms_since(flight.started),
                }
                if flight.interactive:  # the PNG is what the person waits for
                    self._results.put(Outcome(flight.render_id, values))
                    recorded, values = True, {}
                values["thumb_sha256"] = worker.blobs.put_bytes(thumbnail_of(output)).sha256
            self._results.put(Outcome(flight.render_id, values, final=not recorded))
        except Exception as exc:
            if recorded:
                log.warning("The thumbnail of render %s failed: %s", flight.render_id, exc)
            else:
                self._results.put(self._failure(flight, exc))

    @staticmethod
    def _compose(flight: InFlight) -> tuple[Image.Image, str | None]:
        """The render's output: the network's, or each face's pasted back into the photo."""
        prepared = flight.prepared
        assert prepared is not None
        face = flight.inputs.settings.face
        outputs = [out for out in flight.outputs if out is not None]
        if face is None:
            return outputs[0], None
        if not prepared.inputs:
            return prepared.photo, NO_FACE
        from ganstudio.faces.crops import paste

        composed = prepared.photo
        for one, result in zip(prepared.inputs, outputs, strict=True):
            assert one.crop is not None
            composed = paste(composed, result, one.crop, feather=face.feather)
        return composed, None

    @staticmethod
    def _failure(flight: InFlight, exc: Exception) -> Outcome:
        if isinstance(exc, BlobStoreUnavailableError):  # transient: queued again, not failed
            log.warning("Render %s queued again: %s", flight.render_id, exc)
            return Outcome(flight.render_id, _requeued(), requeue=True)
        if isinstance(exc, RenderError | CheckpointError | ExecutorError | BlobCorruptError):
            return Outcome(flight.render_id, _failed(flight.started, first_line(str(exc))))
        log.warning("Render %s failed: %s", flight.render_id, describe_error(exc), exc_info=True)
        return Outcome(flight.render_id, _failed(flight.started, describe_error(exc)))


def _failed(started: float, error: str) -> dict[str, Any]:
    return {"state": RenderState.FAILED, "error": error, "duration_ms": _ms_since(started)}


def _requeued() -> dict[str, Any]:
    return {"state": RenderState.QUEUED, "worker_id": None, "claimed_at": None}


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
