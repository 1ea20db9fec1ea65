"""Inside the executor processes: a zygote that forks sandboxed executors, and their loop.

`python -I -m ganstudio.inference.executor_child CONTROL_FD` starts the zygote with an empty
environment in an empty scratch directory. It imports torch once, confines itself (Landlock),
then forks one executor per request: each applies its resource limits and seccomp filter and
serves load / check / render requests on the socket it was given (`protocol`). A fork costs
~0.2 s where a fresh interpreter importing torch costs seconds, and the zygote never runs a
network, so every executor starts clean.
"""

import json
import os
import signal
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from ganstudio.inference import sandbox
from ganstudio.inference.protocol import PeerGoneError, receive_message, send_message

if TYPE_CHECKING:  # the loader imports torch: only the executor itself, after its fork, needs it
    from ganstudio.inference.loader import LoadedNetwork

MAX_REQUEST_BYTES = 2 * 1024**3  # a checkpoint (bounded by the upload limit) or an image
MAX_BATCH = 64  # images in one render request
PRECISIONS = ("fp32", "bf16", "fp16")  # pipeline.PRECISIONS (not imported: it imports torch)
EXECUTOR_NICENESS = 10  # below the web server (0): see main()


def main(argv: list[str]) -> None:
    control = socket.socket(fileno=int(argv[1]))
    start = json.loads(control.recv(65536))
    _preload()
    # Renders are batch work. Where they share a CPU with the web server (the server's own
    # worker thread, or a worker beside it), page loads must not queue behind a forward pass:
    # the zygote, and every executor forked from it, runs at a lower priority. A machine that
    # only renders is unaffected (niceness only matters when processes compete).
    os.nice(EXECUTOR_NICENESS)
    # The zygote runs none of a network's code, and each executor confines itself after its
    # fork: a GPU must be opened before Landlock and seccomp, which both break CUDA's start
    # (cudaGetDeviceCount fails with error 304 under either; measured on an H100 with
    # bench/cuda_check.py), so the zygote stays unconfined to keep that possible.
    abi = sandbox.landlock_abi() if start["sandbox"] else 0
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # executors are reaped by the kernel
    control.send(json.dumps({"pid": os.getpid(), "landlock_abi": abi}).encode())
    while True:
        try:
            message, fds, _flags, _addr = socket.recv_fds(control, 65536, 2)
        except OSError:
            return
        if not message:
            return  # the worker went away: so does the zygote
        request = json.loads(message)
        pid = os.fork()
        if pid == 0:
            control.close()
            _run_executor(fds, request, sandboxed=start["sandbox"])
            os._exit(0)
        for fd in fds:
            os.close(fd)
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:  # it died already
            control.send(json.dumps({"pid": pid}).encode())
            continue
        socket.send_fds(control, [json.dumps({"pid": pid}).encode()], [pidfd])
        os.close(pidfd)


def _module_dir(name: str) -> str:
    return os.path.dirname(sys.modules[name].__file__ or "")


def _preload() -> None:
    """Import everything executors use, once, before the zygote forks them."""
    import tempfile

    import numpy  # noqa: F401
    import PIL.Image  # noqa: F401
    import safetensors.torch  # noqa: F401
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    import models  # noqa: F401
    from ganstudio.inference import attention, check, loader, pipeline  # noqa: F401

    # Libraries that ask for a temp dir (torch._dynamo does, on import) get the scratch dir
    # without probing it with a write, which the sandbox would deny.
    tempfile.tempdir = os.getcwd()
    # Run the lazy imports of a FLOP count now; on one thread, so no OpenMP pool exists for
    # fork to break (each executor sets its own thread count).
    torch.set_num_threads(1)
    with torch.inference_mode(), FlopCounterMode(display=False):
        torch.nn.functional.conv2d(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 3, 3))
    torch.set_grad_enabled(False)


