"""Executors: isolated, killable child processes that load and run pushed networks.

The worker never loads a checkpoint itself. It asks the process-wide zygote
(`executor_child`) for a fresh executor, sends it the checkpoint's bytes and then prepared
pixels, and reads back a JSON header and raw pixels (never a pickle). Each request has a
wall-clock deadline: past it the executor is killed (SIGKILL through a pidfd, so a reused pid is
never hit) and the caller gets `ExecutorTimeoutError` at once. An executor holds one network,
so one network can never see or change another's state.
"""

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ganstudio.inference.protocol import PeerGoneError, ProtocolError, receive_message, send_message
from ganstudio.inference.sandbox import ExecutorLimits, SandboxReport

log = logging.getLogger(__name__)
LOG_TAIL_BYTES = 8192
ZYGOTE_START_SECONDS = 300  # importing torch on a busy two-core machine can take a minute


class ExecutorError(RuntimeError):
    """An executor could not answer; the message says why, for a person."""


class ExecutorTimeoutError(ExecutorError):
    """The request ran past its deadline, and the executor was killed."""


class ExecutorCrashedError(ExecutorError):
    """The executor process ended (crashed, or was killed by a resource limit)."""


class ExecutorRefusedError(ExecutorError):
    """The executor answered with an error: the checkpoint or the network failed."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind  # "checkpoint", "render" or "network"


@dataclass(frozen=True)
class ExecutorSpec:
    """How executors are started: device, threads, limits, and whether they are sandboxed."""

    device: str = "cpu"
    threads: int = 1
    limits: ExecutorLimits = ExecutorLimits()  # noqa: RUF009 - frozen, so sharing is safe
    sandbox: bool = True


def child_environment(scratch: Path) -> dict[str, str]:
    """Return the whole environment of the zygote: nothing the server knows, no secrets."""
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(scratch),
        "TMPDIR": str(scratch),
        "CUDA_CACHE_DISABLE": "1",  # the JIT cache would be a write; writes are denied
    }
    for name in (
        "CUDA_VISIBLE_DEVICES",
        "NVIDIA_VISIBLE_DEVICES",
        "LD_LIBRARY_PATH",
        "OMP_WAIT_POLICY",  # an admin tuning torch's CPU threads
    ):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


class Zygote:
    """The process that forks executors; one per server process (see `zygote`)."""

    def __init__(self, *, sandbox: bool) -> None:
        self.sandbox = sandbox
        self.landlock_abi = 0
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._control: socket.socket | None = None
        self._scratch: tempfile.TemporaryDirectory | None = None

    def spawn(self, spec: ExecutorSpec) -> "Executor":
        """Fork a new executor with `spec`'s device, threads and limits."""
        with self._lock:
            for attempt in (1, 2):
                self._ensure_started()
                assert self._control is not None
                parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
                log_read, log_write = os.pipe()
                request = {
                    "device": spec.device,
                    "threads": spec.threads,
                    "limits": asdict(spec.limits),
                }
                try:
                    socket.send_fds(
                        self._control,
                        [json.dumps(request).encode()],
                        [child_sock.fileno(), log_write],
                    )
                    message, fds, _flags, _addr = socket.recv_fds(self._control, 4096, 1)
                    if not message:
                        raise PeerGoneError
                except (OSError, PeerGoneError):
                    parent_sock.close()
                    os.close(log_read)
                    self._stop()
                    if attempt == 2:
                        raise ExecutorCrashedError(
                            "The process that starts executors stopped; see the server log."
                        ) from None
                    continue
                finally:
                    child_sock.close()
                    os.close(log_write)
                pid = json.loads(message)["pid"]
                return Executor(parent_sock, log_read, pid, fds[0] if fds else None)
        raise AssertionError("unreachable")

    def _ensure_started(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        self._stop()
        self._scratch = tempfile.TemporaryDirectory(prefix="ganstudio-executor-")
        scratch = Path(self._scratch.name)
        control, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._process = subprocess.Popen(  # noqa: S603 - our own module, no shell
            [sys.executable, "-I", "-m", "ganstudio.inference.executor_child",
             str(child_end.fileno())],
            pass_fds=[child_end.fileno()],
            cwd=scratch,
            env=child_environment(scratch),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            close_fds=True,
            # Its own session: a terminal's Ctrl+C (or a kill of the server's process group)
            # is the server's to handle; the zygote ends when the server closes its socket.
            start_new_session=True,
        )  # fmt: skip
        child_end.close()
        control.send(json.dumps({"sandbox": self.sandbox}).encode())
        control.settimeout(ZYGOTE_START_SECONDS)
        try:
            hello = control.recv(4096)
        except TimeoutError:
            hello = b""
        control.settimeout(None)
        if not hello:
            self._process.kill()
            raise ExecutorCrashedError(
                "The executor process did not start (see the server log for its error)."
            )
        self.landlock_abi = int(json.loads(hello)["landlock_abi"])
        self._control = control
        log.info(
            "Executor zygote %s started (Landlock ABI %s)", self._process.pid, self.landlock_abi
        )

    def _stop(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def close(self) -> None:
        with self._lock:
            self._stop()


_zygotes: dict[bool, Zygote] = {}
_zygotes_lock = threading.Lock()


def zygote(*, sandbox: bool) -> Zygote:
    """Return this process's zygote (started on first use, shared by every worker and check)."""
    with _zygotes_lock:
        if sandbox not in _zygotes:
            _zygotes[sandbox] = Zygote(sandbox=sandbox)
        return _zygotes[sandbox]


class Executor:
    """One sandboxed child process holding (at most) one network."""

    def __init__(self, sock: socket.socket, log_fd: int, pid: int, pidfd: int | None) -> None:
        self.sock = sock
        self.pid = pid
        self._pidfd = pidfd
        self._log: deque[bytes] = deque()
        self._log_size = 0
        self._log_lock = threading.Lock()
        self._log_thread = threading.Thread(
            target=self._drain_log, args=(log_fd,), name=f"executor-{pid}-log", daemon=True
        )
        self._log_thread.start()
        self._close_lock = threading.Lock()  # close and kill may race (worker vs. shutdown)
        self._request_lock = threading.Lock()  # one request at a time on the socket
        self.alive = True
        self.requests = 0

    def request(
        self,
        header: dict[str, Any],
        payload: bytes = b"",
        *,
        timeout: float,
        max_payload: int = 0,
    ) -> tuple[dict[str, Any], bytes | bytearray]:
        """Send one request and wait for its answer; kill the executor past `timeout` seconds."""
        with self._request_lock:
            return self._request(header, payload, timeout=timeout, max_payload=max_payload)

    def _request(
        self, header: dict[str, Any], payload: bytes, *, timeout: float, max_payload: int
    ) -> tuple[dict[str, Any], bytes | bytearray]:
        if not self.alive:
            raise ExecutorCrashedError("This executor was stopped; start a new one.")
        deadline = time.monotonic() + timeout
        try:
            self.sock.settimeout(timeout)
            send_message(self.sock, header, payload)
            answer, data = receive_message(self.sock, max_payload=max_payload, deadline=deadline)
        except TimeoutError:
            self.kill()
            raise ExecutorTimeoutError(f"took longer than {timeout:.0f} s") from None
        except (PeerGoneError, OSError):  # EOF, a broken pipe, or a socket closed under us
            self.kill()
            raise ExecutorCrashedError(self._crash_message()) from None
        except ProtocolError as exc:
            self.kill()
            raise ExecutorCrashedError(f"The network's process sent garbage ({exc}).") from None
        self.requests += 1
        if "error" in answer:
            raise ExecutorRefusedError(str(answer["error"])[:2000], str(answer.get("kind", "")))
        return answer, data

    def _crash_message(self) -> str:
        time.sleep(0.05)  # let the log thread read the last lines the process wrote
        tail = self.log_tail().strip().splitlines()
        last = tail[-1][:300] if tail else "no output"
        return (
            "The network's process stopped unexpectedly (it crashed, or went over its memory "
            f"or CPU limit): {last}"
        )

    def log_tail(self) -> str:
        """Return the last lines the executor wrote to its stdout/stderr."""
        with self._log_lock:
            return b"".join(self._log).decode("utf-8", "replace")

    def _drain_log(self, fd: int) -> None:
        with os.fdopen(fd, "rb", buffering=0) as stream:
            while chunk := stream.read(4096):
                with self._log_lock:
                    self._log.append(chunk)
                    self._log_size += len(chunk)
                    while self._log_size > LOG_TAIL_BYTES and len(self._log) > 1:
                        self._log_size -= len(self._log.popleft())

    def kill(self) -> None:
        """Stop the process now (SIGKILL), whatever it is doing."""
        self._close(kill=True)

    def close(self) -> None:
        """Hang up: the executor sees end-of-file and exits."""
        self._close(kill=False)

    def _close(self, *, kill: bool) -> None:
        # Once, under a lock: closing a pidfd twice could close a number another thread has
        # since been given (a socket of a new executor).
        with self._close_lock:
            self.alive = False
            pidfd, self._pidfd = self._pidfd, None
            if pidfd is not None:
                if kill:
                    with contextlib.suppress(ProcessLookupError):
                        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                os.close(pidfd)
            self.sock.close()

    def selftest(self, canaries: list[Path], *, timeout: float = 60) -> SandboxReport:
        """Ask the executor to try reading `canaries`, writing, connecting and forking."""
        answer, _ = self.request(
            {"op": "selftest", "canaries": [str(p) for p in canaries]}, timeout=timeout
        )
        return SandboxReport(
            landlock_abi=int(answer.get("landlock_abi", 0)),
            seccomp=bool(answer.get("seccomp")),
            limits={str(k): int(v) for k, v in dict(answer.get("limits", {})).items()},
            checks={str(k): str(v) for k, v in dict(answer.get("checks", {})).items()},
            environment=[str(name) for name in answer.get("environment", [])],
            isolated_mode=bool(answer.get("isolated_mode")),
            cwd=str(answer.get("cwd", "")),
            device=str(answer.get("device", "")),
        )
