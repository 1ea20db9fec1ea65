"""The worker's side of precision checks: measure a version in bf16/fp16 against fp32.

The render worker claims queued checks in the background (runner.RenderWorker.precision_step)
and measures each here, in the version's warm executor: every demo sample is prepared exactly as
its render would be (RenderWorker.network_inputs), run through the network in fp32 and in the
reduced precision (networks.render_batch), and the uint8 outputs are compared pixel by pixel.
The check keeps the largest and the mean absolute difference (0–255) over every output value of
every network input (on a face filter, each face crop), with the executor's device.
"""

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ganstudio.inference.errors import describe_error, first_line
from ganstudio.inference.executor import (
    ExecutorError,
    ExecutorRefusedError,
    ExecutorTimeoutError,
)
from ganstudio.inference.formats import CheckpointError
from ganstudio.inference.networks import LoadedExecutor, NetworkSpec, render_batch
from ganstudio.inference.render_spec import FP32, RenderError
from ganstudio.services import precision as precision_service
from ganstudio.services import renders as renders_service
from ganstudio.storage.blobs import BlobStoreUnavailableError
from ganstudio.vocabulary import PrecisionCheckState

if TYPE_CHECKING:
    from ganstudio.inference.runner import RenderInputs, RenderWorker

log = logging.getLogger(__name__)

Batch = list[tuple[Image.Image, Image.Image | None]]


class PrecisionError(RuntimeError):
    """The check failed; the message says why (shown on the version's page)."""


@dataclass
class Difference:
    """The running max and mean absolute difference of uint8 outputs (0–255 units)."""

    largest: int = 0
    total: int = 0  # the sum of every absolute difference
    values: int = 0  # how many output values were compared
    inputs: int = 0

    def add(self, reference: Image.Image, other: Image.Image) -> None:
        a = np.asarray(reference, dtype=np.int16)
        b = np.asarray(other, dtype=np.int16)
        if a.shape != b.shape:
            raise PrecisionError(
                f"The outputs differ in shape ({a.shape} in fp32, {b.shape} reduced); report this."
            )
        diff = np.abs(a - b)
        self.largest = max(self.largest, int(diff.max(initial=0)))
        self.total += int(diff.sum(dtype=np.int64))
        self.values += diff.size
        self.inputs += 1

    def merge(self, other: "Difference") -> None:
        self.largest = max(self.largest, other.largest)
        self.total += other.total
        self.values += other.values
        self.inputs += other.inputs

    @property
    def mean(self) -> float:
        return self.total / self.values if self.values else 0.0


def difference(
    loaded: LoadedExecutor, batch: Batch, *, precision: str, timeout: float
) -> Difference:
    """Render `batch` (same-size prepared inputs) in fp32 and in `precision`; compare them."""
    found = Difference()
    reference = render_batch(loaded, batch, timeout=timeout, precision=FP32).outputs
    other = render_batch(loaded, batch, timeout=timeout, precision=precision).outputs
    for one, two in zip(reference, other, strict=True):
        found.add(one, two)
    return found


def step(worker: "RenderWorker") -> bool:
    """Claim and measure the next queued precision check; return whether there was one."""
    with worker.sessions.begin() as session:
        check_id = precision_service.claim_next_check(session, worker_id=worker.worker_id)
    if check_id is None:
        return False
    run_check(worker, check_id)
    return True


def run_check(worker: "RenderWorker", check_id: int) -> PrecisionCheckState:
    """Measure one claimed check and record its numbers, or the reason it failed."""
    with worker.sessions() as session:
        work = precision_service.check_work(session, check_id=check_id)
    values: dict[str, Any]
    try:
        values = {**measure(worker, work), "state": PrecisionCheckState.DONE, "error": ""}
    except BlobStoreUnavailableError:
        raise  # not the check's fault: the worker gives its claims back and waits
    except (PrecisionError, RenderError, CheckpointError, ExecutorError) as exc:
        values = {"state": PrecisionCheckState.FAILED, "error": first_line(str(exc))}
    except Exception as exc:  # the worker goes on whatever happens to one check
        log.warning("Precision check %s failed: %s", check_id, describe_error(exc), exc_info=True)
        values = {"state": PrecisionCheckState.FAILED, "error": describe_error(exc)}
    with worker.sessions.begin() as session:
        precision_service.finish_check(session, check_id=check_id, values=values)
    return PrecisionCheckState(values["state"])