def _run_executor(fds: list[int], request: dict, *, sandboxed: bool) -> None:
    sock_fd, log_fd = fds
    os.dup2(log_fd, 2)
    os.dup2(log_fd, 1)  # a network's print() must not reach the protocol socket
    os.close(log_fd)
    # The device first: "auto" may mean CUDA, whose mappings an address-space limit would
    # break, and CUDA must be up before the sandbox closes (see main).
    device = _pick_device(request["device"])
    if device.type == "cuda":
        _start_cuda(device)
    landlock_abi = 0
    if sandboxed:
        # Landlock binds this thread and every thread and process started after it: all of
        # torch's. CUDA's own driver threads, started just above, run no network code; the
        # seccomp filter below is synchronised onto them too.
        packages = [Path(_module_dir("ganstudio")), Path(_module_dir("models"))]
        landlock_abi = sandbox.restrict_filesystem(
            sandbox.read_allowlist(packages), sandbox.device_files()
        )
    limits = sandbox.ExecutorLimits(**request["limits"])
    report = sandbox.SandboxReport(
        landlock_abi=landlock_abi, limits=limits.apply(gpu=device.type == "cuda")
    )
    if sandboxed:
        report.seccomp = sandbox.forbid_processes_and_sockets()
    conn = socket.socket(fileno=sock_fd)
    _Executor(conn, request, report, device).serve()


