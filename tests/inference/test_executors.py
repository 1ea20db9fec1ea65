"""Executors: what a pushed network can and cannot do from inside its process.

These tests load hostile TorchScript straight into an executor, past the static check the
worker runs first, so they show what the kernel sandbox itself stops.
"""

import contextlib
import io
import os
import sys
import time
from pathlib import Path

import pytest
import torch

from ganstudio.config import Settings
from ganstudio.inference.executor import (
    Executor,
    ExecutorRefusedError,
    ExecutorTimeoutError,
    Zygote,
    zygote,
)
from ganstudio.inference.networks import canaries, executor_spec
from ganstudio.inference.sandbox import landlock_abi
from tests import checkpoints as ck
from tests.conftest import make_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """An empty data dir (not conftest's copy of a migrated database): the self-tests check
    which of the files a data dir holds an executor may read, so each test makes its own."""
    return make_settings(tmp_path / "data")


def raw_executor(settings: Settings, archive: bytes) -> Executor:
    """An executor with `archive` loaded without the worker's checks (the sandbox alone)."""
    executor = zygote(sandbox=True).spawn(executor_spec(settings))
    executor.request({"op": "load", "architecture": None, "config": None}, archive, timeout=120)
    return executor


def render_probe(executor: Executor, *, timeout: float = 60) -> bytes:
    size = 8 * 8 * 3
    header = {"op": "render", "width": 8, "height": 8, "channels": 3}
    _, pixels = executor.request(header, bytes(size), timeout=timeout, max_payload=size)
    return pixels


def test_the_self_test_finds_data_reads_writes_network_and_processes_denied(
    settings: Settings, sandboxed: None
) -> None:
    assert len(settings.signing_key) >= 32  # creates <data dir>/secret_key
    executor = zygote(sandbox=True).spawn(executor_spec(settings))
    try:
        report = executor.selftest(canaries(settings))
    finally:
        executor.close()
    assert report.checks == {
        "read data file: secret_key": "denied",
        "write file": "denied",
        "network": "denied",
        "new process": "denied",
    }
    assert report.active and report.landlock_abi >= 1 and report.seccomp
    assert report.limits["file_size_bytes"] == 0 and report.limits["open_files"] > 0


WRITERS = (ck.WritesFile, ck.CreatesFile)


def test_a_network_cannot_write_a_file(tmp_path: Path, settings: Settings, sandboxed: None) -> None:
    for writer in WRITERS:
        target = tmp_path / f"{writer.__name__}.py"
        executor = raw_executor(settings, ck.scripted_bytes(writer(str(target))))
        try:
            with contextlib.suppress(ExecutorRefusedError):  # failing is fine; writing is not
                render_probe(executor)
        finally:
            executor.close()
        assert not target.exists(), f"{writer.__name__} wrote {target}"


def test_the_same_networks_do_write_outside_an_executor(tmp_path: Path) -> None:
    """The control: run in this (unsandboxed) process, each writer really writes."""
    for writer in WRITERS:
        target = tmp_path / f"{writer.__name__}.py"
        net = torch.jit.load(io.BytesIO(ck.scripted_bytes(writer(str(target)))))
        net(torch.zeros(1, 3, 8, 8))
        assert target.exists(), f"{writer.__name__} is not a real test: it wrote nothing"


def test_a_network_cannot_read_the_secret_key(settings: Settings, sandboxed: None) -> None:
    secret = settings.signing_key
    key_file = settings.resolved_data_dir / "secret_key"
    executor = raw_executor(settings, ck.scripted_bytes(ck.ReadsFile(str(key_file))))
    try:
        with pytest.raises(ExecutorRefusedError) as refused:
            render_probe(executor)
        assert secret not in str(refused.value) and secret not in executor.log_tail()
    finally:
        executor.close()
    with pytest.raises(ExecutorRefusedError) as at_load:
        raw_executor(settings, ck.scripted_bytes(ck.ReadsAtLoad(str(key_file))))
    assert secret not in str(at_load.value)


def test_the_same_network_reads_what_the_sandbox_allows(settings: Settings) -> None:
    """The control for the two tests above: the networks work; only the target differs."""
    allowed = Path(torch.__file__)  # inside Python's prefix, which executors may read
    executor = raw_executor(settings, ck.scripted_bytes(ck.ReadsFile(str(allowed))))
    try:
        assert len(render_probe(executor)) == 8 * 8 * 3
    finally:
        executor.close()


