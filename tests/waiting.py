"""Waiting in tests: poll until something holds, within a bound; a free loopback port.

A bound here is how long a test waits for something to happen before it gives up, never a
timing claim: the project's tests assert no durations. Bounds are generous, so that a loaded
machine (CI) only makes a test wait longer, not fail.
"""

import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class GaveUp(AssertionError):
    """A wait ran past its bound, or what it waited on exited first: the test fails."""


def wait_for(
    predicate: Callable[[], T | None],
    what: str,
    *,
    seconds: float = 120,
    every: float = 0.05,
    process: "subprocess.Popen[Any] | None" = None,
    ignoring: tuple[type[Exception], ...] = (),
) -> T:
    """Call `predicate` every `every` s until it returns something truthy; return that.

    Past `seconds` it raises GaveUp, an AssertionError ("gave up waiting for {what} …"); `what`
    says what the test waits for ("the server to answer /healthz"). With `process` (one the
    wait depends on, e.g. a server being started) it fails at once, with the process's output,
    should that process exit first. Exceptions of the `ignoring` types from `predicate` count
    as "not yet" (e.g. a connection refused while a server starts); the last one is chained to
    the failure.
    """
    deadline = time.monotonic() + seconds  # a bound on a wait, not a timing claim
    last_error: Exception | None = None
    while True:
        if process is not None and process.poll() is not None:
            raise GaveUp(
                f"gave up waiting for {what}: the process exited ({process.returncode}) first"
                + _output_of(process)
            )
        try:
            value = predicate()
        except ignoring as error:
            last_error = error
        else:
            if value:
                return value
        if time.monotonic() >= deadline:
            raise GaveUp(f"gave up waiting for {what} (the bound: {seconds:g} s)") from last_error
        time.sleep(every)


def _output_of(process: "subprocess.Popen[Any]") -> str:
    """What an exited process wrote to its pipes (nothing where they were not pipes)."""
    parts = [part for part in process.communicate() if part]
    text = "".join(p.decode(errors="replace") if isinstance(p, bytes) else p for p in parts)
    return f":\n{text}" if text else ""


def job_done(
    api: Any,
    job: int | str,
    headers: Mapping[str, str] | None = None,
    *,
    seconds: float = 120,
    every: float = 0.2,
) -> dict[str, Any]:
    """Poll a job until its status is "done"; return the last answer (the resource's JSON).

    `api` is a TestClient or an httpx.Client; `job` a job id (polls /api/v1/jobs/{id}) or the
    URL of a resource that carries its job (a comparison, a web test: `{"job": {"status": …}}`).
    """
    url = f"/api/v1/jobs/{job}" if isinstance(job, int) else job
    last: dict[str, Any] = {}

    def done() -> dict[str, Any] | None:
        response = api.get(url, headers=headers)
        assert response.status_code == 200, (url, response.status_code, response.text)
        body = response.json()
        last["status"] = body.get("job", body)["status"]
        return body if last["status"] == "done" else None

    try:
        return wait_for(done, f"the job at {url} to be done", seconds=seconds, every=every)
    except GaveUp as gave_up:
        raise GaveUp(f"{gave_up}; its last status: {last.get('status')}") from None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a server a test is about to start)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