class _Executor:
    """Serves one worker's requests for one network."""

    def __init__(
        self, conn: socket.socket, request: dict, report: sandbox.SandboxReport, device
    ) -> None:
        import torch

        self.conn = conn
        self.report = report
        self.network: LoadedNetwork | None = None
        torch.set_num_threads(max(1, int(request["threads"])))
        self.device = device
        self.max_chunk = MAX_BATCH  # images per forward pass; fitted to the GPU's free memory

    def serve(self) -> None:
        handlers = {
            "selftest": self.selftest,
            "load": self.load,
            "check": self.check,
            "render": self.render,
            "attention": self.attention,
            "features": self.features,
            "layers": self.layers,
        }
        while True:
            try:
                header, payload = receive_message(self.conn, max_payload=MAX_REQUEST_BYTES)
            except PeerGoneError:
                return
            handler = handlers.get(str(header.get("op")))
            try:
                if handler is None:
                    raise ValueError(f"unknown request {header.get('op')!r}")
                answer, data = handler(header, payload)
            except Exception as exc:
                answer, data = _error_answer(exc), b""
            send_message(self.conn, answer, data)

    def selftest(self, header: dict, _payload: bytes | bytearray) -> tuple[dict, bytes]:
        self.report.checks = sandbox.self_test(
            [Path(p) for p in header.get("canaries", [])], Path.cwd()
        )
        return {
            "landlock_abi": self.report.landlock_abi,
            "seccomp": self.report.seccomp,
            "limits": self.report.limits,
            "checks": self.report.checks,
            "device": str(self.device),
            "environment": sorted(os.environ),
            "isolated_mode": bool(sys.flags.isolated),
            "cwd": os.getcwd(),
        }, b""

    def load(self, header: dict, payload: bytes | bytearray) -> tuple[dict, bytes]:
        import torch

        from ganstudio.inference.loader import load_network

        network = load_network(
            payload, architecture=header.get("architecture"), config=header.get("config")
        )
        # channels_last: oneDNN's convolutions run ~25% faster on CPU in this layout (bench/).
        network.net.to(self.device, memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.network = network
        return {
            "format": network.format,
            "architecture": network.architecture,
            "config": network.config,
            "stride": network.stride,
            "input_channels": network.input_channels,
            "device": str(self.device),
        }, b""

    def check(self, _header: dict, _payload: bytes | bytearray) -> tuple[dict, bytes]:
        from ganstudio.inference.check import measure_network

        if self.network is None:
            raise ValueError("no network is loaded")
        return measure_network(self.network), b""

    def _images(self, header: dict, payload: bytes | bytearray, *, planes: int = 0):
        """Read the image (and mask) a request carries, plus `planes` 8-bit planes after them."""
        from PIL import Image

        if self.network is None:
            raise ValueError("no network is loaded")
        width, height, channels = int(header["width"]), int(header["height"]), header["channels"]
        rgb_size, plane = width * height * 3, width * height
        mask_size = plane if channels == 4 else 0
        if len(payload) != rgb_size + mask_size + planes * plane:
            raise ValueError("the image bytes do not match its size")
        view = memoryview(payload)
        # A zero-copy view: PIL reads any buffer (its stubs say bytes).
        image = Image.frombuffer("RGB", (width, height), view[:rgb_size], "raw", "RGB", 0, 1)  # type: ignore[arg-type]
        mask = None
        if mask_size:
            planes_view = view[rgb_size : rgb_size + plane]
            mask = Image.frombuffer("L", (width, height), planes_view, "raw", "L", 0, 1)  # type: ignore[arg-type]
        return self.network, image, mask, view[rgb_size + mask_size :]

    def render(self, header: dict, payload: bytes | bytearray) -> tuple[dict, bytes]:
        """Render `count` same-size images (a batch): their RGB outputs back, one after another.

        On a GPU the batch runs in chunks that fit the free memory: each chunk's peak memory
        per image is measured, and a chunk that runs out of memory is halved and run again.
        """
        import numpy as np

        if self.network is None:
            raise ValueError("no network is loaded")
        width, height = int(header["width"]), int(header["height"])
        channels, count = int(header["channels"]), int(header.get("count", 1))
        precision = str(header.get("precision", "fp32"))
        shape_batch = int(header.get("shape_batch", 1))  # GPU batches are padded up to it
        if (
            channels not in (3, 4)
            or not 1 <= count <= MAX_BATCH
            or not 1 <= shape_batch <= MAX_BATCH
            or precision not in PRECISIONS
        ):
            raise ValueError("the render request is malformed")
        if len(payload) != count * width * height * channels:
            raise ValueError("the image bytes do not match its size")
        # Interleaved RGB(+mask) per image: (N, H, W, C); a zero-copy view of the payload.
        pixels = np.frombuffer(payload, dtype=np.uint8).reshape(count, height, width, channels)
        started = time.perf_counter()
        outputs = self._forward_in_chunks(pixels, precision, shape_batch)
        forward_ms = round((time.perf_counter() - started) * 1000, 2)
        return {
            "width": width,
            "height": height,
            "count": count,
            "forward_ms": forward_ms,
        }, b"".join(out.tobytes() for out in outputs)

    def _forward_in_chunks(self, pixels, precision: str, shape_batch: int) -> list:
        import torch

        from ganstudio.inference.pipeline import forward_batch

        assert self.network is not None
        outputs: list = []
        done = 0
        while done < len(pixels):
            chunk = min(len(pixels) - done, self.max_chunk)
            try:
                if self.device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(self.device)
                    before = torch.cuda.memory_allocated(self.device)
                out = forward_batch(
                    self.network.net,
                    self._padded(pixels[done : done + chunk], shape_batch),
                    stride=self.network.stride,
                    device=self.device,
                    precision=precision,
                )[:chunk]
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)  # forward_ms is the device's time
                    self._fit_chunk(chunk, torch.cuda.max_memory_allocated(self.device) - before)
            except torch.OutOfMemoryError:
                if chunk == 1:
                    raise
                torch.cuda.empty_cache()
                self.max_chunk = max(1, chunk // 2)
                continue
            outputs.extend(out)
            done += chunk
        return outputs

    def _padded(self, pixels, shape_batch: int):
        """On a GPU, a batch of 2 … shape_batch - 1 inputs padded up to shape_batch: each new
        batch shape costs the GPU a first call of seconds (cuDNN picks and loads kernels per
        shape), a padded slot a fraction of a full batch's time. So an executor runs two
        shapes, 1 and shape_batch."""
        from ganstudio.inference.pipeline import pad_batch

        if self.device.type != "cuda":
            return pixels
        return pad_batch(pixels, min(shape_batch, self.max_chunk))

    def _fit_chunk(self, chunk: int, peak_bytes: int) -> None:
        """Size the next chunks by the free memory and this chunk's peak per image."""
        import torch

        free, _total = torch.cuda.mem_get_info(self.device)
        # Free on the device, plus what torch's allocator holds cached but unused.
        cached = torch.cuda.memory_reserved(self.device) - torch.cuda.memory_allocated(self.device)
        per_image = max(1, peak_bytes // chunk)
        self.max_chunk = max(1, min(MAX_BATCH, int(0.8 * (free + cached) // per_image)))

    def attention(self, header: dict, payload: bytes | bytearray) -> tuple[dict, bytes]:
        """Grad-CAM (or saliency) of the region's output: float32 (H, W) map bytes back."""
        import numpy as np
        import torch

        from ganstudio.inference.attention import attention_map
        from ganstudio.inference.pipeline import input_tensor

        network, image, mask, rest = self._images(header, payload, planes=1)
        x, (height, width) = input_tensor(image, mask, stride=network.stride, device=self.device)
        region = np.zeros(x.shape[-2:], dtype=np.float32)  # zero on the padding
        region[:height, :width] = np.frombuffer(rest, dtype=np.uint8).reshape(height, width)
        found = attention_map(
            network.net, x, torch.from_numpy(region / 255.0), layer=header.get("layer")
        )
        values = np.ascontiguousarray(found.values[:height, :width], dtype=np.float32)
        total = float(values.sum(dtype=np.float64))
        values = values / total if total > 0 else values  # the padding's share dropped
        return {
            "method": found.method,
            "layer": found.layer,
            "note": found.note,
            "width": width,
            "height": height,
        }, values.tobytes()

    def features(self, header: dict, payload: bytes | bytearray) -> tuple[dict, bytes]:
        """The layer's strongest channels: their (h, w) uint8 planes back, one after another."""
        from ganstudio.inference.attention import feature_maps
        from ganstudio.inference.pipeline import input_tensor

        network, image, mask, _ = self._images(header, payload)
        x, _size = input_tensor(image, mask, stride=network.stride, device=self.device)
        layer, channels = feature_maps(
            network.net, x, layer=header.get("layer"), top=int(header.get("top", 16))
        )
        height, width = channels[0].pixels.shape if channels else (0, 0)
        return {
            "layer": layer,
            "height": height,
            "width": width,
            "channels": [{"index": c.index, "strength": c.strength} for c in channels],
        }, b"".join(c.pixels.tobytes() for c in channels)

    def layers(self, header: dict, _payload: bytes | bytearray) -> tuple[dict, bytes]:
        """The layers of a `models/` architecture (built on the meta device, no network)."""
        from dataclasses import asdict

        from ganstudio.inference.layers import architecture_layers

        found = architecture_layers(str(header["architecture"]), dict(header.get("config") or {}))
        return {"layers": [asdict(layer) for layer in found]}, b""


def _start_cuda(device) -> None:
    """Open the GPU: the driver's files, sockets and threads, while the process may still."""
    import torch

    torch.cuda.init()
    torch.ones(1, device=device)
    torch.cuda.synchronize(device)
    # No cuDNN autotuner: on an H100 it cost ~21 s per new input shape (a batch of 1, 3, 7, 8
    # at 1024²: each a new shape) against ~20-60 ms for the forward itself.


def _pick_device(setting: str):
    import torch

    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(setting)


def _error_answer(exc: BaseException) -> dict:
    from ganstudio.inference.attention import AnalysisError
    from ganstudio.inference.errors import describe_error
    from ganstudio.inference.formats import CheckpointError
    from ganstudio.inference.render_spec import RenderError

    if isinstance(exc, AnalysisError):
        return {"error": str(exc), "kind": "analysis"}
    if isinstance(exc, CheckpointError):
        return {"error": str(exc), "kind": "checkpoint"}
    if isinstance(exc, RenderError):
        return {"error": str(exc), "kind": "render"}
    traceback.print_exc()  # to the executor's log, which the worker keeps the tail of
    return {"error": describe_error(exc), "kind": "network"}


if __name__ == "__main__":
    main(sys.argv)