def test_a_request_past_its_deadline_kills_the_executor(settings: Settings) -> None:
    executor = raw_executor(settings, ck.scripted_bytes(ck.Slow()))
    with pytest.raises(ExecutorTimeoutError):
        render_probe(executor, timeout=1)
    assert not executor.alive
    for _ in range(100):  # SIGKILL is delivered asynchronously
        try:
            os.kill(executor.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"executor {executor.pid} is still alive after its deadline")


def test_executors_get_no_secrets_and_nothing_from_the_servers_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "imported"
    server_dir = tmp_path / "server"
    server_dir.mkdir()
    for module in ("json.py", "numpy.py", "sitecustomize.py"):  # the attack that ran as the server
        (server_dir / module).write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    monkeypatch.chdir(server_dir)
    monkeypatch.setenv("GANSTUDIO_SECRET_KEY", "k" * 48)
    monkeypatch.setenv("GANSTUDIO_DATABASE_URL", "postgresql://user:password@db/ganstudio")
    monkeypatch.setenv("PYTHONPATH", str(server_dir))
    settings = make_settings(tmp_path / "data")
    fresh = Zygote(sandbox=landlock_abi() > 0)  # started here, with this environment
    try:
        executor = fresh.spawn(executor_spec(settings))
        report = executor.selftest([])
        executor.close()
    finally:
        fresh.close()
    assert not marker.exists()
    assert not [name for name in report.environment if name.startswith(("GANSTUDIO", "PYTHON"))]
    assert report.isolated_mode
    assert Path(report.cwd) != server_dir and not Path(report.cwd).is_relative_to(tmp_path)
    assert sys.flags.isolated == 0  # the tests themselves run normally


def test_with_no_key_or_database_file_the_data_folder_itself_is_the_canary(
    settings: Settings, sandboxed: None
) -> None:
    settings.resolved_data_dir.mkdir(parents=True)  # a key from the environment, a db server
    assert canaries(settings) == [settings.resolved_data_dir]
    executor = zygote(sandbox=True).spawn(executor_spec(settings))
    try:
        report = executor.selftest(canaries(settings))
    finally:
        executor.close()
    assert report.checks["read data file: data"] == "denied" and report.active


SECCOMP_TSYNC_PROBE = """
import socket, threading
from ganstudio.inference import sandbox

started, go, result = threading.Event(), threading.Event(), []

def other_thread():
    started.set()
    go.wait()
    try:
        socket.socket().close()
        result.append("socket made")
    except PermissionError:
        result.append("denied")

thread = threading.Thread(target=other_thread)
thread.start()
started.wait()
assert sandbox.forbid_processes_and_sockets()
go.set()
thread.join()
print(result[0])
"""


def test_the_seccomp_filter_binds_threads_that_were_running_before_it(sandboxed: None) -> None:
    """A GPU executor opens CUDA (which starts driver threads) before it confines itself."""
    import subprocess

    answer = subprocess.run(
        [sys.executable, "-c", SECCOMP_TSYNC_PROBE], capture_output=True, text=True, timeout=60
    )
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == "denied"


def test_executors_run_below_the_web_servers_priority(settings: Settings) -> None:
    """A render must not take the CPU from page loads on a machine it shares with the server."""
    from ganstudio.inference.executor_child import EXECUTOR_NICENESS

    executor = raw_executor(settings, ck.scripted_bytes(ck.Solid((0.1, 0.2, 0.3))))
    try:
        render_probe(executor)  # it is serving
        here = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, executor.pid) == min(here + EXECUTOR_NICENESS, 19)
    finally:
        executor.close()


def test_a_network_runs_on_the_threads_it_is_given(tmp_path: Path) -> None:
    """GANSTUDIO_TORCH_THREADS splits a machine's cores between its workers (0: all of them);
    the executor sets torch's threads from the spec (executor_child)."""
    assert executor_spec(make_settings(tmp_path)).threads == max(1, os.cpu_count() or 1)
    assert executor_spec(make_settings(tmp_path, torch_threads=1)).threads == 1
