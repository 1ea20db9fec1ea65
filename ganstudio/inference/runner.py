"""The render worker: one at a time, it claims a queued render, runs it, and stores the result.

The queue is the `renders` table itself (state = queued), so nothing is lost in a crash: a
render left `running` by a worker that died is queued again by the next worker's `recover`,
and a render that is done is never run again.
"""

import io
import logging
import os
import threading
import time
import uuid
from datetime import timedelta

import torch
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from ganstudio.config import Settings
from ganstudio.db.base import utcnow
from ganstudio.db.tables import Render, Version
from ganstudio.inference.cache import NetworkCache
from ganstudio.inference.errors import describe_error
from ganstudio.inference.loader import CheckpointError, LoadedNetwork, load_network
from ganstudio.inference.pipeline import PipelineSettings, RenderError, run_full
from ganstudio.services.queue import claim_next_render
from ganstudio.storage.blobs import BlobStore
from ganstudio.storage.images import load_rgb, png_bytes, thumbnail_of
from ganstudio.vocabulary import RenderState

log = logging.getLogger(__name__)


def pick_device(setting: str) -> torch.device:
    """Return the device to render on: CUDA when asked for or available ("auto")."""
    if setting == "cuda" or (setting == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


class RenderWorker:
    """Runs queued renders, one at a time, on all the cores (or the GPU)."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        blobs: BlobStore,
        settings: Settings,
        cache: NetworkCache | None = None,
    ) -> None:
        self.sessions = sessions
        self.blobs = blobs
        self.settings = settings
        self.cache = cache or NetworkCache(settings.network_cache_size)
        self.worker_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.device = pick_device(settings.device)
        self.wake = threading.Event()
        self.renders_run = 0
        torch.set_num_threads(max(1, os.cpu_count() or 1))

    def recover(self, *, stale_after_seconds: float = 0) -> int:
        """Queue again the renders that a dead worker left `running`; return how many."""
        cutoff = utcnow() - timedelta(seconds=stale_after_seconds)
        with self.sessions() as session, session.begin():
            result = session.execute(
                update(Render)
                .where(
                    Render.state == RenderState.RUNNING,
                    Render.claimed_at <= cutoff,
                    Render.worker_id != self.worker_id,
                )
                .values(state=RenderState.QUEUED, worker_id=None, claimed_at=None)
            )
        if result.rowcount:
            log.info("Re-queued %d render(s) left running by a stopped worker", result.rowcount)
        return result.rowcount

    def claim_next(self) -> int | None:
        """Atomically take the next queued render, fairly between users (services/queue.py)."""
        with self.sessions.begin() as session:
            return claim_next_render(session, worker_id=self.worker_id, settings=self.settings)

    def run_one(self, render_id: int) -> RenderState:
        """Render one claimed render and record the result or the reason it failed."""
        with self.sessions() as session:
            render = session.get(Render, render_id)
            assert render is not None
            version = session.get(Version, render.version_id)
            assert version is not None
            settings = PipelineSettings(**render.settings)
            inputs = (render.input_sha256, render.mask_sha256)
            net_spec = (
                version.checkpoint_sha256,
                version.architecture,
                dict(version.config),
                version.input_channels,
            )
        started = time.perf_counter()
        try:
            output = self._render(net_spec, inputs, settings)
            # Lossless, so the differences between versions are real.
            output_blob = self.blobs.put_bytes(png_bytes(output, fast=True))
            thumb_blob = self.blobs.put_bytes(thumbnail_of(output))
            elapsed_ms = (time.perf_counter() - started) * 1000
            values = {
                "state": RenderState.DONE,
                "output_sha256": output_blob.sha256,
                "thumb_sha256": thumb_blob.sha256,
                "width": output.width,
                "height": output.height,
                "duration_ms": round(elapsed_ms, 1),
                "error": "",
            }
            limit = self.settings.render_time_limit_seconds
            if elapsed_ms > limit * 1000:
                values = {
                    "state": RenderState.FAILED,
                    "error": (
                        f"The render took {elapsed_ms / 1000:.0f} s, over the {limit:.0f} s limit."
                    ),
                    "duration_ms": round(elapsed_ms, 1),
                }
        except (RenderError, CheckpointError) as exc:
            values = {"state": RenderState.FAILED, "error": _sentence(str(exc))}
        except Exception as exc:  # a network may raise anything; the job goes on
            log.warning("Render %s failed: %s", render_id, describe_error(exc))
            values = {"state": RenderState.FAILED, "error": describe_error(exc)}
        with self.sessions() as session, session.begin():
            session.execute(
                update(Render)
                .where(Render.id == render_id)
                .values(finished_at=utcnow(), worker_id=None, **values)
            )
        self.renders_run += 1
        return values["state"]

    def _render(self, net_spec: tuple, inputs: tuple, settings: PipelineSettings):
        checkpoint_sha256, architecture, config, input_channels = net_spec
        input_sha256, mask_sha256 = inputs
        network = self.cache.get(
            checkpoint_sha256, lambda: self._load(checkpoint_sha256, architecture, config)
        )
        rgb = load_rgb(
            self.blobs.read_bytes(input_sha256), max_pixels=self.settings.max_image_pixels
        )
        mask = None
        if mask_sha256:
            from PIL import Image

            mask = Image.open(io.BytesIO(self.blobs.read_bytes(mask_sha256))).convert("L")
        return run_full(
            network.net,
            rgb,
            settings=settings,
            stride=network.stride,
            input_channels=input_channels,
            mask=mask,
            device=self.device,
        )

    def _load(
        self, checkpoint_sha256: str, architecture: str | None, config: dict
    ) -> LoadedNetwork:
        network = load_network(
            self.blobs.path_for(checkpoint_sha256),
            architecture=architecture,
            config=config if architecture else None,
        )
        # channels_last: oneDNN's convolutions run ~25% faster on CPU in this layout (bench/).
        network.net.to(self.device, memory_format=torch.channels_last)
        return network

    def run_until_idle(self, *, max_renders: int | None = None) -> int:
        """Run queued renders until none is left (or `max_renders`); return how many ran."""
        ran = 0
        while max_renders is None or ran < max_renders:
            render_id = self.claim_next()
            if render_id is None:
                break
            self.run_one(render_id)
            ran += 1
        return ran

    def serve(self, stop: threading.Event, *, poll_seconds: float = 1.0) -> None:
        """Loop until `stop` is set: run what is queued, then sleep until woken or polled."""
        self.recover()
        while not stop.is_set():
            try:
                if self.run_until_idle(max_renders=1):
                    continue
            except Exception:  # the worker must outlive any single failure
                log.exception("Render worker step failed; retrying shortly")
            self.wake.wait(poll_seconds)
            self.wake.clear()


def _sentence(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else "unknown error"
    return first[:500]