def measure(worker: "RenderWorker", work: precision_service.CheckWork) -> dict[str, Any]:
    """The check's numbers over the demo set (PrecisionError when nothing could be compared)."""
    if not work.samples:
        raise PrecisionError(work.no_samples)
    network = NetworkSpec.of(work.version)
    limit = worker.settings.render_time_limit_seconds
    total = Difference()
    measured = 0
    skipped: list[str] = []
    loaded: LoadedExecutor | None = None
    for sample in work.samples:
        try:
            prepared = worker.network_inputs(_render_inputs(work, sample, network))
        except RenderError as exc:  # e.g. a 4-channel version on a photo without a mask
            skipped.append(str(exc))
            continue
        if not prepared.inputs:  # a face filter on a photo without a face
            skipped.append("no face found")
            continue
        if loaded is None:
            loaded = worker.pool.get(
                network, lambda: worker.blobs.read_bytes(network.checkpoint_sha256)
            )
        # Face crops are all input-size squares: one batch a photo (a whole photo: one input).
        for batch in _same_size([(one.image, one.mask) for one in prepared.inputs]):
            total.merge(_difference(worker, loaded, batch, work, limit))
        measured += 1
    if not measured:
        raise PrecisionError(
            f"None of the {len(work.samples)} demo samples could be measured "
            f"({skipped[0] if skipped else 'no input'}); {work.set_name} needs photos this "
            "version can render."
        )
    assert loaded is not None
    return {
        "max_diff": total.largest,
        "mean_diff": total.mean,
        "samples": measured,
        "inputs": total.inputs,
        "set_name": work.set_name[:300],
        "device": (loaded.report.device or worker.settings.device)[:64],
    }


def _difference(
    worker: "RenderWorker",
    loaded: LoadedExecutor,
    batch: Batch,
    work: precision_service.CheckWork,
    limit: float,
) -> Difference:
    try:
        with worker.pool.discarding(work.version.checkpoint_sha256):
            return difference(loaded, batch, precision=work.precision, timeout=limit)
    except ExecutorTimeoutError:
        raise PrecisionError(
            f"A render took longer than the {limit:.0f} s limit, so the check was stopped; ask "
            "an admin to raise GANSTUDIO_RENDER_TIME_LIMIT_SECONDS, then press Measure again."
        ) from None
    except ExecutorRefusedError as exc:
        # e.g. fp16 overflowing to infinity: the version cannot render in it.
        raise PrecisionError(f"The network failed in {work.precision}: {exc}") from None


def _render_inputs(
    work: precision_service.CheckWork, sample: precision_service.DemoSample, network: NetworkSpec
) -> "RenderInputs":
    """What a render of this version on the sample would get (analysis_runner does the same)."""
    from ganstudio.inference.runner import RenderInputs

    version = work.version
    settings = renders_service.render_settings(
        version=version, mask_sha256=sample.mask_sha256, settings=work.settings
    )
    mask, missing = renders_service.version_mask(
        version=version, mask_sha256=sample.mask_sha256, settings=settings
    )
    if missing and not settings.eye_mask:
        raise RenderError(missing)
    return RenderInputs(
        network=network,
        input_channels=version.input_channels,
        input_sha256=sample.sha256,
        mask_sha256=mask,
        settings=settings,
    )


def _same_size(batch: Batch) -> list[Batch]:
    groups: dict[tuple[tuple[int, int], bool], Batch] = {}
    for image, mask in batch:
        groups.setdefault((image.size, mask is not None), []).append((image, mask))
    return list(groups.values())
